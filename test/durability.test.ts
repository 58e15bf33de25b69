/**
 * Durability of the built `wmn run` against real faults, on loopback: the database taken away mid-run
 * (through a TCP proxy the test cuts), wmn killed with SIGKILL and restarted, and wmn stopped while the
 * database is down. Every cycle wmn logged must end up stored exactly once: rows = cycles logged ×
 * sources, and a probe_id never logged (wmn not running) has no row at all: the gap is unknown.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { need } from './helpers/env.js';
import { withClient, withTestDatabase } from './helpers/pg.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { countLines, NOT_BUILT, type RunningWmn, startWmn, WMN_BUILT } from './helpers/wmn.js';
import { type Lab, startLab } from './lab/index.js';

const CYCLE = /msg=cycle /;
const SOURCES = 3;

/** Three sources: curl over HTTPS, curl with a 400 ms first byte (so curl is often in flight), http. */
function config(lab: Lab, dataDir: string): string {
  return [
    'agent: durability',
    'interval: 1s',
    'timeout: 1s',
    `data_dir: ${dataDir}`,
    'sources:',
    `  - url: ${lab.url('https', '/ok', 'localhost')}`,
    `    ca_file: ${lab.caFile}`,
    `  - ${lab.url('http', '/ttfb/400')}`,
    `  - url: ${lab.url('http', '/ok')}`,
    '    engine: http',
  ].join('\n');
}

/** The probe_ids of the cycles a run logged. */
function loggedIds(run: RunningWmn): number[] {
  return [...run.log().matchAll(/msg=cycle probe_id=(\d+)/g)].map((m) => Number(m[1]));
}

/** Per-source row counts and the probe_ids stored, from the database itself. */
async function stored(url: string): Promise<{ rows: number; pairs: number; ids: number[] }> {
  return withClient({ connectionString: url }, async (c) => {
    const totals = await c.query<{ rows: string; pairs: string }>(
      'SELECT count(*) AS rows, count(DISTINCT (probe_id, source)) AS pairs FROM favicon_metrics',
    );
    const ids = await c.query<{ probe_id: string }>(
      'SELECT DISTINCT probe_id FROM favicon_metrics ORDER BY probe_id',
    );
    const { rows, pairs } = totals.rows[0] ?? { rows: '0', pairs: '0' };
    return { rows: Number(rows), pairs: Number(pairs), ids: ids.rows.map((r) => Number(r.probe_id)) };
  });
}

/** Asserts the count rule: every logged cycle stored once per source, nothing else; reports the figures. */
async function assertCountRule(t: TestContext, url: string, logged: number[]): Promise<void> {
  const found = await stored(url);
  const expected = logged.length * SOURCES;
  t.diagnostic(`rows expected ${expected} / rows found ${found.rows} (${logged.length} cycles logged)`);
  assert.equal(new Set(logged).size, logged.length, 'no probe_id logged twice');
  assert.equal(found.rows, expected, 'rows = cycles logged × sources');
  assert.equal(found.pairs, found.rows, 'no duplicate (probe_id, source)');
  assert.deepEqual(
    found.ids,
    [...logged].sort((a, b) => a - b),
    'exactly the logged cycles are stored',
  );
}

/** The same database, reached through `proxy`. */
function viaProxy(url: string, proxy: TcpProxy): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}

/** Waits for `more` cycle lines after those already logged. */
function moreCycles(run: RunningWmn, more: number): Promise<void> {
  return run.waitFor(CYCLE, countLines(run.log(), CYCLE) + more);
}

/** Child processes of `pid` (from /proc), with their command names. */
function childrenOf(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    const stat = readStat(Number(entry));
    if (stat?.ppid === pid) out.push({ pid: Number(entry), comm: stat.comm });
  }
  return out;
}

/** A process's name, state (R, S, Z …) and parent, or null once it is gone. */
function readStat(pid: number): { comm: string; state: string; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const [state = '', ppid = ''] = text.slice(close + 2).split(' ');
    return { comm: text.slice(text.indexOf('(') + 1, close), state, ppid: Number(ppid) };
  } catch {
    return null;
  }
}

/** A curl process that has not exited (a zombie has exited and only waits to be reaped). */
function isRunning(stat: ReturnType<typeof readStat>): boolean {
  return stat !== null && stat.comm === 'curl' && stat.state !== 'Z';
}

describe('durability of wmn run', () => {
  let lab: Lab;
  let dir: string;
  before(async () => {
    lab = await startLab();
    dir = await mkdtemp(join(tmpdir(), 'wmn-durability-'));
  });
  after(async () => {
    await lab?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A fresh database behind a proxy, a fresh data_dir and config file; the proxy is closed afterwards. */
  async function setUp(t: TestContext, name: string, fn: (env: Setup) => Promise<void>): Promise<void> {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    await withTestDatabase(t, async (url) => {
      const target = new URL(url);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      try {
        const dataDir = join(dir, name);
        const configFile = join(dir, `${name}.yaml`);
        await writeFile(configFile, config(lab, dataDir));
        const env = { DATABASE_URL: viaProxy(url, proxy) };
        await fn({ url, proxy, start: () => startWmn(configFile, env) });
        assert.ok(proxy.accepted() > 0, 'wmn reached the database through the proxy');
      } finally {
        await proxy.close();
      }
    });
  }

  it('loses and duplicates nothing across a PostgreSQL outage mid-run', async (t) => {
    await setUp(t, 'outage', async ({ url, proxy, start }) => {
      const run = start();
      await run.waitFor(CYCLE, 3);
      await proxy.cut();
      await moreCycles(run, 5); // ~5 s: back before the writer's 4th retry (backoff 0.5, 1, 2, 4 s)
      await proxy.restore();
      await run.waitFor(/msg="database writes recovered"/, 1, 40_000);
      await run.waitFor(/msg="backlog written"/);
      await moreCycles(run, 2);
      assert.equal(await run.stop(), 0, run.log());

      const log = run.log();
      assert.match(log, /level=error msg="database write failed; cycles stay spooled and are retried"/);
      assert.match(log, /msg="agent stopped".* queued=0 .*replayed=([1-9]\d*)/);
      const logged = loggedIds(run);
      assert.equal(
        logged.at(-1)! - logged[0]! + 1,
        logged.length,
        `consecutive probe_ids, outage included\n${log}`,
      );
      await assertCountRule(t, url, logged);
    });
  });

  it('keeps every logged cycle across kill -9 and a restart, with the time it was down left as a gap', async (t) => {
    await setUp(t, 'kill', async ({ url, proxy, start }) => {
      const first = start();
      await first.waitFor(CYCLE, 3);
      // With the database away, the last cycles before the kill exist only in the spool.
      await proxy.cut();
      await moreCycles(first, 3);
      await sleep(700); // into the next cycle: its curl probes (400 ms to first byte) are in flight
      const pid = first.child.pid!;
      const curls = childrenOf(pid).filter((c) => c.comm === 'curl');
      first.child.kill('SIGKILL');
      await first.exited;
      const orphans = curls.filter((c) => isRunning(readStat(c.pid)));
      await sleep(1_500); // past the 1 s probe deadline of any orphan
      const states = curls.map((c) => readStat(c.pid));
      const running = states.filter(isRunning);
      const zombies = states.filter((s) => s?.state === 'Z');
      t.diagnostic(
        `curl children at the kill: ${curls.length}; still running after wmn died: ${orphans.length}; ` +
          `running 1.5 s later: ${running.length}; zombies left to the new parent (pid ${zombies[0]?.ppid ?? '-'}): ${zombies.length}`,
      );
      assert.deepEqual(running, [], 'no curl outlives its deadline after wmn is killed');

      await proxy.restore();
      const second = start();
      await second.waitFor(/msg="backlog written"/);
      await moreCycles(second, 2);
      assert.equal(await second.stop(), 0, second.log());

      assert.match(
        second.log(),
        /msg="spool holds cycles from an earlier run: replaying them" records=[3-9]/,
      );
      const before = loggedIds(first);
      const afterRestart = loggedIds(second);
      assert.ok(afterRestart[0]! - before.at(-1)! > 1, 'the seconds wmn was down are a gap of probe_ids');
      await assertCountRule(t, url, [...before, ...afterRestart]);
    });
  });

  it('stops cleanly while the database is down, and the spooled cycles arrive at the next start', async (t) => {
    await setUp(t, 'stop', async ({ url, proxy, start }) => {
      const first = start();
      await first.waitFor(CYCLE, 2);
      await proxy.cut();
      await moreCycles(first, 3);
      assert.equal(await first.stop(), 0, `spooled cycles are safe: exit 0\n${first.log()}`);
      const left = /msg="cycles left in the spool: they are written at the next start" cycles=(\d+)/.exec(
        first.log(),
      );
      assert.ok(left && Number(left[1]) >= 3, first.log());
      assert.doesNotMatch(first.log(), /stopping with cycles not written/);

      await proxy.restore();
      const second = start();
      await second.waitFor(/msg="backlog written"/);
      await moreCycles(second, 1);
      assert.equal(await second.stop(), 0, second.log());
      t.diagnostic(`cycles spooled at the stop: ${left[1]}`);
      await assertCountRule(t, url, [...loggedIds(first), ...loggedIds(second)]);
    });
  });
});

interface Setup {
  /** The test database, reached directly. */
  readonly url: string;
  readonly proxy: TcpProxy;
  /** Starts `wmn run` on this setup's config, database (through the proxy) and data_dir. */
  start(): RunningWmn;
}
