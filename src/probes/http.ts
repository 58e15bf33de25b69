/**
 * The in-process HTTP(S) engine: one GET per probe over a fresh TCP (+TLS) connection, no keep-alive, no
 * DNS cache (the system resolver through `dns.lookup`, as curl uses it), phases timed with the monotonic
 * clock at socket events. See {@link probeHttp} for what each field covers.
 */
import { readFile, stat } from 'node:fs/promises';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { USER_AGENT } from '../version.js';
import { deadlineSignal } from './deadline.js';
import { failedProbe } from './failed.js';
import { type Hop, type HopTls, runHop } from './http-hop.js';
import type { ErrorClass, HttpProbeOptions, MonotonicClock, ProbeResult, Prober } from './types.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/**
 * How long a CA file's secure context is used before the file is looked at again. Reading it at every
 * probe cost ~0.1–0.3 ms of CPU per probe, and at a tick with many sources queued one read per probe in
 * libuv's threadpool, where `dns.lookup` waits too.
 */
const CA_RECHECK_MS = 1_000;
/** A CA file's secure context, and the file's identity when it was built. */
interface CaContext {
  readonly context: SecureContext;
  readonly version: string;
}
/** The context of one CA file, as last looked at; probes arriving meanwhile share the one look. */
interface CaEntry {
  readonly checkedAt: number;
  readonly current: Promise<CaContext>;
}
/** By CA file path; a handful of files at most in any real config. */
const caFiles = new Map<string, CaEntry>();
const MAX_CONTEXTS = 16;

/** The phases summed over the hops of a probe. */
type Phases = { -readonly [K in 'dnsMs' | 'connectMs' | 'tlsMs']: ProbeResult[K] };

/**
 * Probes an http(s):// source once. Never rejects: a failure is a result with an `error` class.
 *
 * - `dnsMs`: `dns.lookup` of the host (null for an IP literal); `connectMs`: TCP handshake, from the
 *   first connection attempt to the one that succeeded; `tlsMs`: from TCP connected to the TLS
 *   handshake done, certificate check included (null for http://).
 * - `ttfbMs`: from the start of the probe to the first byte of the final response; `totalMs`: to the end
 *   of its body (read and discarded), or to the moment the probe failed or its deadline passed.
 * - Redirects (301/302/303/307/308 to an http(s) URL, when `followRedirects`): every hop is a new
 *   connection, so dns/connect/tls are the sums over the hops that reached that phase, while ttfb and
 *   total run from the start of the first request and so include the earlier hops. A redirect's body is
 *   not read. Past `maxRedirects` the probe ends with `too_many_redirects` and the last 3xx as status.
 * - One deadline (`timeoutMs`) covers the whole probe, redirects included; it and `ctx.signal` end the
 *   probe with `timeout`, keeping the phases completed so far.
 * - `caFile` is trusted in addition to Node's CA store (as curl's `--cacert` is on Debian, where curl
 *   keeps its CA directory); an edited file is used within a second. `insecure` skips certificate checks.
 * - `certExpiresAt`: the earliest notAfter of the final hop's certificates, once its handshake succeeded
 *   (with `insecure` too, so an expired certificate's date is reported); see `chainExpiry` in http-hop.ts.
 * - A source pinned to a family resolves and connects over that family only; a host without an address
 *   of it fails as `dns`.
 */
export const probeHttp: Prober = async (source, options, ctx) => {
  const begun = ctx.clock.now();
  const tls = await tlsSettings(options);
  if (typeof tls === 'string') return failedProbe(source.uri, 'internal', ctx.clock.now() - begun, tls);
  // The probe starts once its settings are ready: reading the CA file is not the network's time.
  const start = ctx.clock.now();
  const deadline = deadlineSignal(options.timeoutMs, ctx.signal);
  try {
    const phases: Phases = { dnsMs: null, connectMs: null, tlsMs: null };
    let url = source.url;
    for (let redirects = 0; ; redirects++) {
      const from = url;
      const follow = (status: number, location: string | null) =>
        options.followRedirects ? redirectTarget(from, status, location) : null;
      const hop = await runHop(
        {
          url: from,
          family: source.family,
          tls: from.protocol === 'https:' ? tls : null,
          userAgent: USER_AGENT,
          skipBody: (status, location) => follow(status, location) !== null,
        },
        ctx.clock,
        deadline.signal,
      );
      addPhases(phases, hop);
      const next = hop.status === null ? null : follow(hop.status, hop.location);
      if (next === null) return result(source.uri, start, ctx.clock, phases, hop, hop.error);
      if (redirects >= options.maxRedirects) {
        return result(source.uri, start, ctx.clock, phases, hop, 'too_many_redirects');
      }
      url = next;
    }
  } finally {
    deadline.dispose();
  }
};

/** The certificate settings of https hops, or an error message when the CA file cannot be read. */
async function tlsSettings(options: HttpProbeOptions): Promise<HopTls | string> {
  if (options.caFile === undefined) return { insecure: options.insecure, secureContext: undefined };
  try {
    return { insecure: options.insecure, secureContext: await contextTrusting(options.caFile) };
  } catch (err) {
    return `cannot use caFile ${options.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
}

/**
 * A secure context trusting Node's CA store plus the certificates in `caFile`, as curl's `--cacert` adds
 * to (Debian's curl keeps its CA directory). Building one parses every root certificate, milliseconds of
 * CPU, so it is built again only when the file changed (another inode, size or modification time),
 * which is looked at once a second at most, by one probe for all those starting then.
 */
function contextTrusting(caFile: string): Promise<SecureContext> {
  const now = performance.now();
  let entry = caFiles.get(caFile);
  if (!entry || now - entry.checkedAt >= CA_RECHECK_MS) {
    const known = entry ? entry.current.catch(() => null) : Promise.resolve(null);
    const fresh: CaEntry = { checkedAt: now, current: known.then((k) => loadIfChanged(caFile, k)) };
    if (!entry && caFiles.size >= MAX_CONTEXTS) caFiles.clear();
    caFiles.set(caFile, fresh);
    // A file that cannot be read is tried again by the next probe, not a second later.
    fresh.current.catch(() => {
      if (caFiles.get(caFile) === fresh) caFiles.delete(caFile);
    });
    entry = fresh;
  }
  return entry.current.then((c) => c.context);
}

/** `known` when the file is still the one it was built from, else a context built from it now. */
async function loadIfChanged(caFile: string, known: CaContext | null): Promise<CaContext> {
  const info = await stat(caFile);
  const version = `${info.ino}:${info.size}:${info.mtimeMs}`;
  if (known?.version === version) return known;
  const pem = await readFile(caFile, 'utf8');
  return { context: createSecureContext({ ca: [...rootCertificates, pem] }), version };
}

/** Where a response redirects to, or null when it is not a redirect this engine follows. */
function redirectTarget(from: URL, status: number, location: string | null): URL | null {
  if (!REDIRECTS.has(status) || !location) return null;
  const to = URL.canParse(location, from.href) ? new URL(location, from) : null;
  return to && (to.protocol === 'http:' || to.protocol === 'https:') ? to : null;
}

/** Adds a hop's phases to the probe's: a phase stays null until some hop completes it. */
function addPhases(sum: Phases, hop: Hop): void {
  const add = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : a + b);
  sum.dnsMs = add(sum.dnsMs, hop.dnsMs);
  sum.connectMs = add(sum.connectMs, hop.connectMs);
  sum.tlsMs = add(sum.tlsMs, hop.tlsMs);
}

/** The probe's result: the phases summed over its hops, the rest from its last hop. */
function result(
  uri: string,
  start: number,
  clock: MonotonicClock,
  phases: Phases,
  last: Hop,
  error: ErrorClass | null,
): ProbeResult {
  const common = {
    source: uri,
    ...phases,
    totalMs: (last.endAt ?? clock.now()) - start,
    remoteIp: last.remoteIp,
    ...(last.certExpiresAt === null ? {} : { certExpiresAt: last.certExpiresAt }),
    ...(last.detail === undefined ? {} : { detail: last.detail }),
  };
  if (last.status === null) {
    // A hop without a response always ends with an error; `internal` only satisfies the type.
    return { ...common, ttfbMs: null, disconnected: true, status: null, error: error ?? 'internal' };
  }
  const ttfbMs = last.firstByteAt === null ? null : last.firstByteAt - start;
  return { ...common, ttfbMs, disconnected: false, status: last.status, error };
}
