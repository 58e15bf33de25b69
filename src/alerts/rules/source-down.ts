/**
 * source_down: one source failed (no response at all: `disconnected`, as loss counts it) in `cycles` of
 * its last `of` probes. An HTTP error status is a response, not a failure. A source removed from the
 * configuration while failing ends its condition with a notice saying so.
 */
import { countingRule, type Mark } from './counting.js';
import { classes, lasting, since, span } from './text.js';
import type { Rule } from './types.js';

export function sourceDownRule(config: { cycles: number; of: number }, saved?: unknown): Rule {
  return countingRule({
    kind: 'source_down',
    ...config,
    marksOf: (cycle, intervalMs) => {
      const ts = cycle.ts.getTime();
      const marks = new Map<string | null, Mark>();
      for (const r of cycle.results) {
        const errors = r.disconnected ? [r.error] : [];
        marks.set(r.source, {
          probeId: cycle.probeId,
          ts,
          end: ts + intervalMs,
          bad: r.disconnected,
          errors,
        });
      }
      return marks;
    },
    forgetsAbsent: true,
    names: { bad: 'failed_probes', goodBetween: 'ok_probes_between' },
    saved,
    words: {
      firing: (s, e, w, now) =>
        `${s} DOWN since ${since(e.startedAtMs, now)}: ${w.bad} of its last ${w.of} probes failed${classes(e.errors)}`,
      resolved: (s, e) =>
        `${s} UP: failing ${span(e.startedAtMs, e.endedAtMs)}, ${lasting(e.startedAtMs, e.endedAtMs)}${classes(e.errors)}`,
      reminder: (s, e, now) =>
        `${s} still DOWN since ${since(e.startedAtMs, now)}, ${lasting(e.startedAtMs, now)} so far${classes(e.errors)}`,
      gone: (s, e) =>
        `${s} no longer probed (removed from the configuration); it was failing since ${since(e.startedAtMs, e.endedAtMs)}`,
    },
  });
}
