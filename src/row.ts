/**
 * The data contract's row: one per (agent, probe_id, source), keyed exactly by the column names of
 * `favicon_metrics`. `wmn check --json` prints these; the store writes them.
 */
import type { ProbeResult } from './probes/types.js';

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
}

/** Milliseconds rounded to the microsecond: neither engine measures finer, so more digits are noise. */
export function micros<T extends number | null>(ms: T): T {
  return (ms === null ? null : Math.round(ms * 1000) / 1000) as T;
}

export function toRow(agent: string, probeId: number, ts: Date, r: ProbeResult): MetricRow {
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
  };
}
