/**
 * The data contract's row: one per (agent, probe_id, source), keyed exactly by the column names of
 * `favicon_metrics`. `wmn check --json` prints these; the store writes them.
 */
import type { DiagnosisKind } from './diagnosis/diagnose.js';
import type { Layer } from './diagnosis/layers.js';
import type { CycleResult } from './store/types.js';

export interface MetricRow {
  readonly ts: string;
  readonly agent: string;
  readonly probe_id: number;
  readonly source: string;
  readonly dns_ms: number | null;
  readonly connect_ms: number | null;
  readonly tls_ms: number | null;
  readonly ttfb_ms: number | null;
  readonly total_ms: number;
  readonly status: number | null;
  readonly disconnected: boolean;
  readonly error: string | null;
  readonly remote_ip: string | null;
  readonly layer: Layer | null;
  readonly diagnosis: DiagnosisKind;
  /** ISO time. */
  readonly cert_expiry: string | null;
  readonly rtt_ms: readonly (number | null)[] | null;
}

/** Milliseconds rounded to the microsecond: neither engine measures finer, so more digits are noise. */
export function micros<T extends number | null>(ms: T): T {
  return (ms === null ? null : Math.round(ms * 1000) / 1000) as T;
}

export function toRow(
  agent: string,
  probeId: number,
  ts: Date,
  r: CycleResult,
  diagnosis: DiagnosisKind,
): MetricRow {
  return {
    ts: ts.toISOString(),
    agent,
    probe_id: probeId,
    source: r.source,
    dns_ms: micros(r.dnsMs),
    connect_ms: micros(r.connectMs),
    tls_ms: micros(r.tlsMs),
    ttfb_ms: micros(r.ttfbMs),
    total_ms: micros(r.totalMs),
    status: r.status,
    disconnected: r.disconnected,
    error: r.error,
    remote_ip: r.remoteIp,
    layer: r.layer ?? null,
    diagnosis,
    cert_expiry: r.certExpiresAt === undefined ? null : new Date(r.certExpiresAt * 1000).toISOString(),
    rtt_ms: r.samplesMs?.map((s) => micros(s)) ?? null,
  };
}
