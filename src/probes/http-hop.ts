/**
 * One hop of the in-process HTTP(S) engine: resolve, connect, handshake, send one GET and read (and
 * discard) the response over a fresh connection, reading the monotonic clock at each socket event.
 * A hop never rejects: every failure ends it with an {@link ErrorClass} and the phases completed so far.
 */
import { ADDRCONFIG, type LookupAddress, lookup } from 'node:dns';
import { request } from 'node:http';
import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import {
  checkServerIdentity,
  type DetailedPeerCertificate,
  type SecureContext,
  type TLSSocket,
  connect as tlsConnect,
} from 'node:tls';
import { DEADLINE } from './deadline.js';
import type { ErrorClass, IpFamily, MonotonicClock } from './types.js';

/** Certificate checking for an https:// hop. */
export interface HopTls {
  /** Accept any certificate. */
  readonly insecure: boolean;
  /** The CAs to trust, when not Node's default store. */
  readonly secureContext: SecureContext | undefined;
}

export interface HopRequest {
  readonly url: URL;
  /** Only addresses of this family are tried; null: whatever the resolver answers. */
  readonly family: IpFamily | null;
  /** Set for https:// URLs. */
  readonly tls: HopTls | null;
  readonly userAgent: string;
  /** True when the response is a redirect the caller will follow: its body is not worth reading. */
  readonly skipBody: (status: number, location: string | null) => boolean;
}

/** What one hop measured. `*At` fields are clock readings; `*Ms` fields are durations. */
export interface Hop {
  readonly dnsMs: number | null;
  readonly connectMs: number | null;
  readonly tlsMs: number | null;
  readonly firstByteAt: number | null;
  /** When the response body ended (null when it did not, or was skipped). */
  readonly endAt: number | null;
  readonly status: number | null;
  readonly location: string | null;
  /** The address connected to (or last tried). */
  readonly remoteIp: string | null;
  /** The earliest notAfter (unix seconds) of the certificates presented, once a TLS handshake succeeded. */
  readonly certExpiresAt: number | null;
  readonly error: ErrorClass | null;
  readonly detail?: string;
}

/** Where a hop was when it failed; the same error means different things in different phases. */
export type Phase = 'dns' | 'connect' | 'tls' | 'request' | 'body';

const CONNECT_ERRORS: Readonly<Record<string, ErrorClass>> = {
  ECONNREFUSED: 'refused',
  ETIMEDOUT: 'timeout',
};

/**
 * The class of a failure in `phase`. Every failure before the TLS handshake completes is `tls` (curl
 * reports a reset there as a handshake failure, exit 35, and the engines must agree). After it, Node's
 * "socket hang up" (an ECONNRESET it makes up, with no syscall) means the peer closed without a reply:
 * `http_protocol`, like curl's "Empty reply from server"; a real RST is `reset`.
 */
export function classify(err: NodeJS.ErrnoException, phase: Phase): ErrorClass {
  switch (phase) {
    case 'dns':
      return 'dns';
    case 'connect':
      return CONNECT_ERRORS[err.code ?? ''] ?? 'unreachable';
    case 'tls':
      return 'tls';
    default:
      if (err.code?.startsWith('HPE_')) return 'http_protocol';
      if (err.code === 'ECONNRESET' && err.syscall === undefined && phase === 'request')
        return 'http_protocol';
      return 'reset';
  }
}

/** Runs one hop; settles with `timeout` as soon as `signal` aborts, destroying the connection. */
export function runHop(target: HopRequest, clock: MonotonicClock, signal: AbortSignal): Promise<Hop> {
  return new Promise((resolve) => {
    const hop: { -readonly [K in keyof Hop]: Hop[K] } = {
      dnsMs: null,
      connectMs: null,
      tlsMs: null,
      firstByteAt: null,
      endAt: null,
      status: null,
      location: null,
      remoteIp: null,
      certExpiresAt: null,
      error: null,
    };
    const host = target.url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(target.url.port) || (target.tls ? 443 : 80);
    let phase: Phase = 'dns';
    let socket: Socket | undefined;
    let settled = false;

    const finish = (error: ErrorClass | null, detail?: string) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket?.destroy();
      resolve({ ...hop, error, ...(detail === undefined ? {} : { detail }) });
    };
    // A name still unresolved at the deadline did not resolve: the contract's `dns` ("no answer");
    // the caller stopping the probe says nothing about the network.
    const onAbort = () =>
      phase === 'dns' && signal.reason === DEADLINE
        ? finish('dns', 'no answer from the resolver before the deadline')
        : finish('timeout', `deadline passed during ${phase}`);
    const fail = (err: NodeJS.ErrnoException) => finish(classify(err, phase), err.code ?? err.message);

    /** Tries each address in turn until one accepts: a dead IPv6 route must not hide a working IPv4. */
    const connect = (addresses: readonly string[], index: number, startedAt: number) => {
      phase = 'connect';
      const ip = addresses[index] ?? '';
      hop.remoteIp = ip;
      let peer: DetailedPeerCertificate | undefined;
      const s = openSocket(target, ip, host, port, (cert) => {
        peer = cert;
      });
      socket = s;
      let connectedAt = 0;
      s.once('connect', () => {
        connectedAt = clock.now();
        hop.connectMs = connectedAt - startedAt;
        if (target.tls) phase = 'tls';
        else send(s);
      });
      s.once('secureConnect', () => {
        hop.tlsMs = clock.now() - connectedAt;
        // Unverified (insecure and a chain that fails), Node skipped the identity check: read it here.
        hop.certExpiresAt = chainExpiry(peer ?? (s as TLSSocket).getPeerCertificate(true));
        send(s);
      });
      s.on('error', (err: NodeJS.ErrnoException) => {
        if (phase !== 'connect' || index + 1 >= addresses.length) return fail(err);
        s.destroy();
        connect(addresses, index + 1, startedAt);
      });
    };

    const send = (s: Socket) => {
      phase = 'request';
      const req = request({
        createConnection: () => s,
        path: `${target.url.pathname}${target.url.search}`,
        headers: {
          Host: target.url.host,
          'User-Agent': target.userAgent,
          Accept: '*/*',
          Connection: 'close',
        },
      });
      s.once('data', () => {
        hop.firstByteAt = clock.now();
      });
      req.once('response', (res) => {
        phase = 'body';
        hop.status = res.statusCode ?? null;
        hop.location = res.headers.location ?? null;
        if (target.skipBody(res.statusCode ?? 0, hop.location)) return finish(null);
        const ended = () => {
          hop.endAt = clock.now();
          finish(null);
        };
        res.once('end', ended);
        res.once('close', () => (res.complete ? ended() : finish('reset', 'response body cut short')));
        res.on('error', fail);
        res.resume();
      });
      req.on('error', fail);
      req.end();
    };

    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    if (isIP(host)) {
      if (!literalFits(host, target.family))
        return finish('dns', `${host} is not an IPv${target.family} address`);
      return connect([host], 0, clock.now());
    }
    const startedAt = clock.now();
    lookupAll(host, target.family, (err, addresses) => {
      if (settled) return;
      if (err) return fail(err);
      if (addresses.length === 0) return finish('dns', 'no address');
      hop.dnsMs = clock.now() - startedAt;
      connect(addresses, 0, clock.now());
    });
  });
}

/** Whether an IP literal can be probed over `family` (any literal can when the probe is not pinned). */
export function literalFits(ip: string, family: IpFamily | null): boolean {
  return family === null || isIP(ip) === family;
}

/**
 * Every address of `host` through the system resolver (`dns.lookup`, as curl resolves), of `family` only
 * when pinned. Unpinned, ADDRCONFIG leaves out a family the machine has no address of; pinned, the user
 * asked for that family, so its addresses are tried (and fail as unreachable, not as a DNS failure).
 */
export function lookupAll(
  host: string,
  family: IpFamily | null,
  done: (err: NodeJS.ErrnoException | null, addresses: string[]) => void,
): void {
  const options =
    family === null ? { all: true as const, hints: ADDRCONFIG } : { all: true as const, family };
  lookup(host, options, (err, addresses: LookupAddress[]) =>
    done(err, err ? [] : addresses.map((a) => a.address)),
  );
}

/**
 * The earliest notAfter (unix seconds) among the leaf and the intermediates of a peer's chain, or null
 * when there is no certificate. Node completes the chain the server sent with issuers from the local
 * trust store, and which ones were sent cannot be told apart, so self-signed issuers (the roots) are
 * left out: curl sees only what was sent, and a root the server does send is rarely the first to expire.
 * A self-signed leaf still counts.
 */
export function chainExpiry(leaf: DetailedPeerCertificate): number | null {
  let earliest: number | null = null;
  const seen = new Set<DetailedPeerCertificate>();
  for (let cert: DetailedPeerCertificate | undefined = leaf; cert && !seen.has(cert); ) {
    seen.add(cert);
    const issuer: DetailedPeerCertificate | undefined = cert.issuerCertificate;
    if (cert !== leaf && issuer === cert) break;
    const expires = typeof cert.valid_to === 'string' ? opensslTimeToUnix(cert.valid_to) : null;
    if (expires !== null) earliest = earliest === null ? expires : Math.min(earliest, expires);
    cert = issuer;
  }
  return earliest;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A certificate time as OpenSSL prints it (`ASN1_TIME_print`: `Feb  1 00:00:00 2020 GMT`), as unix
 * seconds; null when it is not one. Node's `valid_to` and curl's `Expire date:` are both this format.
 * Parsed by hand: `Date.parse` of it works in V8 only through its implementation-defined fallback.
 */
export function opensslTimeToUnix(text: string): number | null {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d+)? (\d{4})(?: GMT)?$/.exec(
    text.trim(),
  );
  if (!m) return null;
  const [, name = '', day, hour, minute, second, year] = m;
  const month = MONTHS.indexOf(name);
  if (month < 0) return null;
  return Date.UTC(Number(year), month, Number(day), Number(hour), Number(minute), Number(second)) / 1000;
}

/**
 * A fresh TCP (and TLS) connection to `ip`: SNI and certificate identity use the URL's host name.
 * `onPeer` gets the peer's chain as Node reads it for the identity check of a verified handshake:
 * reading it again would cost hundreds of µs of CPU per probe, as much as a quarter of its cost.
 */
function openSocket(
  target: HopRequest,
  ip: string,
  host: string,
  port: number,
  onPeer: (cert: DetailedPeerCertificate) => void,
): Socket {
  if (!target.tls) return tcpConnect({ host: ip, port });
  return tlsConnect({
    host: ip,
    port,
    // No SNI for an IP literal (RFC 6066); the certificate is then checked against the IP itself.
    ...(isIP(host) ? {} : { servername: host }),
    ...(target.tls.secureContext === undefined ? {} : { secureContext: target.tls.secureContext }),
    rejectUnauthorized: !target.tls.insecure,
    ALPNProtocols: ['http/1.1'],
    checkServerIdentity: (name, cert) => {
      onPeer(cert as DetailedPeerCertificate);
      return checkServerIdentity(name, cert);
    },
  });
}
