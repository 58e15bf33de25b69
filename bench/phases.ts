/**
 * The phases the accuracy and side-by-side sections compare, from every kind of measurement: a wmn
 * ProbeResult, curl's own `-w '%{json}'`, blackbox_exporter's `probe_http_duration_seconds`. Each is the
 * duration of that phase alone, in ms; `server` is request sent → first byte (the server's think time,
 * where a first-byte delay lands), `transfer` first byte → end.
 */
import type { ProbeResult } from '../src/probes/types.js';

export interface Phases {
  readonly dns: number | null;
  readonly connect: number | null;
  readonly tls: number | null;
  readonly server: number | null;
  readonly transfer: number | null;
  readonly total: number | null;
}

export const PHASE_NAMES = ['dns', 'connect', 'tls', 'server', 'transfer', 'total'] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export function fromProbe(r: ProbeResult): Phases {
  const before = (r.dnsMs ?? 0) + (r.connectMs ?? 0) + (r.tlsMs ?? 0);
  return {
    dns: r.dnsMs,
    connect: r.connectMs,
    tls: r.tlsMs,
    server: r.ttfbMs === null ? null : r.ttfbMs - before,
    transfer: r.ttfbMs === null ? null : r.totalMs - r.ttfbMs,
    total: r.totalMs,
  };
}

/** curl's cumulative `time_*` seconds, turned into phases by the same rules as the curl engine. */
export function fromCurlJson(json: Record<string, unknown>, literalHost: boolean): Phases {
  const t = (key: string) => Number(json[key] ?? Number.NaN) * 1000;
  const [lookup, connect, app, start, total] = [
    t('time_namelookup'),
    t('time_connect'),
    t('time_appconnect'),
    t('time_starttransfer'),
    t('time_total'),
  ];
  const tlsEnd = app > 0 ? app : connect;
  return {
    dns: literalHost ? null : lookup,
    connect: connect - lookup,
    tls: app > 0 ? app - connect : null,
    server: start - tlsEnd,
    transfer: total - start,
    total,
  };
}

/** blackbox_exporter's phases (seconds, from its /probe metrics), with wmn's names. */
export function fromBlackbox(durations: Readonly<Record<string, number>>): Phases {
  const ms = (phase: string) => (phase in durations ? durations[phase]! * 1000 : null);
  const parts = ['resolve', 'connect', 'tls', 'processing', 'transfer'].map(ms);
  return {
    dns: ms('resolve'),
    connect: ms('connect'),
    tls: ms('tls'),
    server: ms('processing'),
    transfer: ms('transfer'),
    total: parts.reduce<number>((a, b) => a + (b ?? 0), 0),
  };
}
