/**
 * One probe cycle: every source probed in its own task at the same tick, gathered into one record.
 * A prober that throws (a bug, never a network failure) still yields a row, classed `internal`, so a
 * cycle always has exactly one row per source.
 */
import type { SourceConfig } from '../config/types.js';
import type { Engine, ProbeContext, ProbeResult, Prober } from '../probes/types.js';
import type { Tick } from '../scheduler/scheduler.js';
import type { CycleRecord } from '../store/types.js';

export type ProberRegistry = Readonly<Record<Engine, Prober>>;

export async function runCycle(
  agent: string,
  tick: Tick,
  sources: readonly SourceConfig[],
  probers: ProberRegistry,
  ctx: ProbeContext,
): Promise<CycleRecord> {
  const results = await Promise.all(sources.map((s) => probeSafely(s, probers, ctx)));
  return { agent, probeId: tick.probeId, ts: new Date(tick.scheduledAt), results };
}

async function probeSafely(
  s: SourceConfig,
  probers: ProberRegistry,
  ctx: ProbeContext,
): Promise<ProbeResult> {
  const started = ctx.clock.now();
  try {
    return await probers[s.engine](s.source, s.options, ctx);
  } catch (err) {
    return {
      source: s.source.uri,
      disconnected: true,
      status: null,
      error: 'internal',
      dnsMs: null,
      connectMs: null,
      tlsMs: null,
      ttfbMs: null,
      totalMs: ctx.clock.now() - started,
      remoteIp: null,
      detail: err instanceof Error ? err.message : String(err),
    };
  }
}
