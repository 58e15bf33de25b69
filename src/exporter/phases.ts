/**
 * Our measurements under blackbox_exporter's names. blackbox_exporter's `probe_http_duration_seconds`
 * splits an HTTP probe into `resolve`, `connect`, `tls`, `processing` (connection ready → first response
 * byte) and `transfer` (first byte → end of the body), each summed over redirects. From a
 * {@link ProbeResult}:
 *
 * | phase      | from our fields                   |
 * |------------|-----------------------------------|
 * | resolve    | dnsMs                             |
 * | connect    | connectMs                         |
 * | tls        | tlsMs                             |
 * | processing | ttfbMs − (dnsMs + connectMs + tlsMs), the phases that happened |
 * | transfer   | totalMs − ttfbMs                  |
 *
 * A phase that did not happen (a NULL field, or no first byte for the last two) is absent, never 0.
 */
import { waitMs } from '../agent/summary.js';
import type { ProbeResult } from '../probes/types.js';

export const PHASES = ['resolve', 'connect', 'tls', 'processing', 'transfer'] as const;
export type Phase = (typeof PHASES)[number];

/** The phases `result` measured, in seconds, in {@link PHASES} order. */
export function httpPhases(result: ProbeResult): [Phase, number][] {
  const ms: [Phase, number | null][] = [
    ['resolve', result.dnsMs],
    ['connect', result.connectMs],
    ['tls', result.tlsMs],
    // Timer granularity can put the difference a hair below zero; a phase is never negative.
    ['processing', nonNegative(waitMs(result))],
    ['transfer', result.ttfbMs === null ? null : nonNegative(result.totalMs - result.ttfbMs)],
  ];
  return ms.flatMap(([phase, value]) => (value === null ? [] : [[phase, value / 1000] as [Phase, number]]));
}

function nonNegative(ms: number | null): number | null {
  return ms === null ? null : Math.max(0, ms);
}
