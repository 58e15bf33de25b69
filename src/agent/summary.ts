/** The one info line per cycle: state, sources up/down with failure classes, the slowest phase. */

import { cycleDiagnosis } from '../diagnosis/cycle.js';
import { describeDiagnosis } from '../diagnosis/describe.js';
import { isDown } from '../diagnosis/diagnose.js';
import type { LogFields } from '../log.js';
import type { ProbeResult } from '../probes/types.js';
import type { CycleRecord } from '../store/types.js';

const PHASES = [
  ['dns', (r: ProbeResult) => r.dnsMs],
  ['connect', (r: ProbeResult) => r.connectMs],
  ['tls', (r: ProbeResult) => r.tlsMs],
  ['wait', (r: ProbeResult) => waitMs(r)],
  ['transfer', (r: ProbeResult) => (r.ttfbMs === null ? null : r.totalMs - r.ttfbMs)],
] as const;

/** Server processing time: first byte minus the connection set-up phases. */
export function waitMs(r: ProbeResult): number | null {
  if (r.ttfbMs === null) return null;
  return r.ttfbMs - (r.dnsMs ?? 0) - (r.connectMs ?? 0) - (r.tlsMs ?? 0);
}

export function cycleSummary(cycle: CycleRecord): LogFields {
  const up = cycle.results.filter((r) => !r.disconnected);
  const diagnosis = cycleDiagnosis(cycle);
  const failed = cycle.results.filter((r) => r.error !== null);
  const slowest = up.reduce<ProbeResult | null>((a, r) => (a && a.totalMs >= r.totalMs ? a : r), null);
  return {
    probe_id: cycle.probeId,
    state: isDown(cycle.results) ? 'DOWN' : 'UP',
    diagnosis: diagnosis.kind === 'ok' ? undefined : describeDiagnosis(diagnosis),
    up: up.length,
    down: cycle.results.length - up.length,
    failed: failed.length > 0 ? failed.map(failureText).join(', ') : undefined,
    slowest: slowest ? `${slowest.source} ${fmtMs(slowest.totalMs)} (${slowestPhase(slowest)})` : undefined,
  };
}

/**
 * `source class`; for wmn's own failures (`internal`) with the engine's detail, since only the user
 * can fix them and the row does not say how ("fping is not installed (apt install fping)").
 */
function failureText(r: ProbeResult): string {
  return r.error === 'internal' && r.detail ? `${r.source} internal (${r.detail})` : `${r.source} ${r.error}`;
}

function slowestPhase(r: ProbeResult): string {
  let best: [string, number] = ['total', r.totalMs];
  let bestValue = -1;
  for (const [name, get] of PHASES) {
    const v = get(r);
    if (v !== null && v > bestValue) {
      bestValue = v;
      best = [name, v];
    }
  }
  return `${best[0]} ${fmtMs(best[1])}`;
}

export function fmtMs(ms: number): string {
  return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms)}ms`;
}
