/**
 * What holds for every result of every prober, whatever the kind of source (src/probes/types.ts and
 * the data contract), and the shared checks each prober's suite runs: the contract on every result,
 * the outcome helpers, and the abort case (a stopping agent must get a row back promptly, never a throw).
 */
import assert from 'node:assert/strict';
import type { ProbeResult } from '../../src/probes/types.js';

/** Asserts the data contract on one result of probing `uri`. */
export function assertContract(r: ProbeResult, uri: string): void {
  const at = `${uri}: ${JSON.stringify(r)}`;
  assert.equal(r.source, uri, at);
  if (r.disconnected) {
    assert.equal(r.status, null, `no answer, no status: ${at}`);
    assert.notEqual(r.error, null, `no answer without an error class: ${at}`);
    assert.equal(r.ttfbMs, null, `no first byte without an answer: ${at}`);
  }
  for (const [name, value] of Object.entries({
    dns: r.dnsMs,
    connect: r.connectMs,
    tls: r.tlsMs,
    ttfb: r.ttfbMs,
  })) {
    if (value !== null)
      assert.ok(Number.isFinite(value) && value > 0, `${name} is null or > 0, never 0: ${at}`);
  }
  assert.ok(Number.isFinite(r.totalMs) && r.totalMs > 0, `total is always set: ${at}`);
  if (r.ttfbMs !== null) {
    assert.ok(r.ttfbMs >= phaseSum(r) - 0.01, `ttfb runs from the start, so covers the phases: ${at}`);
    assert.ok(r.totalMs >= r.ttfbMs - 0.01, `total covers ttfb: ${at}`);
  }
  for (const sample of r.samplesMs ?? []) {
    if (sample !== null) assert.ok(Number.isFinite(sample) && sample > 0, `samples are > 0: ${at}`);
  }
  if (r.samplesMs !== undefined) {
    const replies = r.samplesMs.filter((s) => s !== null).length;
    assert.equal(r.disconnected, replies === 0, `disconnected exactly when no sample came back: ${at}`);
  }
  if (r.certExpiresAt !== undefined) assert.ok(Number.isInteger(r.certExpiresAt), `unix seconds: ${at}`);
}

/** dns + connect + tls, a phase that did not happen counting 0. */
export function phaseSum(r: ProbeResult): number {
  return (r.dnsMs ?? 0) + (r.connectMs ?? 0) + (r.tlsMs ?? 0);
}

export function outcome(r: ProbeResult): Pick<ProbeResult, 'disconnected' | 'status' | 'error'> {
  return { disconnected: r.disconnected, status: r.status, error: r.error };
}

export function assertFailed(r: ProbeResult, error: ProbeResult['error']): void {
  assert.deepEqual(outcome(r), { disconnected: true, status: null, error }, JSON.stringify(r));
}

/** An answer without an error; `status` is the HTTP status, null for the other kinds. */
export function assertOk(r: ProbeResult, status: number | null = 200): void {
  assert.deepEqual(outcome(r), { disconnected: false, status, error: null }, JSON.stringify(r));
}

/**
 * Starts a probe with `start(signal)` against a target that never answers, aborts it after `afterMs`,
 * and asserts it settles as a failed row within `withinMs` of the abort (and never rejects).
 */
export async function assertSettlesOnAbort(
  start: (signal: AbortSignal) => Promise<ProbeResult>,
  uri: string,
  afterMs = 100,
  withinMs = 500,
): Promise<ProbeResult> {
  const abort = new AbortController();
  const probe = start(abort.signal);
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  const aborted = performance.now();
  abort.abort();
  const result = await probe;
  const settled = performance.now() - aborted;
  assertContract(result, uri);
  assert.equal(result.disconnected, true, JSON.stringify(result));
  assert.ok(settled < withinMs, `settled ${settled.toFixed(0)} ms after the abort`);
  return result;
}
