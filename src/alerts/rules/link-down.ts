/**
 * link_down: the link is DOWN in `cycles` of the last `of` cycles. A cycle is DOWN when every source
 * failed (no response at all), as wmn_cycles.down says. The recovery notice states the outage window to
 * the second: from the ts of its first DOWN cycle to the end (ts + interval) of its last, which is
 * exactly the wmn_outages row when the episode is one unbroken run of DOWN cycles (details
 * up_cycles_between = 0); a flapping episode spans several such rows and says how many UP cycles it
 * held.
 */
import type { CycleRecord } from '../../store/types.js';
import { countingRule, type Mark } from './counting.js';
import { classes, lasting, since, span } from './text.js';
import type { Rule } from './types.js';

export function linkDownRule(config: { cycles: number; of: number }, saved?: unknown): Rule {
  return countingRule({
    kind: 'link_down',
    ...config,
    marksOf: (cycle, intervalMs) => {
      const mark = linkMark(cycle, intervalMs);
      return new Map(mark ? [[null, mark]] : []);
    },
    forgetsAbsent: false,
    names: { bad: 'down_cycles', goodBetween: 'up_cycles_between' },
    saved,
    words: {
      firing: (_, e, w, now) =>
        `link DOWN since ${since(e.startedAtMs, now)}: every source failed in ${w.bad} of the last ${w.of} cycles${classes(e.errors)}`,
      resolved: (_, e) =>
        `link UP: offline ${span(e.startedAtMs, e.endedAtMs)}, ${lasting(e.startedAtMs, e.endedAtMs)}${classes(e.errors)}${flapping(e.good)}`,
      reminder: (_, e, now) =>
        `link still DOWN since ${since(e.startedAtMs, now)}, ${lasting(e.startedAtMs, now)} so far${classes(e.errors)}`,
      gone: (_, e) => `link monitoring changed; the link was DOWN since ${since(e.startedAtMs, e.endedAtMs)}`,
    },
  });
}

/** The cycle as link_down counts it, or null for a cycle with no results. */
export function linkMark(cycle: CycleRecord, intervalMs: number): Mark | null {
  if (cycle.results.length === 0) return null;
  const down = cycle.results.every((r) => r.disconnected);
  const errors = down ? [...new Set(cycle.results.map((r) => r.error ?? 'unknown'))].sort() : [];
  const ts = cycle.ts.getTime();
  return { probeId: cycle.probeId, ts, end: ts + intervalMs, bad: down, errors };
}

function flapping(good: number): string {
  return good === 0 ? '' : `; UP in ${good} cycle${good === 1 ? '' : 's'} between`;
}
