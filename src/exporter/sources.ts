/**
 * Per-source metrics, fed by every finished cycle: the latest probe under blackbox_exporter's names, and
 * distributions and failure counts of wmn's own. The `source` label only ever holds a configured source
 * URI: results of a source a reload removed are ignored, and its series vanish.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Layer } from '../diagnosis/layers.js';
import { ERROR_CLASSES, type ProbeResult, type SourceKind } from '../probes/types.js';
import type { CycleRecord } from '../store/types.js';
import { icmpMetrics } from './icmp.js';
import { httpPhases, PHASES } from './phases.js';

/** Seconds; from a cached DNS answer or a LAN hop (~0.1 ms) to a probe's timeout. */
export const PHASE_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** A configured source, as far as its series depend on it. */
export interface ExportedSource {
  readonly uri: string;
  readonly kind: SourceKind;
  readonly layer: Layer;
}

export interface SourceMetrics {
  /** Counts one finished cycle; the latest-probe gauges follow the newest cycle (by probe_id). */
  observe(cycle: CycleRecord): void;
  /** Matches the series to the configured sources: new ones start at zero, removed ones vanish. */
  sync(sources: readonly ExportedSource[]): void;
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
    help: 'HTTP status of the latest probe of the source; absent when it got no response, and for sources other than HTTP(S).',
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
  const certExpiry = new Gauge({
    name: 'probe_ssl_earliest_cert_expiry',
    help: 'Earliest expiry (unix seconds) of the certificates the server presented to the latest probe; absent when it presented none.',
    labelNames: ['source'],
    registers,
  });
  const layerInfo = new Gauge({
    name: 'wmn_source_layer_info',
    help: 'Always 1; the layer label is where the source sits on the path out (lan, isp, dns, internet, service).',
    labelNames: ['source', 'layer'],
    registers,
  });
  const phases = new Histogram({
    name: 'wmn_probe_phase_seconds',
    help: 'Distribution of the probe phases (blackbox_exporter names) that happened.',
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
  const icmp = icmpMetrics(registry);

  const configured = new Map<string, ExportedSource>();
  /** probe_id of the cycle the latest-probe gauges show, per source. */
  const shown = new Map<string, number>();

  const showLatest = (source: ExportedSource, r: ProbeResult) => {
    const labels = { source: source.uri };
    success.set(labels, r.disconnected ? 0 : 1);
    if (r.status === null) status.remove(labels);
    else status.set(labels, r.status);
    total.set(labels, r.totalMs / 1000);
    if (r.certExpiresAt === undefined) certExpiry.remove(labels);
    else certExpiry.set(labels, r.certExpiresAt);
    // The name says HTTP: a TCP connect or an echo is not an HTTP probe's phase.
    const measured = new Map(source.kind === 'http' ? httpPhases(r) : []);
    for (const name of PHASES) {
      const seconds = measured.get(name);
      if (seconds === undefined) phase.remove({ ...labels, phase: name });
      else phase.set({ ...labels, phase: name }, seconds);
    }
    if (source.kind === 'icmp') icmp.show(source.uri, r.samplesMs);
  };

  const forget = ({ uri: source, layer }: ExportedSource) => {
    for (const gauge of [success, status, total, certExpiry]) gauge.remove({ source });
    layerInfo.remove({ source, layer });
    responses.remove({ source });
    for (const name of PHASES) {
      phase.remove({ source, phase: name });
      phases.remove({ source, phase: name });
    }
    for (const error of ERROR_CLASSES) failures.remove({ source, error });
    icmp.forget(source);
    shown.delete(source);
  };

  return {
    observe(cycle) {
      for (const r of cycle.results) {
        const exported = configured.get(r.source);
        if (exported === undefined) continue;
        const { source } = r;
        if (r.error !== null) failures.inc({ source, error: r.error });
        for (const [name, seconds] of httpPhases(r)) phases.observe({ source, phase: name }, seconds);
        if (!r.disconnected) responses.observe({ source }, r.totalMs / 1000);
        if (exported.kind === 'icmp') icmp.count(source, r.samplesMs);
        if (cycle.probeId >= (shown.get(source) ?? Number.NEGATIVE_INFINITY)) {
          shown.set(source, cycle.probeId);
          showLatest(exported, r);
        }
      }
    },
    sync(sources) {
      const next = new Map(sources.map((s) => [s.uri, s]));
      for (const [uri, old] of configured) {
        const now = next.get(uri);
        if (now === undefined) forget(old);
        else if (now.layer !== old.layer) layerInfo.remove({ source: uri, layer: old.layer });
      }
      for (const s of next.values()) {
        layerInfo.set({ source: s.uri, layer: s.layer }, 1);
        if (configured.has(s.uri)) continue;
        // Every class at 0 from the start, so increase() sees a source's first failure.
        for (const error of ERROR_CLASSES) failures.inc({ source: s.uri, error }, 0);
        if (s.kind === 'icmp') icmp.start(s.uri);
      }
      configured.clear();
      for (const [uri, s] of next) configured.set(uri, s);
    },
  };
}
