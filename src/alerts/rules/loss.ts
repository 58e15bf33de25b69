/**
 * loss: failed probes / probes over a sliding window, every source of the agent together, above a
 * percentage. A failed probe is one with no response at all (`disconnected`), as wmn_loss counts it.
 */
import { lasting, percent, since, span, windowText } from './text.js';
import { type Level, round, thresholdRule } from './threshold.js';
import type { Rule } from './types.js';

export interface LossConfig {
  readonly abovePct: number;
  readonly windowMs: number;
}

interface Bucket {
  readonly ts: number;
  readonly probes: number;
  readonly failed: number;
}

export function lossRule(config: LossConfig, saved?: unknown): Rule {
  const { abovePct, windowMs } = config;
  /** One bucket per cycle, in ts order; at most one window of them. */
  const buckets: Bucket[] = [];
  let probes = 0;
  let failed = 0;
  const over = `over the last ${windowText(windowMs)}`;
  const failedOf = (level: Level) =>
    `${Math.round((level.value / 100) * level.samples)} of ${level.samples} probes failed`;
  return thresholdRule({
    kind: 'loss',
    windowMs,
    limit: abovePct,
    subjectsOf: (cycle) => (cycle.results.length === 0 ? [] : [null]),
    measure: (cycle) => {
      if (cycle.results.length === 0) return new Map();
      const ts = cycle.ts.getTime();
      const bucket = {
        ts,
        probes: cycle.results.length,
        failed: cycle.results.filter((r) => r.disconnected).length,
      };
      let i = buckets.length;
      while (i > 0 && (buckets[i - 1] as Bucket).ts > ts) i--;
      buckets.splice(i, 0, bucket);
      probes += bucket.probes;
      failed += bucket.failed;
      const cutoff = (buckets.at(-1) as Bucket).ts - windowMs;
      while (buckets.length > 0 && (buckets[0] as Bucket).ts <= cutoff) {
        const old = buckets.shift() as Bucket;
        probes -= old.probes;
        failed -= old.failed;
      }
      return new Map([[null, { value: (100 * failed) / probes, samples: probes }]]);
    },
    details: (level) => ({
      loss_pct: round(level.value),
      above_pct: abovePct,
      window_s: windowMs / 1000,
      probes: level.samples,
    }),
    saved,
    words: {
      firing: (_, level) =>
        `loss ${percent(level.value)} ${over}, above ${percent(abovePct)}: ${failedOf(level)}`,
      resolved: (_, e, level) =>
        `loss ${percent(level.value)} ${over}; it was above ${percent(abovePct)} ${span(e.startedAtMs, e.endedAtMs)}, ${lasting(e.startedAtMs, e.endedAtMs)}`,
      reminder: (_, e, now) =>
        `loss still high since ${since(e.startedAtMs, now)}: ${percent(e.last.value)} ${over}, above ${percent(abovePct)}`,
      gone: (_, e) => `loss no longer measured; it was high since ${since(e.startedAtMs, e.endedAtMs)}`,
    },
  });
}
