/**
 * The icmp:// prober: one `fping` run per probe (fping ≥ 5.0, for its line per lost packet), started
 * with an argv array (never a shell), no stdin, and only PATH and LC_ALL in its environment.
 *
 * ## Pacing
 * `fping -C N -p P -t W` sends N echo requests P ms apart and waits W ms for each reply, so it is done
 * by (N−1)·P + W. The budget B is the probe's timeout less the time the name lookup took. The requests
 * go out over the first half of it and every reply may take the rest, at least half of B:
 * P = max(10, ⌊B / 2N⌋) and W = B − (N−1)·P. One request waits the whole budget. 10 ms is fping's
 * minimum period to one target; a count that cannot fit that way (N·10 ms > B) runs past the budget
 * and is cut at the hard deadline.
 *
 * ## Reading its output
 * fping prints a line per reply or lost request on stdout, its `-C` summary (`addr : 0.05 - 0.07`,
 * one RTT or `-` per request) and any ICMP error it received (`ICMP Host Unreachable from … for ICMP
 * Echo sent to …`) on stderr. wmn does not pass `-q`, which would hide those ICMP errors. Exit code 1
 * ("some target unreachable") only says that no reply came back; what tells an unreachable host from a
 * silent one is an ICMP error, or a request fping could not send at all (no route: fping then prints
 * neither a reply nor a "timed out" line for it, and no error).
 *
 * ## Deadline and abort
 * fping is SIGKILLed when it outlives its budget by {@link GRACE_MS}, or at once on abort; the probe
 * settles only once it has been reaped and its pipes closed, so no process or descriptor outlives it
 * (subprocess.ts, shared with the curl engine).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { defaultGateway } from './gateway.js';
import { type BoundedRun, runBounded } from './subprocess.js';
import type { ErrorClass, IcmpProbeOptions, IcmpSource, ProbeContext, ProbeResult, Prober } from './types.js';

/** fping's minimum period between two requests to one target. */
const MIN_PERIOD_MS = 10;
/** How long fping may outlive its budget (process start and exit) before it is killed. */
const GRACE_MS = 300;
/** A line per request is ~60 bytes and count is at most 100; anything past this is not fping's report. */
const MAX_OUTPUT_BYTES = 64 * 1024;

/** Where a probe's echo requests go. */
interface Target {
  readonly address: string;
  readonly family: 4 | 6;
  /** The name lookup's duration; null for an IP literal or the gateway. */
  readonly dnsMs: number | null;
}

/** Why a probe failed: its error class and a detail for the logs. */
interface Failure {
  readonly error: ErrorClass;
  readonly detail: string;
}

/** The probe as far as it got: enough to build any result from. */
interface Probe {
  readonly source: IcmpSource;
  readonly options: IcmpProbeOptions;
  readonly ctx: ProbeContext;
  readonly started: number;
}

export const probeIcmp: Prober<IcmpSource> = async (source, options, ctx) => {
  const probe: Probe = { source, options, ctx, started: ctx.clock.now() };
  if (ctx.signal.aborted) return failed(probe, 'timeout', 'aborted');
  const target = await findTarget(probe);
  if ('error' in target) return failed(probe, target.error, target.detail);
  const budgetMs = options.timeoutMs - elapsed(probe);
  if (budgetMs < MIN_PERIOD_MS) return failed(probe, 'timeout', 'no time left to ping after the name lookup');
  const args = fpingArgs(target, options.count, budgetMs);
  const run = await runBounded('fping', args, {
    env: fpingEnv(),
    killAfterMs: budgetMs + GRACE_MS,
    signal: ctx.signal,
    maxStdoutBytes: MAX_OUTPUT_BYTES,
    maxStderrBytes: MAX_OUTPUT_BYTES,
  });
  return runToResult(probe, target, run);
};

function elapsed(probe: Probe): number {
  return probe.ctx.clock.now() - probe.started;
}

async function findTarget(probe: Probe): Promise<Target | Failure> {
  const { host, family } = probe.source;
  if (host === 'gateway') {
    const address = await defaultGateway(family);
    if (address === null) return { error: 'unreachable', detail: 'no default route' };
    return { address, family: isIP(address) === 6 ? 6 : 4, dnsMs: null };
  }
  const literal = isIP(host);
  if (literal === 4 || literal === 6) return { address: host, family: literal, dnsMs: null };
  return resolve(probe, host);
}

/** Resolves `host` through the system resolver (as every program on the machine does), timed as dnsMs. */
async function resolve(probe: Probe, host: string): Promise<Target | Failure> {
  const { signal } = probe.ctx;
  const answer = await settle(
    lookup(host, { family: probe.source.family ?? 0 }),
    probe.options.timeoutMs,
    signal,
  );
  if (answer.outcome === 'abort') return { error: 'timeout', detail: 'aborted' };
  // Unresolved at the deadline is the contract's `dns` ("no answer"), which localises the fault.
  if (answer.outcome === 'deadline') return { error: 'dns', detail: `resolving ${host} took too long` };
  if (answer.outcome === 'error')
    return { error: 'dns', detail: `${errorCode(answer.error)} resolving ${host}` };
  const { address, family } = answer.value;
  return { address, family: family === 6 ? 6 : 4, dnsMs: elapsed(probe) };
}

type Settled<T> =
  | { readonly outcome: 'value'; readonly value: T }
  | { readonly outcome: 'error'; readonly error: unknown }
  | { readonly outcome: 'deadline' }
  | { readonly outcome: 'abort' };

/** Waits for `work`, but no longer than `ms` or an abort (dns.lookup itself cannot be cancelled). */
function settle<T>(work: Promise<T>, ms: number, signal: AbortSignal): Promise<Settled<T>> {
  return new Promise((done) => {
    const finish = (result: Settled<T>) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      done(result);
    };
    const onAbort = () => finish({ outcome: 'abort' });
    const timer = setTimeout(() => finish({ outcome: 'deadline' }), ms);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => finish({ outcome: 'value', value }),
      (error: unknown) => finish({ outcome: 'error', error }),
    );
  });
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

/** fping's argv for one probe, paced as the module comment explains. The address comes after `--`. */
export function fpingArgs(
  target: Pick<Target, 'address' | 'family'>,
  count: number,
  budgetMs: number,
): string[] {
  const periodMs = Math.max(MIN_PERIOD_MS, Math.floor(budgetMs / (2 * count)));
  const waitMs = Math.max(MIN_PERIOD_MS, Math.floor(budgetMs - (count - 1) * periodMs));
  return [
    ...['-C', String(count), '-p', String(periodMs), '-t', String(waitMs)],
    // Retries and their backoff belong to fping's default mode; pinned so no version retries in -C mode.
    ...['-r', '0', '-B', '1'],
    `-${target.family}`,
    '--',
    target.address,
  ];
}

/** What fping may see of wmn's environment: never DATABASE_URL or other secrets (readable in /proc). */
function fpingEnv(): NodeJS.ProcessEnv {
  return { LC_ALL: 'C', ...(process.env.PATH === undefined ? {} : { PATH: process.env.PATH }) };
}

function runToResult(probe: Probe, target: Target, run: BoundedRun): ProbeResult {
  const at = { dnsMs: target.dnsMs, remoteIp: target.address };
  if (run.spawnError) return failed(probe, 'internal', spawnErrorText(run.spawnError), at);
  if (run.killed === 'abort') return failed(probe, 'timeout', 'aborted', at);
  if (run.killed === 'deadline') return failed(probe, 'timeout', 'fping outlived the deadline; killed', at);
  if (run.signal) return failed(probe, 'internal', `fping died of ${run.signal}`, at);
  const samplesMs = parseSummary(run.stderr, target.address);
  if (!samplesMs || run.code === 3 || run.code === 4) return failed(probe, 'internal', fpingFault(run), at);
  const replies = samplesMs.filter((s): s is number => s !== null);
  if (replies.length === 0) {
    const { error, detail } = silence(run, samplesMs.length, target.address);
    return failed(probe, error, detail, { ...at, samplesMs });
  }
  const totalMs = replies.reduce((sum, s) => sum + s, 0) / replies.length;
  return { ...answered(probe.source, totalMs), ...at, samplesMs };
}

function answered(source: IcmpSource, totalMs: number) {
  return {
    source: source.uri,
    disconnected: false,
    status: null,
    error: null,
    ...NO_PHASES,
    totalMs,
  } as const;
}

const NO_PHASES = { connectMs: null, tlsMs: null, ttfbMs: null } as const;

/** A failed row; totalMs runs from the start of the probe, capped at the deadline. */
function failed(
  probe: Probe,
  error: ErrorClass,
  detail: string,
  more: Partial<Pick<ProbeResult, 'dnsMs' | 'remoteIp' | 'samplesMs'>> = {},
): ProbeResult {
  const totalMs = Math.min(elapsed(probe), probe.options.timeoutMs);
  return {
    source: probe.source.uri,
    disconnected: true,
    status: null,
    error,
    dnsMs: null,
    remoteIp: null,
    ...NO_PHASES,
    ...more,
    totalMs,
    detail,
  };
}

/**
 * Every request's RTT (null when lost) from fping's `-C` summary on stderr: the line `ADDR : V V …` for
 * our address, or the only line of that shape should fping spell the address its own way.
 */
export function parseSummary(stderr: string, address: string): (number | null)[] | null {
  const lines = [...stderr.matchAll(/^(\S+) :((?: (?:-|\d+(?:\.\d+)?))+)[ \t]*$/gm)];
  const line = lines.find((m) => m[1] === address) ?? (lines.length === 1 ? lines[0] : undefined);
  if (!line?.[2]) return null;
  return line[2]
    .trim()
    .split(' ')
    .map((v) => (v === '-' ? null : Number(v)));
}

/** Why no reply came: an ICMP error fping received, requests it could not send, or silence. */
function silence(run: BoundedRun, sent: number, address: string): Failure {
  const icmpError = /^.+ from \S+ for ICMP Echo sent to \S+$/m.exec(run.stderr);
  if (icmpError) return { error: 'unreachable', detail: icmpError[0] };
  const timedOut = run.stdout.match(/ timed out /g)?.length ?? 0;
  if (timedOut < sent)
    return { error: 'unreachable', detail: `fping could not send to ${address} (no route?)` };
  return { error: 'timeout', detail: `no echo reply from ${address}` };
}

/** fping ran but did not probe: bad arguments (3), a failed system call (4), or no summary at all. */
function fpingFault(run: BoundedRun): string {
  const said = run.stderr.trim().split('\n')[0] ?? '';
  if (/can't create socket|Operation not permitted/i.test(run.stderr)) {
    return (
      `fping cannot open an ICMP socket (${said}): give it CAP_NET_RAW ` +
      '(setcap cap_net_raw+ep "$(command -v fping)"; Debian\'s package does) or run wmn as root; ' +
      'unprivileged ICMP through sysctl net.ipv4.ping_group_range needs fping ≥ 5.2 (5.1 ignores the replies)'
    );
  }
  return `fping exited with code ${run.code}${said ? `: ${said}` : ' without a report'}`;
}

function spawnErrorText(err: Error): string {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'fping not found in PATH: apt install fping';
  return `cannot run fping: ${err.message}`;
}
