/** The one shape of a probe that got no response at all, whichever prober (or the cycle) reports it. */
import type { ErrorClass, ProbeResult } from './types.js';

/** No response: every phase NULL, `totalMs` the time spent, `detail` why (for the log, not stored). */
export function failedProbe(uri: string, error: ErrorClass, totalMs: number, detail: string): ProbeResult {
  return {
    source: uri,
    disconnected: true,
    status: null,
    error,
    dnsMs: null,
    connectMs: null,
    tlsMs: null,
    ttfbMs: null,
    totalMs,
    remoteIp: null,
    detail,
  };
}
