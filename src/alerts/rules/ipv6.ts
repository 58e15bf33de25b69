/**
 * ipv6: IPv6 broken while IPv4 works (diagnosis/diagnose.ts `ipv6Broken`: every source pinned to IPv6
 * failed while one pinned to IPv4 answered) in `cycles` of the last `of` cycles. Only cycles that tell
 * count: one where an IPv6 source answered counts as working, one where IPv4 failed too (the link is
 * down: link_down's business) or where the IPv6 probes failed on wmn's own fault counts neither way.
 * Without a source pinned to IPv6 (`#ipv6`) the rule never fires.
 */
import { listOf, sourceLabel } from '../../diagnosis/describe.js';
import { ipv6Broken } from '../../diagnosis/diagnose.js';
import type { CycleResult } from '../../store/types.js';
import { countingRule, type Mark, type Tally } from './counting.js';
import { classes, lasting, since, span } from './text.js';
import type { Rule } from './types.js';

/** Sources named per side at most: the tally is saved with the condition. */
const MAX_NAMED = 100;

/** The sources of a broken cycle: the IPv6 ones that failed, the IPv4 ones that answered. */
export interface Sides {
  readonly failed: string[];
  readonly answered: string[];
}

const sidesTally: Tally<Sides, Sides> = {
  empty: () => ({ failed: [], answered: [] }),
  add(tally, facts) {
    for (const side of ['failed', 'answered'] as const) {
      for (const uri of facts[side])
        if (!tally[side].includes(uri) && tally[side].length < MAX_NAMED) tally[side].push(uri);
    }
  },
  restore(saved) {
    const s = saved as Partial<Sides> | null | undefined;
    const uris = (list: unknown) =>
      Array.isArray(list) ? list.filter((u): u is string => typeof u === 'string').slice(0, MAX_NAMED) : null;
    const [failed, answered] = [uris(s?.failed), uris(s?.answered)];
    return failed === null || answered === null ? null : { failed, answered };
  },
  details: (tally) => ({
    failed: tally?.failed.join(',') ?? null,
    answered: tally?.answered.join(',') ?? null,
  }),
};

const isV6 = (r: CycleResult) => r.source.endsWith('#ipv6');
const isV4 = (r: CycleResult) => r.source.endsWith('#ipv4');

export function ipv6Rule(config: { cycles: number; of: number }, saved?: unknown): Rule {
  // Whether the cycle being judged probed IPv6 at all, for the words of a condition it ends.
  let probing = true;
  const names = (uris: readonly string[]) => listOf(uris.map(sourceLabel));
  return countingRule({
    kind: 'ipv6',
    ...config,
    marksOf: (cycle, intervalMs) => {
      const v6 = cycle.results.filter(isV6);
      probing = v6.length > 0;
      const ts = cycle.ts.getTime();
      const mark = (bad: boolean, errors: string[] = []): Mark<Sides> => ({
        probeId: cycle.probeId,
        ts,
        end: ts + intervalMs,
        bad,
        errors,
      });
      if (cycle.results.length === 0) return new Map();
      const known = v6.filter((r) => r.error !== 'internal');
      if (!probing || known.some((r) => !r.disconnected)) return new Map([[null, mark(false)]]);
      if (!ipv6Broken(cycle.results)) return new Map();
      const facts = {
        failed: known.map((r) => r.source),
        answered: cycle.results.filter((r) => isV4(r) && !r.disconnected).map((r) => r.source),
      };
      const errors = [...new Set(known.map((r) => r.error ?? 'unknown'))].sort();
      return new Map([[null, { ...mark(true, errors), facts }]]);
    },
    forgetsAbsent: false,
    names: { bad: 'broken_cycles', goodBetween: 'working_cycles_between' },
    tally: sidesTally,
    saved,
    words: {
      firing: (_, e, w, now) => {
        const sides = e.tally ?? sidesTally.empty();
        return `IPv6 broken since ${since(e.startedAtMs, now)}: ${names(sides.failed)} failed in ${w.bad} of the last ${w.of} cycles while ${names(sides.answered)} answered${classes(e.errors)}`;
      },
      resolved: (_, e) =>
        probing
          ? `IPv6 working again: broken ${span(e.startedAtMs, e.endedAtMs)}, ${lasting(e.startedAtMs, e.endedAtMs)}${classes(e.errors)}`
          : `IPv6 no longer probed (no source is pinned to it now); it was broken since ${since(e.startedAtMs, e.endedAtMs)}`,
      reminder: (_, e, now) =>
        `IPv6 still broken since ${since(e.startedAtMs, now)}, ${lasting(e.startedAtMs, now)} so far${classes(e.errors)}`,
      gone: (_, e) => `IPv6 monitoring changed; IPv6 was broken since ${since(e.startedAtMs, e.endedAtMs)}`,
    },
  });
}
