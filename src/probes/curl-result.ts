/**
 * Turns curl's `--write-out '%{json}'` report into a {@link ProbeResult}. Pure functions only, so every
 * mapping rule is tested with reports recorded from the real curl, without a network.
 *
 * ## What curl's timers are
 * libcurl (lib/progress.c, `Curl_pgrsTime`) measures each timer of a transfer from the start of that
 * transfer and *adds* it to the report (`*delta += us`), clamping each measurement to at least 1 µs.
 * A timer that never fired stays 0, so a 0 means "this phase never completed" and becomes NULL here;
 * a phase that happened is never reported as 0. `time_total` alone runs from the start of the whole
 * operation. With one transfer (no redirect) the fields are therefore:
 *
 * - dnsMs = time_namelookup; NULL for an IP-literal host (curl still "resolves" a literal, in µs).
 * - connectMs = time_connect − time_namelookup: the TCP handshake.
 * - tlsMs = time_appconnect − time_connect: the TLS handshake; NULL for http://.
 * - ttfbMs = time_starttransfer: start → first byte of the response; NULL without a response.
 * - totalMs = time_total: start → end of the body, or → curl's `--max-time` on a timeout.
 *
 * ## With redirects followed (`-L`)
 * Every hop is a transfer of its own, so each of dns/connect/tls/ttfb is the **sum over the hops** of
 * that hop's value, and totalMs covers the whole chain:
 *
 * - dnsMs, connectMs: the sums of each hop's lookup and TCP handshake. dnsMs is NULL only when the
 *   first and the last host are IP literals (a named host in the middle of such a chain is missed).
 * - tlsMs: the sum of the TLS handshakes. When the chain mixes http:// and https:// (the first and the
 *   final scheme differ), curl sums time_appconnect over the TLS hops only but time_connect over every
 *   hop, so tlsMs is taken as time_pretransfer − time_connect instead, which also counts the moment
 *   curl spends between handshake and request on each hop (µs over HTTP/1.1, up to ~0.4 ms over
 *   HTTP/2). A chain https → http → https is not detected and keeps the first formula.
 * - ttfbMs: the sum of each hop's start → first byte. wmn sends `Connection: close`, so over HTTP/1.1
 *   curl follows a redirect as soon as its headers arrive and the sum equals start → first byte of the
 *   final response, minus the µs curl spends between hops. Where curl keeps the connection instead
 *   (HTTP/2, or a server ignoring `Connection: close`), it reads the redirect's body before following,
 *   and that time is in totalMs but not in ttfbMs.
 * - A hop that reuses a connection adds no dns/connect/tls time; curl reports how many connections it
 *   opened (`num_connects`) but not for which hops, so a sum can cover fewer hops than were followed.
 * - remoteIp is the address of the last connection curl made.
 *
 * ## What curl cannot tell
 * - On a failed TLS handshake curl 7.88 reports time_connect 0 although the TCP handshake completed,
 *   so connectMs is NULL there (the in-process engine knows it).
 * - A timeout part-way through a chain leaves sums over the hops that got that far; a sum that comes
 *   out negative (a later hop resolved but did not connect) is NULL.
 * - When a transfer fails after a redirect was followed, curl still reports the earlier hop's 3xx in
 *   `http_code`; that is not a response to the probe, so the result is `disconnected`.
 * - curl notices `--max-time` late on a hop after a redirect: it checks the deadline from the start of
 *   the whole operation, but re-arms the timer that wakes it up to check from the start of each hop
 *   (lib/multi.c, `Curl_expire(data, data->set.timeout, EXPIRE_TIMEOUT)` in the per-hop connect/setup
 *   state). A chain that stalls after a redirect is thus declared timed out up to the time of the
 *   earlier hops too late (7.88.1 here: 364 ms for a 300 ms deadline after a 64 ms hop). The deadline
 *   had passed all the same, and nothing that arrives after it counts (curl checks the deadline first
 *   whenever it wakes), so a timeout's totalMs is capped at the probe's timeout.
 * - certExpiresAt: curl keeps a handshake's certificates for the rest of a chain, so a chain that fails
 *   after a redirect reports none, even where the final hop's handshake completed (the in-process
 *   engine reports that hop's).
 * - curl reports the code of a status line as soon as it is read, also when the head it begins never
 *   ends (a server trickling its headers, or sending more than curl's 300 KB cap on them). A response is
 *   its whole head, as for the in-process engine, whose parser yields nothing less: when a failed
 *   transfer's `--verbose` log shows the final status line but not the blank line that ends its head,
 *   the result is `disconnected`. (The log is read up to curl.ts's cap on it, 64 KB: a failed transfer
 *   whose head ends later than that reads as having no response.)
 */
import { isIP } from 'node:net';
import { failedProbe } from './failed.js';
import { opensslTimeToUnix } from './http-hop.js';
import type { ErrorClass, HttpSource, ProbeResult } from './types.js';

/** The fields of curl's `%{json}` report that wmn reads (curl ≥ 7.75 prints every one of them). */
export interface CurlReport {
  readonly exitcode: number;
  readonly errormsg: string | null;
  readonly http_code: number;
  readonly remote_ip: string;
  readonly num_redirects: number;
  readonly url_effective: string;
  readonly time_namelookup: number;
  readonly time_connect: number;
  readonly time_appconnect: number;
  readonly time_pretransfer: number;
  readonly time_starttransfer: number;
  readonly time_total: number;
  /** The last TLS handshake's certificates as text (`Expire date:…` lines); '' without one or before 7.88. */
  readonly certs: string;
}

/** What one curl run printed, and how long it took as wmn measured it. */
export interface CurlOutput {
  /** stdout: the `%{json}` report. */
  readonly stdout: string;
  /** stderr: curl's `--verbose` log, read only for why a connection failed and whether a head ended. */
  readonly verbose: string;
  /** Spawn → exit; used as totalMs when curl's own report has none. */
  readonly elapsedMs: number;
  /** The probe's deadline, which a timeout's totalMs never exceeds. */
  readonly timeoutMs: number;
}

const TLS_EXITS = new Set([35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98]);
const RESET_EXITS = new Set([18, 55, 56]);
const PROTOCOL_EXITS = new Set([1, 8, 16, 52, 61, 92, 95]);
const PREVIEW_CHARS = 200;

/** Parses curl's stdout and maps it; anything but one well-formed report gives an `internal` result. */
export function curlOutputToResult(source: HttpSource, output: CurlOutput): ProbeResult {
  let json: unknown;
  try {
    json = JSON.parse(output.stdout);
  } catch {
    return failedProbe(
      source.uri,
      'internal',
      output.elapsedMs,
      `curl printed no JSON report: ${preview(output.stdout)}`,
    );
  }
  return curlJsonToResult(json, source, output);
}

/** Maps a parsed `%{json}` report (see the module documentation for what each field covers). */
export function curlJsonToResult(
  json: unknown,
  source: HttpSource,
  output: Omit<CurlOutput, 'stdout'>,
): ProbeResult {
  const report = toReport(json);
  if (!report) {
    return failedProbe(
      source.uri,
      'internal',
      output.elapsedMs,
      `unexpected curl report: ${preview(JSON.stringify(json))}`,
    );
  }
  const status = finalStatus(report, output.verbose);
  const error = report.exitcode === 0 ? null : classifyExit(report, output.verbose);
  const certExpiresAt = certExpiry(report, status, source.url);
  const phases = {
    source: source.uri,
    // A name that resolved to no address of the pinned family resolved to nothing usable.
    dnsMs:
      error === 'dns' || literalHosts(source.url, report.url_effective) ? null : ms(report.time_namelookup),
    connectMs: between(report.time_namelookup, report.time_connect),
    tlsMs: tlsMs(report, source.url),
    ttfbMs: status === null ? null : ms(report.time_starttransfer),
    totalMs: totalMs(report, output),
    remoteIp: report.remote_ip || null,
    ...(certExpiresAt === null ? {} : { certExpiresAt }),
    ...(error === null && status !== null ? {} : { detail: failureDetail(report, output.verbose) }),
  };
  if (status !== null) return { ...phases, disconnected: false, status, error };
  return { ...phases, disconnected: true, status: null, error: error ?? 'http_protocol' };
}

/** The failure class of a non-zero curl exit code, reading curl's message where the code is ambiguous. */
export function classifyExit(report: Pick<CurlReport, 'exitcode' | 'errormsg'>, verbose: string): ErrorClass {
  const code = report.exitcode;
  const message = report.errormsg ?? '';
  if (code === 6) return 'dns';
  if (code === 7) {
    if (noAddressTried(message, verbose)) return 'dns';
    return [message, ...connectFailures(verbose)].some(isRefusal) ? 'refused' : 'unreachable';
  }
  // The deadline passed before the name resolved: the resolver did not answer, the contract's `dns`.
  if (code === 28) return /^Resolving timed out/i.test(message) ? 'dns' : 'timeout';
  if (code === 47) return 'too_many_redirects';
  if (TLS_EXITS.has(code)) return 'tls';
  if (RESET_EXITS.has(code)) return /HTTP|chunk|header/i.test(message) ? 'http_protocol' : 'reset';
  if (PROTOCOL_EXITS.has(code)) return 'http_protocol';
  return 'internal';
}

/**
 * Why each connection attempt failed, from curl's `--verbose` log (`connect to 127.0.0.1 port 1 failed:
 * Connection refused`, `Immediate connect fail for 192.0.2.1: Network is unreachable`). curl 7.88's
 * error message only says "Couldn't connect to server" (older curls added the reason, and `errormsg` is
 * read too); the log is the one place the reason remains.
 */
function connectFailures(verbose: string): string[] {
  const reasons: string[] = [];
  for (const [line] of verbose.matchAll(
    /^\* (?:connect to .+ failed|Immediate connect fail for .+): .+$/gm,
  )) {
    reasons.push(line.slice(line.lastIndexOf(': ') + 2).trim());
  }
  return reasons;
}

/**
 * Whether curl failed to connect without trying any address: the name resolved, but to none of the
 * family `-4`/`-6` pins (curl 7.88 resolves both families and filters when it connects). It then gives
 * its bare message, no `Failed to connect to … after N ms`, and logs no `Trying`. That is a name without
 * an address of the family: `dns`, as the in-process engine's pinned lookup finds.
 */
function noAddressTried(message: string, verbose: string): boolean {
  return message.trim() === "Couldn't connect to server" && !/^\*\s+Trying /m.test(verbose);
}

function isRefusal(reason: string): boolean {
  return /connection refused/i.test(reason);
}

function failureDetail(report: CurlReport, verbose: string): string {
  if (report.exitcode === 0) return `curl reported no HTTP status (http_code ${report.http_code})`;
  const message = report.errormsg ?? `curl exit ${report.exitcode}`;
  const reasons = report.exitcode === 7 ? [...new Set(connectFailures(verbose))] : [];
  return reasons.length > 0 ? `${message} (${reasons.join('; ')})` : message;
}

/** The status of the response to the probe, or null when there was none (see "What curl cannot tell"). */
function finalStatus(report: CurlReport, verbose: string): number | null {
  const code = report.http_code;
  if (!Number.isInteger(code) || code < 100 || code > 999) return null;
  if (report.exitcode !== 0 && !lastHeadEnded(verbose)) return null;
  const failedAfterRedirect = report.exitcode !== 0 && report.exitcode !== 47 && report.num_redirects > 0;
  return failedAfterRedirect && code >= 300 && code < 400 ? null : code;
}

/**
 * Whether the last response head in curl's `--verbose` log ended: curl logs each line of a head it
 * receives as `< line`, the blank line that ends it included. A log without a status line says nothing
 * either way (none was kept), and then curl's http_code stands.
 */
function lastHeadEnded(verbose: string): boolean {
  const statusLines = [...verbose.matchAll(/^< HTTP\/\S+ \d{3}/gm)];
  const last = statusLines.at(-1);
  return last === undefined || /^< \r?$/m.test(verbose.slice(last.index));
}

/**
 * The earliest `Expire date:` among the certificates of the final hop's handshake, or null. curl keeps
 * the certificates of the last handshake it completed (none when it failed, the check included) across
 * the hops of a chain, so after a redirect they are the final hop's only when the final URL is https and
 * its response arrived.
 */
function certExpiry(report: CurlReport, status: number | null, url: URL): number | null {
  if (protocolOf(report.url_effective, url.protocol) !== 'https:') return null;
  if (report.num_redirects > 0 && status === null) return null;
  let earliest: number | null = null;
  for (const [, date = ''] of report.certs.matchAll(/^Expire date:(.*)$/gm)) {
    const expires = opensslTimeToUnix(date);
    if (expires !== null) earliest = earliest === null ? expires : Math.min(earliest, expires);
  }
  return earliest;
}

function totalMs(report: CurlReport, output: Omit<CurlOutput, 'stdout'>): number {
  const total = ms(report.time_total) ?? output.elapsedMs;
  return report.exitcode === 28 ? Math.min(total, output.timeoutMs) : total;
}

function tlsMs(report: CurlReport, url: URL): number | null {
  if (report.time_appconnect <= 0) return null;
  const mixed = url.protocol !== protocolOf(report.url_effective, url.protocol);
  return between(report.time_connect, mixed ? report.time_pretransfer : report.time_appconnect);
}

/** True when neither the first nor the last hop had a name to resolve. */
function literalHosts(url: URL, effective: string): boolean {
  return isLiteral(url.hostname) && isLiteral(hostnameOf(effective, url.hostname));
}

function isLiteral(hostname: string): boolean {
  return isIP(hostname.replace(/^\[(.*)\]$/, '$1')) !== 0;
}

function hostnameOf(href: string, fallback: string): string {
  return URL.canParse(href) ? new URL(href).hostname : fallback;
}

function protocolOf(href: string, fallback: string): string {
  return URL.canParse(href) ? new URL(href).protocol : fallback;
}

/** curl's seconds (µs resolution) as milliseconds, 0 (never happened) as null. */
function ms(seconds: number): number | null {
  return seconds > 0 ? micros(seconds) / 1000 : null;
}

/** The duration between two cumulative timers, null when the later one never fired or precedes the first. */
function between(fromSeconds: number, toSeconds: number): number | null {
  if (toSeconds <= 0) return null;
  const us = micros(toSeconds) - micros(Math.max(fromSeconds, 0));
  return us >= 0 ? us / 1000 : null;
}

/** Integer microseconds, so derived durations carry no binary floating-point noise. */
function micros(seconds: number): number {
  return Math.round(seconds * 1e6);
}

/** Validates the fields wmn reads; null when a required one is missing or of the wrong type. */
function toReport(json: unknown): CurlReport | null {
  if (typeof json !== 'object' || json === null) return null;
  const o = json as Record<string, unknown>;
  const num = (key: string): number | undefined => {
    const value = o[key];
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  };
  const str = (key: string): string | undefined => {
    const value = o[key];
    return typeof value === 'string' ? value : undefined;
  };
  const exitcode = num('exitcode');
  const httpCode = num('http_code');
  const total = num('time_total');
  if (exitcode === undefined || httpCode === undefined || total === undefined) return null;
  return {
    exitcode,
    errormsg: str('errormsg') ?? null,
    http_code: httpCode,
    remote_ip: str('remote_ip') ?? '',
    num_redirects: num('num_redirects') ?? 0,
    url_effective: str('url_effective') ?? '',
    time_namelookup: num('time_namelookup') ?? 0,
    time_connect: num('time_connect') ?? 0,
    time_appconnect: num('time_appconnect') ?? 0,
    time_pretransfer: num('time_pretransfer') ?? 0,
    time_starttransfer: num('time_starttransfer') ?? 0,
    time_total: total,
    certs: str('certs') ?? '',
  };
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat === '') return '(empty)';
  return flat.length > PREVIEW_CHARS ? `${flat.slice(0, PREVIEW_CHARS)}…` : flat;
}
