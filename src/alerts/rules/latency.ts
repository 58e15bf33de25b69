/**
 * latency: a phase's p95 over a sliding window, per source, above a threshold. The p95 is exact over the
 * window's samples (nearest rank, as wmn_phase_summary ranks), from every probe where the phase has a
 * value: a timed-out probe's total counts, a phase that did not happen does not.
 */
import type { LATENCY_PHASES } from '../../config/alerts-schema.js';
import type { ProbeResult } from '../../probes/types.js';
import { SampleWindow } from './samples.js';
import { lasting, millis, since, span, windowText } from './text.js';
import { type Level, round, thresholdRule } from './threshold.js';
import type { Rule } from './types.js';

type Phase = (typeof LATENCY_PHASES)[number];

const PHASE_FIELD = {
  dns: 'dnsMs',
  connect: 'connectMs',
  tls: 'tlsMs',
  ttfb: 'ttfbMs',
  total: 'totalMs',
} as const satisfies Record<Phase, keyof ProbeResult>;

export interface LatencyConfig {
  readonly phase: Phase;
  readonly thresholdMs: number;
  readonly windowMs: number;
}

export function latencyRule(config: LatencyConfig, saved?: unknown): Rule {
  const { phase, thresholdMs, windowMs } = config;
  const windows = new Map<string, SampleWindow>();
  const over = `over the last ${windowText(windowMs)}`;
  const p95 = (level: Level) => `${phase} p95 ${millis(level.value)} ${over}`;
  return thresholdRule({
    kind: 'latency',
    windowMs,
    limit: thresholdMs,
    subjectsOf: (cycle) => cycle.results.map((r) => r.source),
    measure: (cycle, intervalMs) => {
      const ts = cycle.ts.getTime();
      const levels = new Map<string | null, Level>();
      const present = new Set(cycle.results.map((r) => r.source));
      for (const source of windows.keys()) if (!present.has(source)) windows.delete(source);
      for (const r of cycle.results) {
        const window = windows.get(r.source) ?? new SampleWindow(2 * Math.ceil(windowMs / intervalMs) + 16);
        windows.set(r.source, window);
        const value = r[PHASE_FIELD[phase]];
        if (value !== null) window.add(ts, value);
        window.expire(ts - windowMs);
        const p = window.percentile(95);
        if (p !== null) levels.set(r.source, { value: p, samples: window.size });
      }
      return levels;
    },
    details: (level) => ({
      phase,
      p95_ms: round(level.value),
      threshold_ms: thresholdMs,
      window_s: windowMs / 1000,
      samples: level.samples,
    }),
    saved,
    words: {
      firing: (s, level) => `latency high on ${s}: ${p95(level)}, above ${millis(thresholdMs)}`,
      resolved: (s, e, level) =>
        `latency normal on ${s}: ${p95(level)}; it was above ${millis(thresholdMs)} ${span(e.startedAtMs, e.endedAtMs)}, ${lasting(e.startedAtMs, e.endedAtMs)}`,
      reminder: (s, e, now) =>
        `latency still high on ${s} since ${since(e.startedAtMs, now)}: ${p95(e.last)}, above ${millis(thresholdMs)}`,
      gone: (s, e) =>
        `${s} no longer probed (removed from the configuration); its latency was high since ${since(e.startedAtMs, e.endedAtMs)}`,
    },
  });
}
