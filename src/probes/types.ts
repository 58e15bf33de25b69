/**
 * The one interface every probe engine implements. A prober is a function: given a source and its
 * options it performs exactly one probe and resolves with a {@link ProbeResult}. It never rejects for a
 * network failure: a failed probe is data (`error`), not an exception.
 */

/** Short failure classes stored in the `error` column. */
export const ERROR_CLASSES = [
  'dns', // name did not resolve (NXDOMAIN, SERVFAIL, no answer before the deadline)
  'refused', // TCP RST on connect
  'unreachable', // no route to host / network unreachable / host down
  'tls', // handshake failed or certificate rejected
  'timeout', // the probe deadline passed before the response completed
  'reset', // connection reset or closed after it was established
  'http_protocol', // the peer answered, but not with valid HTTP (or empty reply)
  'too_many_redirects',
  'nxdomain', // dns:// — the resolver says the name does not exist
  'servfail', // dns:// — the resolver failed to answer for the name (SERVFAIL)
  'dns_refused', // dns:// — the resolver refused the query (REFUSED: not open to us)
  'nodata', // dns:// — the name exists but has no record of the asked type
  'dns_error', // dns:// — any other error rcode (FORMERR, NOTIMP, …) or a malformed answer
  'internal', // wmn itself failed to run the probe (e.g. curl missing); never the network's fault
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export type Engine = 'curl' | 'http';

/** An address family a source is pinned to; `null` where the resolver's first answer decides. */
export type IpFamily = 4 | 6;

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

/** Options of an `icmp://` source. */
export interface IcmpProbeOptions {
  /** Deadline of the whole probe: every echo request of the cycle and its reply. */
  readonly timeoutMs: number;
  /** Echo requests per cycle (loss and jitter within one cycle need more than one). */
  readonly count: number;
}

/** Options of a `dns://` source. */
export interface DnsProbeOptions {
  /** Deadline of the whole probe, a TCP retry after truncation included. */
  readonly timeoutMs: number;
}

/** Options of a `tcp://` source. */
export interface TcpProbeOptions {
  readonly timeoutMs: number;
}

/** What every parsed source has: its canonical URI (the `source` column) and its address family. */
interface SourceBase {
  /** The canonical source URI: what is stored in the `source` column. */
  readonly uri: string;
  /** Pinned family (`#ipv4` / `#ipv6` at the end of the URI), or null: the resolver's first answer. */
  readonly family: IpFamily | null;
}

/** An HTTP(S) source as parsed from its source URI. */
export interface HttpSource extends SourceBase {
  readonly kind: 'http';
  /** The URL requested (without wmn's `#ipv4`/`#ipv6` family marker). */
  readonly url: URL;
}

/** `icmp://host`: echo requests. `host` is a name, an IP literal (v6 without brackets) or `gateway`. */
export interface IcmpSource extends SourceBase {
  readonly kind: 'icmp';
  /** `gateway` means the default gateway, looked up in the routing table at every probe. */
  readonly host: string;
}

/** `tcp://host:port`: a TCP connect, nothing sent. */
export interface TcpSource extends SourceBase {
  readonly kind: 'tcp';
  readonly host: string;
  readonly port: number;
}

export const DNS_RECORD_TYPES = [
  'A',
  'AAAA',
  'CNAME',
  'MX',
  'NS',
  'SOA',
  'TXT',
  'PTR',
  'SRV',
  'CAA',
] as const;
export type DnsRecordType = (typeof DNS_RECORD_TYPES)[number];

/** `dns://resolver[:port]/name?type=A[&nocache]`: one query to one resolver. */
export interface DnsSource extends SourceBase {
  readonly kind: 'dns';
  /** The resolver: an IP literal (v6 without brackets) or a name, resolved by the system first. */
  readonly resolver: string;
  readonly port: number;
  /** The name asked for, without a trailing dot. */
  readonly name: string;
  readonly type: DnsRecordType;
  /**
   * Prefix a fresh random label to `name` in every query, so no cache can answer: the resolver has to
   * ask the authoritative servers, and their NXDOMAIN (or empty answer) is then a success.
   */
  readonly nocache: boolean;
}

/** Every kind of source wmn can probe. */
export type Source = HttpSource | IcmpSource | TcpSource | DnsSource;
export type SourceKind = Source['kind'];

/** The options each kind of source takes. */
export interface ProbeOptionsOf {
  readonly http: HttpProbeOptions;
  readonly icmp: IcmpProbeOptions;
  readonly tcp: TcpProbeOptions;
  readonly dns: DnsProbeOptions;
}

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
 * Outcome of a probe. `disconnected` means no answer at all (no HTTP response, no echo reply, no
 * connection, no usable DNS answer), so there is no status and there is always an error class. With an
 * answer, `error` may still be set (e.g. the body timed out). `status` is the HTTP status: null for the
 * other kinds of source.
 */
export type ProbeOutcome =
  | { readonly disconnected: false; readonly status: number | null; readonly error: ErrorClass | null }
  | { readonly disconnected: true; readonly status: null; readonly error: ErrorClass };

/**
 * One row of measurement (minus the cycle's agent/probe_id/ts). Phase durations in milliseconds; a
 * phase that did not happen (or did not complete) is `null`, never 0.
 *
 * - dnsMs: name resolution (null for IP literals)
 * - connectMs: TCP handshake alone (http, tcp)
 * - tlsMs: TLS handshake alone (null for http://)
 * - ttfbMs: start of probe → first byte of the (final) response (http)
 * - totalMs: start of probe → end of the response body, or → the deadline. Always set. For icmp the
 *   mean round-trip time of the replies; for dns the query's round trip (a TCP retry included).
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
  /** https: the earliest `notAfter` (unix seconds) of the certificates the server presented. */
  readonly certExpiresAt?: number;
  /** icmp: every echo request's round-trip time in ms, in order; null for one that got no reply. */
  readonly samplesMs?: readonly (number | null)[];
  /** Free text from the engine (curl's errormsg, Node's error code), for logs; not stored. */
  readonly detail?: string;
};

export type Prober<S extends Source = HttpSource, O = ProbeOptionsOf[S['kind']]> = (
  source: S,
  options: O,
  ctx: ProbeContext,
) => Promise<ProbeResult>;
