/**
 * link_down: the link is DOWN in `cycles` of the last `of` cycles. A cycle is DOWN when every source
 * failed (no response at all), as wmn_cycles.down says. The recovery notice states the outage window to
 * the second: from the ts of its first DOWN cycle to the end (ts + interval) of its last, which is
 * exactly the wmn_outages row when the episode is one unbroken run of DOWN cycles (details
 * up_cycles_between = 0); a flapping episode spans several such rows and says how many UP cycles it
 * held.
 *
 * Each notice says where the link broke: the outage's most frequent cycle diagnosis, with the evidence of
 * its DOWN cycles ("ISP (gateway answered, 1.1.1.1 did not)"; outage-diagnosis.ts). Without a source
 * that can tell (no gateway: the diagnosis is `down`) it names the failure classes instead.
 */

import { cycleDiagnosis } from '../../diagnosis/cycle.js';
import { isDown } from '../../diagnosis/diagnose.js';
import type { CycleRecord } from '../../store/types.js';
import { countingRule, type Episode, type Mark } from './counting.js';
import {
  type CycleFacts,
  cycleFacts,
  type OutageTally,
  outageDiagnosis,
  outageTally,
} from './outage-diagnosis.js';
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
    tally: outageTally,
    saved,
    words: {
      firing: (_, e, w, now) => {
        const where = located(e);
        return where === null
          ? `link DOWN since ${since(e.startedAtMs, now)}: every source failed in ${w.bad} of the last ${w.of} cycles${classes(e.errors)}`
          : `link DOWN since ${since(e.startedAtMs, now)}: ${where}; DOWN in ${w.bad} of the last ${w.of} cycles`;
      },
      resolved: (_, e) =>
        `link UP: offline ${span(e.startedAtMs, e.endedAtMs)}, ${lasting(e.startedAtMs, e.endedAtMs)}${cause(e)}${flapping(e.good)}`,
      reminder: (_, e, now) =>
        `link still DOWN since ${since(e.startedAtMs, now)}, ${lasting(e.startedAtMs, now)} so far${cause(e)}`,
      gone: (_, e) => `link monitoring changed; the link was DOWN since ${since(e.startedAtMs, e.endedAtMs)}`,
    },
  });
}

/** The cycle as link_down counts it, or null for a cycle with no results. */
export function linkMark(cycle: CycleRecord, intervalMs: number): Mark<CycleFacts> | null {
  if (cycle.results.length === 0) return null;
  const down = isDown(cycle.results);
  // Of the failed results only: a gateway that answered has no failure class to add.
  const failed = cycle.results.filter((r) => r.disconnected);
  const errors = down ? [...new Set(failed.map((r) => r.error ?? 'unknown'))].sort() : [];
  const ts = cycle.ts.getTime();
  const mark = { probeId: cycle.probeId, ts, end: ts + intervalMs, bad: down, errors };
  return down ? { ...mark, facts: cycleFacts(cycleDiagnosis(cycle).kind, cycle.results) } : mark;
}

/**
 * Where the link broke, in words, when the evidence can say: null for `down` (every source failed and
 * none tells the LAN from the ISP, which the notice says already) or before any diagnosis.
 */
function located(e: Episode<OutageTally>): string | null {
  const diagnosis = e.tally === null ? null : outageDiagnosis(e.tally);
  return diagnosis === null || diagnosis.kind === 'down' ? null : diagnosis.text;
}

/** ", ISP (gateway answered, 1.1.1.1 did not)", or the failure classes when no diagnosis locates it. */
function cause(e: Episode<OutageTally>): string {
  const where = located(e);
  return where === null ? classes(e.errors) : `, ${where}`;
}

function flapping(good: number): string {
  return good === 0 ? '' : `; UP in ${good} cycle${good === 1 ? '' : 's'} between`;
}
