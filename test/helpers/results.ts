/**
 * Probe results made by hand, for tests of what consumes them (the agent, the store, alerts, the
 * exporter): one answered and one failed shape, each test overriding only the figures it asserts on.
 */
import type { ErrorClass, ProbeResult } from '../../src/probes/types.js';

type Figures = Partial<Omit<ProbeResult, 'source' | 'disconnected' | 'error'>>;

/** An HTTP 200 with every phase (dns 1, connect 2, tls 3 ms) and the first byte 1 ms before the end. */
export function answered(source: string, figures: Figures = {}): ProbeResult {
  const totalMs = figures.totalMs ?? 20;
  return {
    source,
    disconnected: false,
    status: 200,
    error: null,
    dnsMs: 1,
    connectMs: 2,
    tlsMs: 3,
    ttfbMs: totalMs - 1,
    totalMs,
    remoteIp: '127.0.0.1',
    ...figures,
  } as ProbeResult;
}

/** No answer at all, failed as `error` after 1 ms with no phase done. */
export function failed(source: string, error: ErrorClass = 'timeout', figures: Figures = {}): ProbeResult {
  return {
    source,
    disconnected: true,
    status: null,
    error,
    dnsMs: null,
    connectMs: null,
    tlsMs: null,
    ttfbMs: null,
    totalMs: 1,
    remoteIp: null,
    ...figures,
  } as ProbeResult;
}
