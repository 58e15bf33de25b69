/**
 * Per-source metrics, fed by every finished cycle: the latest probe under blackbox_exporter's names, and
 * distributions and failure counts of wmn's own. The `source` label only ever holds a configured source
 * URI: results of a source a reload removed are ignored, and its series vanish.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ERROR_CLASSES, type ProbeResult } from '../probes/types.js';
import type { CycleRecord } from '../store/types.js';
import { httpPhases, PHASES } from './phases.js';

/** Seconds; from a cached DNS answer or a LAN hop (~0.1 ms) to a probe's timeout. */
export const PHASE_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

export interface SourceMetrics {
  /** Counts one finished cycle; the latest-probe gauges follow the newest cycle (by probe_id). */
  observe(cycle: CycleRecord): void;
  /** Matches the series to the configured sources: new ones start at zero, removed ones vanish. */
  sync(sources: readonly string[]): void;
}

export function sourceMetrics(registry: Registry): SourceMetrics {
  const registers = [registry];
  const success = new Gauge({
    name: 'probe_success',
    help: 'Whether the latest probe of the source got a response (1) or none at all (0), as in a DOWN cycle.',
    labelNames: ['source'],
    registers,
  });
  const status = new Gauge({
    name: 'probe_http_status_code',
    help: 'HTTP status of the latest probe of the source; absent when it got no response.',
    labelNames: ['source'],
    registers,
  });
  const phase = new Gauge({
    name: 'probe_http_duration_seconds',
    help: 'Duration of the latest HTTP probe by phase, summed over redirects; a phase that did not happen is absent.',
    labelNames: ['source', 'phase'],
    registers,
  });
  const total = new Gauge({
    name: 'probe_duration_seconds',
    help: 'How long the latest probe of the source took, to its end or its deadline.',
    labelNames: ['source'],
    registers,
  });
  const phases = new Histogram({
    name: 'wmn_probe_phase_seconds',
    help: 'Distribution of the HTTP probe phases (blackbox_exporter names) that happened.',
    labelNames: ['source', 'phase'],
    buckets: PHASE_BUCKETS,
    registers,
  });
  const responses = new Histogram({
    name: 'wmn_probe_duration_seconds',
    help: 'Distribution of the total duration of probes that got a response.',
    labelNames: ['source'],
    buckets: PHASE_BUCKETS,
    registers,
  });
  const failures = new Counter({
    name: 'wmn_probe_failures_total',
    help: 'Probes that failed, by failure class (the error column).',
    labelNames: ['source', 'error'],
    registers,
  });

  const configured = new Set<string>();
  /** probe_id of the cycle the latest-probe gauges show, per source. */
  const shown = new Map<string, number>();

  const showLatest = (source: string, r: ProbeResult) => {
    success.set({ source }, r.disconnected ? 0 : 1);
    if (r.status === null) status.remove({ source });
    else status.set({ source }, r.status);
    total.set({ source }, r.totalMs / 1000);
    const measured = new Map(httpPhases(r));
    for (const name of PHASES) {
      const seconds = measured.get(name);
      if (seconds === undefined) phase.remove({ source, phase: name });
      else phase.set({ source, phase: name }, seconds);
    }
  };

  const forget = (source: string) => {
    for (const gauge of [success, status, total]) gauge.remove({ source });
    responses.remove({ source });
    for (const name of PHASES) {
      phase.remove({ source, phase: name });
      phases.remove({ source, phase: name });
    }
    for (const error of ERROR_CLASSES) failures.remove({ source, error });
    shown.delete(source);
  };

  return {
    observe(cycle) {
      for (const r of cycle.results) {
        const { source } = r;
        if (!configured.has(source)) continue;
        if (r.error !== null) failures.inc({ source, error: r.error });
        for (const [name, seconds] of httpPhases(r)) phases.observe({ source, phase: name }, seconds);
        if (!r.disconnected) responses.observe({ source }, r.totalMs / 1000);
        if (cycle.probeId >= (shown.get(source) ?? Number.NEGATIVE_INFINITY)) {
          shown.set(source, cycle.probeId);
          showLatest(source, r);
        }
      }
    },
    sync(sources) {
      const next = new Set(sources);
      for (const source of configured) if (!next.has(source)) forget(source);
      for (const source of next) {
        if (configured.has(source)) continue;
        // Every class at 0 from the start, so increase() sees a source's first failure.
        for (const error of ERROR_CLASSES) failures.inc({ source, error }, 0);
      }
      configured.clear();
      for (const source of next) configured.add(source);
    },
  };
}
