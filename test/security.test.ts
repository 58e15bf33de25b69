/**
 * Secrets and SQL roles, checked on the built `wmn` as a user runs it (docs/security.md is the policy).
 *
 * A database password must never reach an argv (`ps` shows every argv to every user), a log line, an
 * error message, or the environment of a process wmn starts. The runs below give wmn a distinctive
 * password (in DATABASE_URL, or in a password file), watch /proc while it runs, and search everything
 * for it. The roles test applies deploy/sql/roles.sql, the same file docs/security.md shows, and proves
 * what each role can and cannot do.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import type pg from 'pg';
import { need } from './helpers/env.js';
import { withClient, withTestDatabase } from './helpers/pg.js';
import { NOT_BUILT, type RunningWmn, startWmn, WMN, WMN_BUILT } from './helpers/wmn.js';

const run = promisify(execFile);
const ROLES_SQL = new URL('../deploy/sql/roles.sql', import.meta.url).pathname;
const SECURITY_DOC = new URL('../docs/security.md', import.meta.url).pathname;
const HAS_PROC = readdirSafe('/proc').includes('self');
const HAS_PSQL = spawnSync('psql', ['--version']).status === 0;

// The distinctive part is hex, which no encoding changes, so one search finds the password whether it
// leaks raw, percent-encoded or inside a quoted log value. The rest exercises URL encoding.
const NEEDLE = `wmnpw${randomBytes(8).toString('hex')}`;
const PASSWORD = `S3:cr@t/${NEEDLE}%`;

// --- the world around wmn: a slow source, a role with a password, a config ----------------------------

/**
 * A source that answers after `delayMs`: each curl probe then lives that long, so polling /proc
 * cannot miss it.
 */
async function startSlowSource(delayMs: number): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    setTimeout(() => res.end('ok'), delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, server };
}

/** A TCP port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `url` (a fresh test database) reached as `user`, with `password` when given. */
function asUser(url: string, user: string, password?: string, port?: number): string {
  const u = new URL(url);
  u.username = user;
  u.password = password === undefined ? '' : encodeURIComponent(password);
  if (port !== undefined) u.port = String(port);
  return u.toString();
}

function uniqueRole(kind: string): string {
  return `wmn_${kind}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/** Runs `fn` with a fresh database owned by a new login role whose password is {@link PASSWORD}. */
async function withSecretRole(
  t: TestContext,
  fn: (db: string, role: string) => Promise<void>,
): Promise<void> {
  const role = uniqueRole('sec');
  let admin = '';
  try {
    await withTestDatabase(t, async (db) => {
      admin = db;
      await withClient({ connectionString: db }, async (c) => {
        await c.query(`CREATE ROLE ${c.escapeIdentifier(role)} LOGIN PASSWORD ${c.escapeLiteral(PASSWORD)}`);
        const name = new URL(db).pathname.slice(1);
        await c.query(`ALTER DATABASE ${c.escapeIdentifier(name)} OWNER TO ${c.escapeIdentifier(role)}`);
      });
      await fn(db, role);
    });
  } finally {
    if (admin) await dropRoles(admin, [role]);
  }
}

/** Drops roles once their database is gone (a role that owns objects cannot be dropped). */
async function dropRoles(anyDb: string, roles: readonly string[]): Promise<void> {
  const server = new URL(anyDb);
  server.pathname = '/postgres';
  await withClient({ connectionString: server.toString() }, async (c) => {
    for (const role of roles) await c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(role)}`);
  });
}

async function writeConfig(dir: string, source: string, extra = ''): Promise<string> {
  const file = join(dir, 'wmn.yaml');
  await writeFile(
    file,
    ['interval: 1s', 'timeout: 1.5s', 'engine: curl', 'sources:', `  - ${source}`, extra].join('\n'),
  );
  return file;
}

// --- watching the processes -----------------------------------------------------------------------------

interface Sighting {
  readonly pid: number;
  readonly argv: string;
  /** The environment, for processes wmn started (its own is what the test gave it). */
  readonly environ: string;
}

/** What a /proc file holds, or '' once the process is gone. */
function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Parent of every live process. /proc/PID/stat is "pid (comm) state ppid ...", comm may hold spaces. */
function parentMap(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSafe('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProc(Number(entry), 'stat');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number.isInteger(ppid)) parents.set(Number(entry), ppid);
  }
  return parents;
}

/**
 * Finds `root`, its descendants, and the processes whose argv names `marker` with theirs: pg_ctl
 * daemonises PostgreSQL, so the embedded server's processes are not wmn's descendants. A pid's argv is
 * matched against the marker once, when first seen, which keeps each poll cheap on a busy machine.
 */
function relatedFinder(root: number, marker: string | undefined): () => number[] {
  const checked = new Set<number>();
  const marked = new Set<number>([root]);
  return () => {
    const parents = parentMap();
    for (const pid of parents.keys()) {
      if (checked.has(pid)) continue;
      checked.add(pid);
      if (marker && readProc(pid, 'cmdline').includes(marker)) marked.add(pid);
    }
    return descendantsOf(marked, parents);
  };
}

function descendantsOf(roots: ReadonlySet<number>, parents: ReadonlyMap<number, number>): number[] {
  const found = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (found.has(ppid) && !found.has(pid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return [...found];
}

/** Polls /proc every 20 ms and keeps every argv and environment seen, per pid. */
function watchProcesses(root: number, marker?: string): { stop(): Sighting[] } {
  const seen = new Map<string, Sighting>();
  const related = relatedFinder(root, marker);
  const rootArgv = readProc(root, 'cmdline');
  const poll = () => {
    for (const pid of related()) {
      const argv = readProc(pid, 'cmdline');
      // A child caught between fork and exec still shows wmn's own argv and environment: not a leak.
      if (argv === '' || (pid !== root && argv === rootArgv)) continue;
      const environ = pid === root ? '' : readProc(pid, 'environ');
      seen.set(`${pid} ${argv}`, { pid, argv, environ });
    }
  };
  poll();
  const timer = setInterval(poll, 20);
  return {
    stop() {
      clearInterval(timer);
      poll();
      return [...seen.values()];
    },
  };
}

/** The wmn run, watched, from start to SIGTERM after `cycles` cycles. */
async function watchedRun(
  config: string,
  env: NodeJS.ProcessEnv,
  opts: { cycles: number; marker?: string },
): Promise<{ sightings: Sighting[]; output: string; code: number | null }> {
  const wmn = startWmn(config, env);
  let stdout = '';
  wmn.child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const watch = watchProcesses(wmn.child.pid!, opts.marker);
  let sightings: Sighting[] = [];
  try {
    await wmn.waitFor(/msg=cycle /, opts.cycles, 30_000);
  } finally {
    try {
      await stopAndWait(wmn); // watched to the end: pg_ctl stop runs during shutdown
    } finally {
      sightings = watch.stop();
    }
  }
  return { sightings, output: `${wmn.log()}${stdout}`, code: wmn.child.exitCode };
}

async function stopAndWait(wmn: RunningWmn): Promise<void> {
  if (wmn.child.exitCode === null && wmn.child.signalCode === null) await wmn.stop();
}

const isCurl = (s: Sighting) => /(^|\/)curl /.test(s.argv);

function assertNoSecret(text: string, where: string): void {
  assert.ok(!text.includes(NEEDLE), `the password appears in ${where}:\n${text}`);
}

/** The checks every run must pass: argv (wmn's and its children's), the log, the children's environment. */
async function checkRun(t: TestContext, result: Awaited<ReturnType<typeof watchedRun>>) {
  await t.test('no argv holds the password', () => {
    assert.ok(result.sightings.filter(isCurl).length >= 2, 'the watch saw the curl probes');
    for (const s of result.sightings) assertNoSecret(s.argv, `the argv of pid ${s.pid}`);
  });
  await t.test('the log holds no password', () => assertNoSecret(result.output, 'the output'));
  await t.test('no process wmn starts inherits the password', () => {
    for (const s of result.sightings)
      assertNoSecret(s.environ, `the environment of pid ${s.pid} (${s.argv})`);
  });
}

/** Runs the built CLI once and returns its exit code and everything it printed. */
async function wmnOnce(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [WMN, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

// --- the tests --------------------------------------------------------------------------------------

describe('secrets: the database password', () => {
  let dir = '';
  let source: { url: string; server: Server };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wmn-security-'));
    source = await startSlowSource(600);
  });
  after(async () => {
    source.server.closeAllConnections();
    await new Promise((resolve) => source.server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('given in DATABASE_URL, reaches no argv, no log line and no child process', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT) || !need(t, HAS_PROC, 'no /proc to watch processes in')) return;
    await withSecretRole(t, async (db, role) => {
      const config = await writeConfig(dir, source.url);
      const result = await watchedRun(config, { DATABASE_URL: asUser(db, role, PASSWORD) }, { cycles: 3 });
      await checkRun(t, result);
    });
  });

  it('given in a password file, reaches no argv, no log line and no child process', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT) || !need(t, HAS_PROC, 'no /proc to watch processes in')) return;
    await withSecretRole(t, async (db, role) => {
      const passwordFile = join(dir, 'db-password');
      await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
      const config = await writeConfig(dir, source.url);
      const env = { DATABASE_URL: asUser(db, role), WMN_DATABASE_PASSWORD_FILE: passwordFile };
      const result = await watchedRun(config, env, { cycles: 3 });
      await checkRun(t, result);
    });
  });

  it('`wmn config check` shows the database URL masked, and a bad URL without echoing it', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    const config = await writeConfig(dir, source.url);
    const good = await wmnOnce(['config', 'check', config], {
      DATABASE_URL: `postgres://wmn:${encodeURIComponent(PASSWORD)}@db.example:5432/wmn`,
    });
    assert.equal(good.code, 0, good.output);
    assert.match(good.output, /database: postgres:\/\/wmn:\*\*\*@db\.example:5432\/wmn/);
    assertNoSecret(good.output, 'config check');
    const bad = await wmnOnce(['config', 'check', config], {
      DATABASE_URL: `postgres://wmn:${encodeURIComponent(PASSWORD)}@db.example:notaport/wmn`,
    });
    assert.equal(bad.code, 2, bad.output);
    assertNoSecret(bad.output, 'config check of a malformed URL');
  });

  it('`wmn config check` shows the alert rules and where notices go, never a webhook path or token', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    const secretPath = '/services/T000/B000/hook-secret-path';
    const extra = [
      'alerts:',
      '  cert_expiry: { days: 21 }',
      '  notifiers:',
      `    - { type: slack, url: "https://hooks.slack.example${secretPath}" }`,
    ].join('\n');
    const config = await writeConfig(dir, source.url, extra);
    const result = await wmnOnce(['config', 'check', config], {});
    assert.equal(result.code, 0, result.output);
    assert.match(
      result.output,
      /alerts: link_down 3 of 5, source_down 5 of 5, latency off, loss off, ipv6 5 of 5, cert_expiry < 21 days/,
    );
    assert.match(result.output, /notifier: slack-1 \(slack → https:\/\/hooks\.slack\.example\/…\)/);
    assert.ok(!result.output.includes(secretPath), result.output);
  });

  it('a password written into DATABASE_URL without percent-encoding is not shown either', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    const config = await writeConfig(dir, source.url);
    const result = await wmnOnce(['config', 'check', config], {
      DATABASE_URL: `postgres://wmn:${PASSWORD}@db.example:5432/wmn`,
    });
    assertNoSecret(result.output, 'config check of a URL with a raw password');
  });

  it('a source URL with credentials is refused without echoing them', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    const config = await writeConfig(dir, `http://probe:${NEEDLE}@127.0.0.1/`);
    const result = await wmnOnce(['config', 'check', config], {});
    assert.equal(result.code, 2, result.output);
    assert.match(result.output, /contains credentials/);
    assertNoSecret(result.output, 'the refusal');
  });

  it('a failing connection reports the server, never the password', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT)) return;
    const port = await closedPort();
    const url = `postgres://wmn:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/wmn`;
    const passwordFile = join(dir, 'db-password');
    await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    const viaFile = {
      DATABASE_URL: `postgres://wmn@127.0.0.1:${port}/wmn`,
      WMN_DATABASE_PASSWORD_FILE: passwordFile,
    };
    for (const env of [{ DATABASE_URL: url }, viaFile]) {
      const migrate = await wmnOnce(['migrate'], env);
      assert.equal(migrate.code, 1, migrate.output);
      assert.match(
        migrate.output,
        new RegExp(`wmn:\\*\\*\\*@127\\.0\\.0\\.1:${port}`),
        'names the server, masked',
      );
      assertNoSecret(migrate.output, 'the migrate failure');
    }
    // wmn run either keeps probing (and says it cannot write) or gives up at start: either way, 3 s of log.
    const config = await writeConfig(dir, source.url);
    const agent = startWmn(config, { DATABASE_URL: url });
    await Promise.race([agent.exited, new Promise((resolve) => setTimeout(resolve, 3_000))]);
    await stopAndWait(agent);
    assert.match(agent.log(), new RegExp(`127\\.0\\.0\\.1:${port}`), 'the log names the server');
    assertNoSecret(agent.log(), 'the log of wmn run against a closed port');
  });
});

describe('secrets: the embedded server', () => {
  it('its generated password reaches no argv of wmn, pg_ctl or PostgreSQL, and no log', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT) || !need(t, HAS_PROC, 'no /proc to watch processes in')) return;
    const dir = await mkdtemp(join(tmpdir(), 'wmn-security-embedded-'));
    const source = await startSlowSource(600);
    try {
      // The data directory itself: as root, wmn lets the postgres user into it, but not into its parents.
      const dataDir = dir;
      const config = await writeConfig(dir, source.url, `database:\n  embedded_port: ${await closedPort()}`);
      const result = await watchedRun(config, { WMN_DATA_DIR: dataDir }, { cycles: 2, marker: dataDir });
      const generated = (await readFile(join(dataDir, 'postgres-password'), 'utf8')).trim();
      assert.ok(generated.length >= 16, 'a password was generated');
      assert.ok(
        result.sightings.some((s) => /postgres/.test(s.argv) && s.argv.includes(dataDir)),
        'saw PostgreSQL',
      );
      const everything = [
        ...result.sightings.map((s) => `${s.argv}\n${s.environ}`),
        result.output,
        await serverLogs(join(dataDir, 'postgres')),
      ].join('\n');
      assert.ok(!everything.includes(generated), 'the generated password leaked');
    } finally {
      source.server.closeAllConnections();
      source.server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** PostgreSQL's own logs in the cluster (startup log and the collector's files). */
async function serverLogs(pgdata: string): Promise<string> {
  const files = [
    join(pgdata, 'startup.log'),
    ...readdirSafe(join(pgdata, 'log')).map((f) => join(pgdata, 'log', f)),
  ];
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')));
  return texts.join('\n');
}

// --- least-privilege roles ----------------------------------------------------------------------------

/** Applies deploy/sql/roles.sql with psql, as users are told to. */
async function applyRoles(db: string, writer: string, reader: string): Promise<void> {
  await run('psql', ['-X', '-q', '-v', `writer=${writer}`, '-v', `reader=${reader}`, '-f', ROLES_SQL, db]);
}

/** Asserts that `sql` as the client's role is refused for lack of privilege (SQLSTATE 42501). */
async function refused(client: pg.Client, sql: string): Promise<void> {
  await assert.rejects(client.query(sql), (err: { code?: string }) => {
    assert.equal(err.code, '42501', `${sql}: expected insufficient_privilege, got ${err.code}`);
    return true;
  });
}

const ROW = `INSERT INTO favicon_metrics (probe_id, source, total_ms, disconnected, agent)
             VALUES (1, 'https://example.com/', 12.5, false, 'roles-test')`;

describe('least-privilege roles (deploy/sql/roles.sql)', () => {
  it('docs/security.md shows roles.sql verbatim', async () => {
    const [doc, sql] = await Promise.all([readFile(SECURITY_DOC, 'utf8'), readFile(ROLES_SQL, 'utf8')]);
    assert.ok(
      doc.includes(`\`\`\`sql\n${sql}\`\`\``),
      'the sql block in docs/security.md differs from deploy/sql/roles.sql',
    );
  });

  it('the writer appends and reads, the reader only reads; neither can change or destroy', async (t) => {
    if (!need(t, WMN_BUILT, NOT_BUILT) || !need(t, HAS_PSQL, 'psql is not installed')) return;
    const writer = uniqueRole('writer');
    const reader = uniqueRole('reader');
    let admin = '';
    try {
      await withTestDatabase(t, async (db) => {
        admin = db;
        const migrate = await wmnOnce(['migrate'], { DATABASE_URL: db });
        assert.equal(migrate.code, 0, migrate.output);
        await applyRoles(db, writer, reader);
        await applyRoles(db, writer, reader); // idempotent: a second run changes nothing and fails nothing
        await checkWriter(asUser(db, writer));
        await checkReader(asUser(db, reader));
        await t.test('`wmn run` as the writer stores its cycles', () =>
          checkAgentAsWriter(asUser(db, writer), db),
        );
      });
    } finally {
      if (admin) await dropRoles(admin, [writer, reader]);
    }
  });
});

async function checkWriter(url: string): Promise<void> {
  await withClient({ connectionString: url }, async (c) => {
    await c.query(ROW);
    const { rows } = await c.query('SELECT count(*)::int AS n FROM favicon_metrics');
    assert.equal(rows[0].n, 1);
    await refused(c, 'DELETE FROM favicon_metrics');
    await refused(c, 'UPDATE favicon_metrics SET total_ms = 0');
    await refused(c, 'TRUNCATE favicon_metrics');
    await refused(c, 'ALTER TABLE favicon_metrics ADD COLUMN x int');
    await refused(c, 'DROP TABLE favicon_metrics');
    await refused(c, 'CREATE TABLE wmn_intruder (x int)');
    await refused(c, "INSERT INTO wmn_schema_migrations (version, name) VALUES (999, 'forged')");
    // Its INSERT kept the rollups (the trigger runs as the owner), but it cannot touch them directly.
    await refused(c, 'DELETE FROM wmn_cycles');
    await refused(c, 'UPDATE wmn_source_hour SET probes = 0');
    await c.query(
      "INSERT INTO wmn_agents (agent, interval_s) VALUES ('roles-test', 1) ON CONFLICT (agent) DO UPDATE SET interval_s = 2",
    );
    await c.query("SELECT wmn_apply_retention('30 days')");
  });
}

async function checkReader(url: string): Promise<void> {
  await withClient({ connectionString: url }, async (c) => {
    const { rows } = await c.query('SELECT count(*)::int AS n FROM favicon_metrics');
    assert.equal(rows[0].n, 1);
    await c.query('SELECT * FROM wmn_schema_migrations');
    await refused(c, ROW.replace('(1,', '(2,'));
    await refused(c, 'DELETE FROM favicon_metrics');
    await refused(c, 'CREATE TABLE wmn_intruder (x int)');
    await refused(c, 'DROP TABLE favicon_metrics');
    await refused(c, "SELECT wmn_apply_retention('30 days')");
    const { rows: cycles } = await c.query("SELECT sources FROM wmn_cycles WHERE agent = 'roles-test'");
    assert.deepEqual(cycles, [{ sources: 1 }]);
    await c.query("SELECT * FROM wmn_agent_summary(now() - interval '1 day', now())");
  });
}

async function checkAgentAsWriter(writerUrl: string, ownerUrl: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wmn-roles-'));
  const source = await startSlowSource(0);
  try {
    const config = await writeConfig(dir, source.url);
    const agent = startWmn(config, { DATABASE_URL: writerUrl });
    try {
      await agent.waitFor(/msg=cycle /, 2, 20_000);
    } finally {
      await stopAndWait(agent);
    }
    await withClient({ connectionString: ownerUrl }, async (c) => {
      const { rows } = await c.query(
        "SELECT count(*)::int AS n FROM favicon_metrics WHERE agent <> 'roles-test'",
      );
      assert.ok(rows[0].n >= 2, `the agent stored ${rows[0].n} rows`);
    });
  } finally {
    source.server.close();
    await rm(dir, { recursive: true, force: true });
  }
}
