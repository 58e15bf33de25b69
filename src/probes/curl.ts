/**
 * The curl engine, as the original wmn probed: one `curl` subprocess per probe, started with an argv
 * array (never a shell), its one `%{json}` report mapped by {@link curlOutputToResult} (curl-result.ts
 * documents what each phase covers, redirects included, and what curl cannot tell).
 *
 * curl enforces the probe's timeout itself (`--max-time`, exit 28 with the phases it completed). wmn
 * only steps in when curl outlives that deadline by a grace period or the probe is aborted: it then
 * SIGKILLs curl and settles once the process has been reaped and its pipes closed, so a probe never
 * leaves a zombie or an open descriptor behind (subprocess.ts, shared with the icmp prober).
 */
import { USER_AGENT } from '../version.js';
import { curlOutputToResult } from './curl-result.js';
import { failedProbe } from './failed.js';
import { type BoundedRun, runBounded } from './subprocess.js';
import type { HttpProbeOptions, HttpSource, ProbeResult, Prober } from './types.js';

/** The `%{json}` report is ~2–15 KB (the server's certificate chain is in it); more is not curl's report. */
const MAX_STDOUT_BYTES = 256 * 1024;
/** Enough `--verbose` log for a redirect chain's connection attempts; the rest is read and dropped. */
const MAX_STDERR_BYTES = 64 * 1024;
const DEFAULT_GRACE_MS = 500;

export interface CurlProberOptions {
  /** The curl executable: a name looked up in PATH or a path. Default `curl`. */
  readonly bin?: string;
  /** How long curl may outlive the probe's timeout before it is killed. Default 500 ms. */
  readonly graceMs?: number;
}

/**
 * A curl prober. The binary is a parameter so that tests (and packagers with curl outside PATH) can
 * name it; {@link probeCurl} is the one the engine registry uses.
 */
export function createCurlProber(options: CurlProberOptions = {}): Prober {
  const bin = options.bin ?? 'curl';
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  return async (source, probeOptions, ctx) => {
    const started = ctx.clock.now();
    if (ctx.signal.aborted) {
      return failedProbe(
        source.uri,
        'internal',
        ctx.clock.now() - started,
        'probe aborted before curl started',
      );
    }
    const { timeoutMs } = probeOptions;
    const run = await runBounded(bin, curlArgs(source, probeOptions), {
      env: curlEnv(),
      killAfterMs: timeoutMs + graceMs,
      signal: ctx.signal,
      maxStdoutBytes: MAX_STDOUT_BYTES,
      maxStderrBytes: MAX_STDERR_BYTES,
    });
    return runToResult(run, source, { elapsedMs: ctx.clock.now() - started, timeoutMs }, bin);
  };
}

/** The curl engine with the `curl` found in PATH. */
export const probeCurl: Prober = createCurlProber();

/**
 * curl's argv for one probe of `target` (a bare URL: not pinned to a family). The URL comes last, after
 * `--`, so no URL can be read as an option. `--cacert` replaces curl's CA bundle but not its compiled-in
 * CA directory (/etc/ssl/certs on Debian), so the system store stays trusted as well.
 */
export function curlArgs(
  target: URL | Pick<HttpSource, 'url' | 'family'>,
  opts: HttpProbeOptions,
  userAgent = USER_AGENT,
): string[] {
  const { url, family } = target instanceof URL ? { url: target, family: null } : target;
  return [
    '--disable', // first, or it is ignored: never read a ~/.curlrc, this argv is curl's whole configuration
    '--silent',
    '--verbose', // on stderr: the one place curl 7.88 still says whether a connect was refused
    '--globoff', // [] and {} in a URL (legal in a query) are characters, not a pattern of several URLs
    '--no-keepalive',
    '--noproxy', // measure the path to the source itself, like the in-process engine, whatever *_proxy says
    '*',
    '--max-time',
    String(Math.max(opts.timeoutMs, 1) / 1000), // 0 would mean "no limit" to curl
    ...(opts.followRedirects ? ['--location', '--max-redirs', String(opts.maxRedirects)] : []),
    '--output',
    '/dev/null',
    '--write-out',
    '%{json}', // its `certs` turns on CURLOPT_CERTINFO (curl 7.88): certExpiresAt comes from it
    ...(family === null ? [] : [`-${family}`]),
    ...(opts.insecure ? ['--insecure'] : []),
    ...(opts.caFile ? ['--cacert', opts.caFile] : []),
    '--proto',
    '=http,https',
    '--proto-redir',
    '=http,https',
    '--user-agent',
    userAgent,
    // --no-keepalive only turns off TCP keepalive probes; HTTP/1.1 connections are still reused. With
    // this header every hop of a redirect chain opens its own connection (so its DNS/TCP/TLS phases are
    // measured, as the in-process engine measures them) and curl follows a redirect as soon as its
    // headers arrive, which keeps curl's summed ttfb equal to start → first byte of the final response.
    // The server closes first, so TIME_WAIT stays on its side. curl drops the header over HTTP/2.
    '--header',
    'Connection: close',
    '--',
    url.href,
  ];
}

/** How long a run took as wmn measured it, and the probe's deadline. */
interface Times {
  readonly elapsedMs: number;
  readonly timeoutMs: number;
}

function runToResult(run: BoundedRun, source: HttpSource, time: Times, bin: string): ProbeResult {
  const { elapsedMs, timeoutMs } = time;
  if (run.spawnError)
    return failedProbe(source.uri, 'internal', elapsedMs, spawnErrorText(run.spawnError, bin));
  if (run.killed === 'abort')
    return failedProbe(source.uri, 'internal', elapsedMs, 'probe aborted; curl killed');
  if (run.killed === 'deadline') {
    // The deadline passed at timeoutMs; curl lingering past it is not the network's time.
    const detail = `curl still running ${Math.round(elapsedMs)} ms after its start; killed`;
    return failedProbe(source.uri, 'timeout', timeoutMs, detail);
  }
  if (run.signal) return failedProbe(source.uri, 'internal', elapsedMs, `curl died of ${run.signal}`);
  return curlOutputToResult(source, { stdout: run.stdout, verbose: run.stderr, elapsedMs, timeoutMs });
}

function spawnErrorText(err: Error, bin: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return `curl not found (${bin}): install curl or use engine "http"`;
  return `cannot run curl (${bin}): ${err.message}`;
}

/** What curl may see of wmn's environment: never DATABASE_URL or other secrets (readable in /proc). */
const CURL_ENV_KEYS = ['PATH', 'HOME', 'TZ', 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'CURL_CA_BUNDLE'] as const;

function curlEnv(): NodeJS.ProcessEnv {
  // In the C locale curl parses `--max-time 1.5` and words its errors as curl-result.ts reads them.
  const env: NodeJS.ProcessEnv = { LC_ALL: 'C' };
  for (const key of CURL_ENV_KEYS) if (process.env[key] !== undefined) env[key] = process.env[key];
  return env;
}
