/**
 * Soak: the built `wmn run` probing a mix of healthy and hostile lab targets with both engines every
 * second, for minutes, while its RSS, open descriptors and child processes are sampled from /proc.
 * A leak shows as growth after warm-up, or as a child process (or zombie) that outlives a sampling
 * interval when no probe's deadline is longer than a second.
 *
 *   npm run soak [-- --minutes N]        (builds first; or: node --import tsx bench/soak.ts)
 *
 * Needs curl, openssl and the machine's PostgreSQL server (WMN_TEST_PG_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres): the rows go to a fresh database, dropped afterwards.
 * Prints a table, writes bench/soak-results.json, exits 1 when a bound below is broken.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TEST_PG_URL } from '../test/helpers/env.js';
import { createDatabase, dropDatabase, withClient } from '../test/helpers/pg.js';
import { childrenOf } from '../test/helpers/procs.js';
import { countLines, NOT_BUILT, type RunningWmn, startWmn, WMN_BUILT } from '../test/helpers/wmn.js';
import { LAB_TARGETS, type LabTarget } from '../test/lab/index.js';
import type { RemoteLab } from '../test/lab/isolated.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS_FILE = join(ROOT, 'bench', 'soak-results.json');
const SAMPLE_EVERY_MS = 10_000;
/** Samples are taken this far into a second, so each sees the same point of a cycle's probes. */
const SAMPLE_PHASE_MS = 500;
/**
 * The first samples are not judged: RSS climbs for a minute or two to its working size (V8's heap, the
 * allocator's arenas after the 1 GB reads), then stays within ±5 MB (a 10-minute run here: 121 MB at
 * start, 137–147 MB from minute 2 to 10).
 */
const WARM_UP_S = 60;
/**
 * Bounds on growth from the first to the last third of the samples after warm-up (medians, so one
 * sample catching a burst of in-flight probes does not count). A leak of ~10 KB per probe (26 a second)
 * breaks the RSS bound in a 3-minute run, a descriptor lost every 15 s the descriptor bound; any child
 * that outlives a sampling interval fails the run whatever the counts.
 */
const BOUNDS = { rssMb: 20, fds: 4, children: 1 } as const;
const CYCLE = /msg=cycle /;
/** How long wmn may take to stop on SIGTERM: its probes' deadlines, then the last write. */
const STOP_WAIT_MS = 15_000;

/** Per-engine targets: [lab target, path, per-source options]. Every deadline is under a second. */
const TARGETS: ReadonlyArray<readonly [LabTarget, string, Record<string, unknown>]> = [
  ['https', '/ok', {}],
  ['http', '/ttfb/50', {}],
  ['hang', '/', {}],
  ['trickleHead', '/', {}],
  ['trickleBody', '/', {}],
  // 1 GB at up to ~2 GB/s would keep both cores busy; 300 ms of it a second is hostile enough.
  ['https', `/big/${2 ** 30}`, { timeout: '300ms' }],
  ['endlessHead', '/', {}],
  ['resetHandshake', '/', {}],
  ['hangAfterHandshake', '/', {}],
  ['expiredCert', '/ok', {}],
  ['selfSigned', '/ok', {}],
  ['https', '/redirect-loop', {}],
  ['garbage', '/', {}],
];
const ENGINES = ['curl', 'http'] as const;

interface Sample {
  /** Seconds since the first sample. */
  readonly t: number;
  readonly rssMb: number;
  readonly fds: number;
  readonly children: number;
  readonly zombies: number;
  readonly cycles: number;
  /** Pids of the children seen, to find one that outlived a sampling interval. */
  readonly childPids: readonly number[];
}

interface Verdict {
  readonly growth: { readonly rssMb: number; readonly fds: number; readonly children: number };
  readonly problems: readonly string[];
}

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '3' } } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) {
  process.stderr.write('usage: soak.ts [--minutes N]   (N > 0; default 3)\n');
  process.exit(2);
}
if (!WMN_BUILT) {
  process.stderr.write(`${NOT_BUILT}\n`);
  process.exit(2);
}
process.exit(await soak(minutes));

async function soak(minutes: number): Promise<number> {
  const lab = await startLabProcess();
  const dir = mkdtempSync(join(tmpdir(), 'wmn-soak-'));
  try {
    return await withDatabase((url) => soakAgainst(lab.remote, dir, url, minutes));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await lab.stop();
  }
}

/** Runs wmn against `lab` for `minutes`, sampling it, then judges the samples and the rows it stored. */
async function soakAgainst(lab: RemoteLab, dir: string, url: string, minutes: number): Promise<number> {
  const configFile = join(dir, 'wmn.yaml');
  writeFileSync(configFile, soakConfig(lab, dir));
  const sources = TARGETS.length * ENGINES.length;
  console.log(`soak: ${minutes} min, ${sources} sources (${TARGETS.length} targets × curl, http), 1 Hz`);
  const run = startWmn(configFile, { DATABASE_URL: url });
  try {
    await run.waitFor(CYCLE, 1);
    const pid = run.child.pid ?? 0;
    const samples = await sampleFor(minutes * 60_000, (t) => sample(pid, t, countLines(run.log(), CYCLE)));
    const exitCode = await stopWithin(run, STOP_WAIT_MS);
    const rows = await countRows(url);
    return report(samples, { minutes, exitCode, rows, sources, log: run.log() });
  } finally {
    if (run.child.exitCode === null && run.child.signalCode === null) await stopWithin(run, STOP_WAIT_MS);
  }
}

/** SIGTERM, and SIGKILL if wmn has not exited `ms` later (then the exit code is null). */
async function stopWithin(run: RunningWmn, ms: number): Promise<number | null> {
  const timer = setTimeout(() => {
    console.log(`wmn still running ${ms} ms after SIGTERM: SIGKILL`);
    run.child.kill('SIGKILL');
  }, ms);
  try {
    return await run.stop();
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` with the URL of a fresh database on the machine's server, dropped afterwards. */
async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const admin = { connectionString: TEST_PG_URL };
  const name = `wmn_soak_${process.pid}_${randomBytes(4).toString('hex')}`;
  await createDatabase(admin, name);
  try {
    const url = new URL(TEST_PG_URL);
    url.pathname = `/${name}`;
    return await fn(url.toString());
  } finally {
    await dropDatabase(admin, name);
  }
}

/** The lab as its own process (test/lab/serve.ts), so wmn's figures are wmn's alone. */
async function startLabProcess(): Promise<{ remote: RemoteLab; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'test/lab/serve.ts'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the lab exited (${code}) before listening`)));
  });
  return {
    remote: JSON.parse(first) as RemoteLab,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return; // a Ctrl-C reached it too
      const exited = once(child, 'exit');
      child.stdin?.end(); // serve.ts stops when its stdin closes
      await exited;
    },
  };
}

/** The soak's wmn.yaml: every target once per engine (a query string keeps the source URIs distinct). */
function soakConfig(lab: RemoteLab, dir: string): string {
  const lines = ['agent: soak', 'interval: 1s', 'timeout: 800ms', `data_dir: ${dir}`, 'sources:'];
  for (const engine of ENGINES) {
    for (const [target, path, options] of TARGETS) {
      const scheme = LAB_TARGETS[target];
      const query = `${path.includes('?') ? '&' : '?'}engine=${engine}`;
      lines.push(`  - url: ${scheme}://127.0.0.1:${lab.ports[target]}${path}${query}`);
      lines.push(`    engine: ${engine}`);
      if (scheme === 'https') lines.push(`    ca_file: ${lab.caFile}`);
      for (const [key, value] of Object.entries(options)) lines.push(`    ${key}: ${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Takes a sample every {@link SAMPLE_EVERY_MS} at the same point of a second, for `durationMs`, or until
 * SIGINT/SIGTERM: the soak then ends early but still stops wmn, judges, and drops its database.
 */
async function sampleFor(durationMs: number, take: (t: number) => Sample): Promise<Sample[]> {
  const interrupted = new AbortController();
  const interrupt = () => interrupted.abort();
  process.once('SIGINT', interrupt).once('SIGTERM', interrupt);
  const start = Math.ceil(Date.now() / 1000) * 1000 + SAMPLE_PHASE_MS;
  const samples: Sample[] = [];
  console.log('   t(s)  RSS(MB)  FDs  children  zombies  cycles');
  try {
    for (let i = 0; i * SAMPLE_EVERY_MS <= durationMs; i++) {
      const wait = Math.max(0, start + i * SAMPLE_EVERY_MS - Date.now());
      await sleep(wait, undefined, { signal: interrupted.signal }).catch(() => undefined);
      if (interrupted.signal.aborted) break;
      const s = take((i * SAMPLE_EVERY_MS) / 1000);
      samples.push(s);
      console.log(row(s));
    }
  } finally {
    // A second signal, during the clean-up, ends the soak at once.
    process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
  }
  return samples;
}

/** wmn's RSS, descriptors and children now, from /proc. */
function sample(pid: number, t: number, cycles: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? Number.NaN);
  const kids = childrenOf(pid);
  return {
    t,
    rssMb: Math.round(rssKb / 102.4) / 10,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    children: kids.length,
    zombies: kids.filter((k) => k.state === 'Z').length,
    cycles,
    childPids: kids.map((k) => k.pid),
  };
}

async function countRows(url: string): Promise<{ found: number; cycles: number }> {
  return withClient({ connectionString: url }, async (client) => {
    const sql = 'SELECT count(*)::int AS found, count(DISTINCT probe_id)::int AS cycles FROM favicon_metrics';
    const { rows } = await client.query<{ found: number; cycles: number }>(sql);
    return rows[0] ?? { found: 0, cycles: 0 };
  });
}

/** Growth from the first to the last third of the samples after warm-up, and children that lingered. */
function judge(samples: readonly Sample[]): Verdict {
  const judged = samples.filter((s) => s.t >= WARM_UP_S);
  const third = Math.max(1, Math.floor(judged.length / 3));
  const growth = (get: (s: Sample) => number) =>
    Math.round((median(judged.slice(-third).map(get)) - median(judged.slice(0, third).map(get))) * 10) / 10;
  const g = { rssMb: growth((s) => s.rssMb), fds: growth((s) => s.fds), children: growth((s) => s.children) };
  // Seen in two consecutive samples: alive (or unreaped) for over 10 s, where no deadline exceeds 1 s.
  const lingering = [
    ...new Set(
      samples.flatMap((s, i) => s.childPids.filter((pid) => samples[i - 1]?.childPids.includes(pid))),
    ),
  ];
  const problems: string[] = [];
  const check = (broken: boolean, problem: string) => {
    if (broken) problems.push(problem);
  };
  check(judged.length < 3, `too short to judge: ${judged.length} samples after warm-up`);
  check(g.rssMb > BOUNDS.rssMb, `RSS grew ${g.rssMb} MB (bound ${BOUNDS.rssMb})`);
  check(g.fds > BOUNDS.fds, `descriptors grew by ${g.fds} (bound ${BOUNDS.fds})`);
  check(g.children > BOUNDS.children, `children grew by ${g.children} (bound ${BOUNDS.children})`);
  const pids = lingering.slice(0, 5).join(', ');
  check(lingering.length > 0, `${lingering.length} children alive over 10 s (pids ${pids}…)`);
  return { growth: g, problems };
}

interface RunFacts {
  readonly minutes: number;
  readonly exitCode: number | null;
  readonly rows: { readonly found: number; readonly cycles: number };
  readonly sources: number;
  readonly log: string;
}

/** Prints the verdict, writes the results file, and returns the exit code. */
function report(samples: readonly Sample[], run: RunFacts): number {
  const verdict = judge(samples);
  const expectedRows = run.rows.cycles * run.sources;
  const problems = [
    ...verdict.problems,
    ...(run.exitCode === 0 ? [] : [`wmn exited ${run.exitCode} on SIGTERM`]),
    ...(run.rows.found === expectedRows ? [] : [`${run.rows.found} rows for ${expectedRows} expected`]),
  ];
  const lateMs = [...run.log.matchAll(/msg=cycle .*late_ms=([\d.]+)/g)].map((m) => Number(m[1]));
  const summary = {
    growthAfterWarmUp: verdict.growth,
    bounds: BOUNDS,
    zombiesSeen: samples.reduce((n, s) => n + s.zombies, 0),
    rows: { found: run.rows.found, expected: expectedRows, cycles: run.rows.cycles },
    tickLateMs: { p50: percentile(lateMs, 0.5), max: Math.max(...lateMs) },
    wmnExitCode: run.exitCode,
  };
  const results = {
    date: new Date().toISOString(),
    minutes: run.minutes,
    sources: run.sources,
    warmUpSeconds: WARM_UP_S,
    samples: samples.map(({ childPids: _, ...s }) => s),
    summary,
    problems,
    pass: problems.length === 0,
  };
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(summary));
  console.log(problems.length === 0 ? 'PASS: flat' : `FAIL:\n  ${problems.join('\n  ')}`);
  console.log(`results: ${RESULTS_FILE}`);
  return problems.length === 0 ? 0 : 1;
}

function row(s: Sample): string {
  const cells = [s.t, s.rssMb.toFixed(1), s.fds, s.children, s.zombies, s.cycles];
  const widths = [7, 9, 5, 10, 9, 8];
  return cells.map((c, i) => String(c).padStart(widths[i] ?? 8)).join('');
}

function median(xs: readonly number[]): number {
  return percentile(xs, 0.5);
}

function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}
