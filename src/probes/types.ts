/**
 * The one interface every probe engine implements. A prober is a function: given a source and its
 * options it performs exactly one probe and resolves with a {@link ProbeResult}. It never rejects for a
 * network failure: a failed probe is data (`error`), not an exception.
 */

/** Short failure classes stored in the `error` column. */
export const ERROR_CLASSES = [
  'dns', // name did not resolve (NXDOMAIN, SERVFAIL, no answer)
  'refused', // TCP RST on connect
  'unreachable', // no route to host / network unreachable / host down
  'tls', // handshake failed or certificate rejected
  'timeout', // the probe deadline passed before the response completed
  'reset', // connection reset or closed after it was established
  'http_protocol', // the peer answered, but not with valid HTTP (or empty reply)
  'too_many_redirects',
  'internal', // wmn itself failed to run the probe (e.g. curl missing); never the network's fault
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export type Engine = 'curl' | 'http';

/** Options of one HTTP(S) source, after defaults are applied. Durations in milliseconds. */
export interface HttpProbeOptions {
  /** Hard deadline of the whole probe, redirects included. */
  readonly timeoutMs: number;
  readonly followRedirects: boolean;
  /** Maximum redirects followed when `followRedirects` (curl's default is 50; ours is 10). */
  readonly maxRedirects: number;
  /** Accept any certificate (self-signed lab servers, captive portals). */
  readonly insecure: boolean;
  /** Extra CA bundle (PEM file) trusted in addition to the system store. */
  readonly caFile?: string;
}

/** An HTTP(S) source as parsed from its source URI. */
export interface HttpSource {
  readonly kind: 'http';
  /** The canonical source URI: what is stored in the `source` column. */
  readonly uri: string;
  readonly url: URL;
}

/** Every kind of source wmn can probe. Further kinds (icmp, dns, tcp) join this union. */
export type Source = HttpSource;

/** What a clock gives a prober: a monotonic reading in milliseconds (performance.now()). */
export interface MonotonicClock {
  now(): number;
}

export interface ProbeContext {
  /** Aborted when the agent stops; the prober must settle promptly (as a `timeout`/`internal` result). */
  readonly signal: AbortSignal;
  readonly clock: MonotonicClock;
}

/**
 * Outcome of a probe. `disconnected` means no HTTP response at all, so there is no status and there is
 * always an error class. With a response, `error` may still be set (e.g. the body timed out).
 */
export type ProbeOutcome =
  | { readonly disconnected: false; readonly status: number; readonly error: ErrorClass | null }
  | { readonly disconnected: true; readonly status: null; readonly error: ErrorClass };

/**
 * One row of measurement (minus the cycle's agent/probe_id/ts). Phase durations in milliseconds; a
 * phase that did not happen (or did not complete) is `null`, never 0.
 *
 * - dnsMs: name resolution (null for IP literals)
 * - connectMs: TCP handshake alone
 * - tlsMs: TLS handshake alone (null for http://)
 * - ttfbMs: start of probe → first byte of the (final) response
 * - totalMs: start of probe → end of the response body, or → the deadline. Always set.
 *
 * With redirects followed, dns/connect/tls are the sums over every hop and ttfb/total are measured from
 * the start of the first request (so they include the earlier hops).
 */
export type ProbeResult = ProbeOutcome & {
  readonly source: string;
  readonly dnsMs: number | null;
  readonly connectMs: number | null;
  readonly tlsMs: number | null;
  readonly ttfbMs: number | null;
  readonly totalMs: number;
  /** The address the (last) connection went to, when one was made. */
  readonly remoteIp: string | null;
  /** Free text from the engine (curl's errormsg, Node's error code), for logs; not stored. */
  readonly detail?: string;
};

export type Prober<S extends Source = Source, O = HttpProbeOptions> = (
  source: S,
  options: O,
  ctx: ProbeContext,
) => Promise<ProbeResult>;
