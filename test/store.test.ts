/**
 * The store: one suite run against both back ends (the embedded server, and the machine's PostgreSQL),
 * each test in a fresh database; then what only one back end has (the embedded server's lifecycle, an
 * unreachable server).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, type TestContext, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { createLogger, errorText, type Logger, silentLogger } from '../src/log.js';
import type { ProbeResult } from '../src/probes/types.js';
import { describeServer } from '../src/store/describe.js';
import { type EmbeddedServer, startEmbedded } from '../src/store/embedded.js';
import { findBinaries, layoutFor } from '../src/store/embedded-setup.js';
import { openStore } from '../src/store/index.js';
import { loadMigrations, MIGRATIONS_DIR } from '../src/store/migrate.js';
import { createPostgresStore } from '../src/store/postgres.js';
import { type CycleRecord, type Store, type StoreDescription, StoreError } from '../src/store/types.js';
import { need } from './helpers/env.js';
import {
  createDatabase,
  dropDatabase,
  uniqueDatabaseName,
  withClient,
  withTestDatabase,
} from './helpers/pg.js';
import { startTcpProxy } from './helpers/tcp-proxy.js';

/** The shipped migrations' versions: a fresh database gets them all. */
const SHIPPED = (await loadMigrations(MIGRATIONS_DIR)).map((m) => m.version);
const LATEST = SHIPPED.at(-1);

// ---------------------------------------------------------------------------------------------------
// Back ends

/** A fresh, empty database on one back end. */
interface FreshDatabase {
  /** A store on this database, closed when the test ends. */
  open(opts?: { agent?: string; migrationsDir?: URL }): Store;
  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<R[]>;
}

interface Backend {
  readonly name: string;
  fresh(t: TestContext, fn: (db: FreshDatabase) => Promise<void>): Promise<void>;
}

const serverBackend: Backend = {
  name: "the machine's PostgreSQL server",
  fresh: (t, fn) =>
    withTestDatabase(t, (url) => useDatabase({ connectionString: url }, describeServer(url), fn)),
};

let sharedEmbedded: Promise<{ server: EmbeddedServer; dir: string }> | undefined;
const embeddedAvailable = findBinaries().then(
  () => true,
  () => false,
);

const embeddedBackend: Backend = {
  name: 'the embedded server',
  async fresh(t, fn) {
    if (!need(t, await embeddedAvailable, 'no embedded PostgreSQL binaries for this platform')) return;
    sharedEmbedded ??= tempDir().then(async (dir) => ({
      dir,
      server: await startEmbedded({ dataDir: dir, port: null, log: silentLogger }),
    }));
    const { server } = await sharedEmbedded;
    const name = uniqueDatabaseName();
    await createDatabase(server.connection('postgres'), name);
    try {
      await useDatabase(server.connection(name), server.describe, fn);
    } finally {
      await dropDatabase(server.connection('postgres'), name);
    }
  },
};

const tempDirs: string[] = [];

after(async () => {
  await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  if (!sharedEmbedded) return;
  const { server, dir } = await sharedEmbedded;
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

async function useDatabase(
  connection: pg.ClientConfig,
  describe: StoreDescription,
  fn: (db: FreshDatabase) => Promise<void>,
): Promise<void> {
  const stores: Store[] = [];
  const db: FreshDatabase = {
    open(opts = {}) {
      const store = createPostgresStore({
        connection,
        describe,
        agent: opts.agent ?? 'test-agent',
        log: silentLogger,
        migrationsDir: opts.migrationsDir,
      });
      stores.push(store);
      return store;
    },
    query: (sql, params) => withClient(connection, async (client) => (await client.query(sql, params)).rows),
  };
  try {
    await fn(db);
  } finally {
    await Promise.all(stores.map((store) => store.close()));
  }
}

// ---------------------------------------------------------------------------------------------------
// Data

const up = (source: string, extra: Partial<Pick<ProbeResult, 'tlsMs' | 'remoteIp'>> = {}): ProbeResult => ({
  source,
  disconnected: false,
  status: 200,
  error: null,
  dnsMs: 1.25,
  connectMs: 2.5,
  tlsMs: 3.75,
  ttfbMs: 10.5,
  totalMs: 12,
  remoteIp: '192.0.2.1',
  ...extra,
});

const down = (source: string): ProbeResult => ({
  source,
  disconnected: true,
  status: null,
  error: 'dns',
  dnsMs: null,
  connectMs: null,
  tlsMs: null,
  ttfbMs: null,
  totalMs: 1500,
  remoteIp: null,
});

const cycle = (probeId: number, results: ProbeResult[], agent = 'test-agent'): CycleRecord => ({
  agent,
  probeId,
  ts: new Date(probeId * 1000),
  results,
});

const SEED_TABLE = `CREATE TABLE favicon_metrics (
    ts           TIMESTAMPTZ NOT NULL DEFAULT now(),
    probe_id     BIGINT NOT NULL,
    source       TEXT NOT NULL,
    dns_ms       DOUBLE PRECISION,
    connect_ms   DOUBLE PRECISION,
    tls_ms       DOUBLE PRECISION,
    ttfb_ms      DOUBLE PRECISION,
    total_ms     DOUBLE PRECISION,
    status       INTEGER,
    disconnected BOOLEAN NOT NULL,
    PRIMARY KEY (probe_id, source)
);
CREATE INDEX ON favicon_metrics (ts);
CREATE INDEX ON favicon_metrics (source, ts);`;

const CONTRACT_COLUMNS = [
  'ts timestamp with time zone NO',
  'probe_id bigint NO',
  'source text NO',
  'dns_ms double precision YES',
  'connect_ms double precision YES',
  'tls_ms double precision YES',
  'ttfb_ms double precision YES',
  'total_ms double precision YES',
  'status integer YES',
  'disconnected boolean NO',
  'agent text NO',
  'error text YES',
  'remote_ip inet YES',
  // Migration 003: fault localisation.
  'layer text YES',
  'diagnosis text YES',
  'cert_expiry timestamp with time zone YES',
  'rtt_ms ARRAY YES',
];

const CONTRACT_INDEXES = [
  'favicon_metrics_agent_ts_idx (agent, ts)',
  'favicon_metrics_pkey (agent, probe_id, source)',
  'favicon_metrics_source_ts_idx (source, ts)',
  'favicon_metrics_ts_idx (ts)',
];

// ---------------------------------------------------------------------------------------------------
// Helpers

function tempDir(prefix = 'wmn-store-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A migrations directory holding `files`; '001_initial.sql' with null content is the shipped one. */
async function migrationsDir(files: Record<string, string | null>): Promise<URL> {
  const dir = await tempDir('wmn-migrations-');
  tempDirs.push(dir);
  const shipped = await readFile(new URL('001_initial.sql', MIGRATIONS_DIR), 'utf8');
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql ?? shipped);
  return pathToFileURL(`${dir}/`);
}

/** An assert.rejects validator for a StoreError with this code and a message matching `pattern`. */
function storeError(code: StoreError['code'], pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${errorText(err)}`);
    assert.equal(err.code, code, errorText(err));
    assert.match(err.message, pattern);
    return true;
  };
}

async function schemaOf(db: FreshDatabase): Promise<{ columns: string[]; indexes: string[] }> {
  const columns = await db.query<{ c: string }>(
    `SELECT column_name || ' ' || data_type || ' ' || is_nullable AS c FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'favicon_metrics' ORDER BY ordinal_position`,
  );
  const indexes = await db.query<{ i: string }>(
    `SELECT indexname || ' ' || substring(indexdef FROM '\\(.*\\)$') AS i FROM pg_indexes
      WHERE schemaname = current_schema() AND tablename = 'favicon_metrics' ORDER BY indexname`,
  );
  return { columns: columns.map((r) => r.c), indexes: indexes.map((r) => r.i) };
}

async function count(db: FreshDatabase): Promise<number> {
  const [row] = await db.query<{ n: string }>('SELECT count(*) AS n FROM favicon_metrics');
  return Number(row?.n);
}

function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ level: 'debug', write: (line) => lines.push(line) }), lines };
}

// ---------------------------------------------------------------------------------------------------
// The shared suite

for (const backend of [embeddedBackend, serverBackend]) {
  describe(`store on ${backend.name}`, () => {
    test('migrates an empty database to the data contract, and a second run is a no-op', (t) =>
      backend.fresh(t, async (db) => {
        const store = db.open();
        assert.deepEqual(await store.migrate(), { applied: SHIPPED, current: LATEST });
        assert.deepEqual(await store.migrate(), { applied: [], current: LATEST });
        assert.deepEqual(await schemaOf(db), { columns: CONTRACT_COLUMNS, indexes: CONTRACT_INDEXES });
        assert.deepEqual(await db.query('SELECT version, name FROM wmn_schema_migrations ORDER BY 1'), [
          { version: 1, name: 'initial' },
          { version: 2, name: 'sla' },
          { version: 3, name: 'localisation' },
          { version: 4, name: 'day_rollups' },
        ]);
      }));

    test('refuses a gap in the numbering before touching the database', (t) =>
      backend.fresh(t, async (db) => {
        const dir = await migrationsDir({ '001_initial.sql': null, '003_later.sql': 'SELECT 1;' });
        await assert.rejects(
          db.open({ migrationsDir: dir }).migrate(),
          storeError('migrate', /003_later\.sql.*002/),
        );
        assert.deepEqual(await db.query("SELECT to_regclass('wmn_schema_migrations') AS t"), [{ t: null }]);
      }));

    test('refuses a database that recorded a migration whose file is gone', (t) =>
      backend.fresh(t, async (db) => {
        const two = await migrationsDir({
          '001_initial.sql': null,
          '002_second.sql': 'CREATE TABLE second (x int);',
        });
        assert.deepEqual(await db.open({ migrationsDir: two }).migrate(), { applied: [1, 2], current: 2 });
        const one = await migrationsDir({ '001_initial.sql': null });
        await assert.rejects(
          db.open({ migrationsDir: one }).migrate(),
          storeError('migrate', /002_second\.sql/),
        );
      }));

    test('applies nothing when one migration of the batch fails', (t) =>
      backend.fresh(t, async (db) => {
        const dir = await migrationsDir({
          '001_initial.sql': null,
          '002_broken.sql': 'SELECT no_such_column;',
        });
        await assert.rejects(
          db.open({ migrationsDir: dir }).migrate(),
          storeError('migrate', /002_broken\.sql/),
        );
        const [row] = await db.query(
          "SELECT to_regclass('favicon_metrics') AS a, to_regclass('wmn_schema_migrations') AS b",
        );
        assert.deepEqual(row, { a: null, b: null });
      }));

    test("upgrades the original wmn's table in place, keeping its rows under this agent's name", (t) =>
      backend.fresh(t, async (db) => {
        await db.query(SEED_TABLE);
        await db.query(
          `INSERT INTO favicon_metrics (ts, probe_id, source, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, status, disconnected)
           VALUES (to_timestamp(100), 100, 'https://a/', 1, 2, 3, 4, 5, 200, false),
                  (to_timestamp(100), 100, 'https://b/', NULL, NULL, NULL, NULL, 1500, NULL, true),
                  (to_timestamp(101), 101, 'https://a/', 1, 2, 3, 4, 5, 503, false)`,
        );
        const store = db.open({ agent: 'old-box' });
        assert.deepEqual(await store.migrate(), { applied: SHIPPED, current: LATEST });
        assert.deepEqual(await schemaOf(db), { columns: CONTRACT_COLUMNS, indexes: CONTRACT_INDEXES });
        const rows = await db.query(
          'SELECT agent, probe_id::int, source, total_ms, status, error, remote_ip FROM favicon_metrics ORDER BY 2, 3',
        );
        assert.deepEqual(rows, [
          {
            agent: 'old-box',
            probe_id: 100,
            source: 'https://a/',
            total_ms: 5,
            status: 200,
            error: null,
            remote_ip: null,
          },
          {
            agent: 'old-box',
            probe_id: 100,
            source: 'https://b/',
            total_ms: 1500,
            status: null,
            error: null,
            remote_ip: null,
          },
          {
            agent: 'old-box',
            probe_id: 101,
            source: 'https://a/',
            total_ms: 5,
            status: 503,
            error: null,
            remote_ip: null,
          },
        ]);
        // The key now includes the agent: another vantage point may record the same tick and source.
        assert.equal(await store.writeCycle(cycle(100, [up('https://a/')], 'new-box')), 1);
      }));

    test('writes a cycle once, however often it is written', (t) =>
      backend.fresh(t, async (db) => {
        const store = db.open();
        await store.migrate();
        const first = cycle(1_700_000_000, [up('https://a/'), down('https://b/')]);
        assert.equal(await store.writeCycle(first), 2);
        assert.equal(await store.writeCycle(first), 0);
        assert.equal(await store.writeCycle(cycle(1_700_000_001, [])), 0);
        assert.equal(await count(db), 2);
      }));

    test('stores phases that did not happen as NULL, never 0', (t) =>
      backend.fresh(t, async (db) => {
        const store = db.open();
        await store.migrate();
        const results = [down('dns://b/'), up('http://a/', { tlsMs: null, remoteIp: 'fe80::1%eth0' })];
        await store.writeCycle(cycle(1_700_000_000, results));
        const rows = await db.query(
          `SELECT ts, probe_id::int, agent, source, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, status,
                  disconnected, error, host(remote_ip) AS remote_ip
             FROM favicon_metrics ORDER BY source`,
        );
        const common = { ts: new Date(1_700_000_000_000), probe_id: 1_700_000_000, agent: 'test-agent' };
        assert.deepEqual(rows, [
          {
            ...common,
            source: 'dns://b/',
            dns_ms: null,
            connect_ms: null,
            tls_ms: null,
            ttfb_ms: null,
            total_ms: 1500,
            status: null,
            disconnected: true,
            error: 'dns',
            remote_ip: null,
          },
          {
            ...common,
            source: 'http://a/',
            dns_ms: 1.25,
            connect_ms: 2.5,
            tls_ms: null,
            ttfb_ms: 10.5,
            total_ms: 12,
            status: 200,
            disconnected: false,
            error: null,
            remote_ip: 'fe80::1', // inet has no room for the zone
          },
        ]);
      }));

    test('keeps every row of cycles written concurrently', (t) =>
      backend.fresh(t, async (db) => {
        const store = db.open();
        await store.migrate();
        const cycles = Array.from({ length: 40 }, (_, i) =>
          cycle(1_700_000_000 + i, [up('https://a/'), up('https://b/'), down('https://c/')]),
        );
        const written = await Promise.all(cycles.map((c) => store.writeCycle(c)));
        assert.equal(
          written.reduce((sum, n) => sum + n, 0),
          120,
        );
        const [row] = await db.query<{ n: string; ticks: string }>(
          'SELECT count(*) AS n, count(DISTINCT probe_id) AS ticks FROM favicon_metrics',
        );
        assert.deepEqual(row, { n: '120', ticks: '40' });
      }));

    test('lets agents migrate at the same time: one applies, the others find the schema current', (t) =>
      backend.fresh(t, async (db) => {
        const reports = await Promise.all([db.open().migrate(), db.open().migrate(), db.open().migrate()]);
        const applied = reports.map((r) => r.applied.join(',')).sort();
        assert.deepEqual(applied, ['', '', SHIPPED.join(',')]);
        assert.equal((await db.query('SELECT * FROM wmn_schema_migrations')).length, SHIPPED.length);
      }));
  });
}

// ---------------------------------------------------------------------------------------------------
// Migration files, without a database

describe('migration files', () => {
  test('must be numbered without repeats and named NNN_name.sql', async () => {
    const repeat = await migrationsDir({ '001_initial.sql': null, '001_again.sql': 'SELECT 1;' });
    await assert.rejects(
      loadMigrations(repeat),
      storeError('migrate', /001_initial\.sql.*repeats number 001/),
    );
    const badName = await migrationsDir({ '001_initial.sql': null, '2_second.sql': 'SELECT 1;' });
    await assert.rejects(
      loadMigrations(badName),
      storeError('migrate', /2_second\.sql is not named NNN_name\.sql/),
    );
    const none = await migrationsDir({});
    assert.deepEqual(await loadMigrations(none), []);
  });
});

// ---------------------------------------------------------------------------------------------------
// A server that cannot be reached

describe('store on an unreachable server', () => {
  test('fails with StoreError(connect) and never shows the password', async () => {
    const port = await freePort();
    const url = `postgres://wmn:s3cret-pw@127.0.0.1:${port}/wmn`;
    const store = await openStore({
      database: { url, embeddedPort: null },
      dataDir: '/nonexistent',
      agent: 'a',
      log: silentLogger,
    });
    try {
      assert.equal(store.describe.url, `postgres://wmn:***@127.0.0.1:${port}/wmn`);
      assert.equal(store.describe.psql, `psql postgres://wmn@127.0.0.1:${port}/wmn`);
      for (const attempt of [() => store.writeCycle(cycle(1, [up('https://a/')])), () => store.migrate()]) {
        await assert.rejects(attempt(), (err: unknown) => {
          assert.ok(err instanceof StoreError && err.code === 'connect', errorText(err));
          assert.match(errorText(err), /127\.0\.0\.1.*ECONNREFUSED/);
          assert.doesNotMatch(errorText(err), /s3cret/);
          return true;
        });
      }
    } finally {
      await store.close();
    }
  });
});

describe('store when the connection dies mid-INSERT', () => {
  test('the write fails with StoreError(write); the process does not crash', async (t) => {
    await withTestDatabase(t, async (url) => {
      const direct = new URL(url);
      const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port) });
      const viaProxy = new URL(url);
      viaProxy.port = String(proxy.port);
      const store = createPostgresStore({
        connection: { connectionString: viaProxy.toString() },
        describe: describeServer(viaProxy.toString()),
        agent: 'a',
        log: silentLogger,
      });
      try {
        await store.migrate();
        // Hold the table locked so the INSERT is in flight when the connection is cut.
        await withClient({ connectionString: url }, async (locker) => {
          await locker.query('BEGIN; LOCK TABLE favicon_metrics IN ACCESS EXCLUSIVE MODE');
          const write = store.writeCycle(cycle(1, [up('https://a/')]));
          await new Promise((resolve) => setTimeout(resolve, 200));
          await proxy.cut();
          await assert.rejects(write, (err: unknown) => err instanceof StoreError && err.code === 'write');
          await locker.query('ROLLBACK');
        });
        await proxy.restore();
        assert.equal(await store.writeCycle(cycle(2, [up('https://a/')])), 1, 'the pool recovers');
      } finally {
        await store.close();
        await proxy.close();
      }
    });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(address)));
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// The embedded server's lifecycle

describe('embedded server', () => {
  /** A temp data dir for one test, removed afterwards along with any server a failed test left running. */
  async function dataDirFor(t: TestContext): Promise<string | null> {
    if (!need(t, await embeddedAvailable, 'no embedded PostgreSQL binaries for this platform')) return null;
    const dir = await tempDir();
    t.after(async () => {
      await stopLeftover(join(dir, 'postgres'));
      await rm(dir, { recursive: true, force: true });
    });
    return dir;
  }

  test('opens through openStore, describes itself, and keeps its data across stop and start', async (t) => {
    const dataDir = await dataDirFor(t);
    if (!dataDir) return;
    const open = () =>
      openStore({ database: { url: null, embeddedPort: null }, dataDir, agent: 'emb', log: silentLogger });
    const began = performance.now();
    const store = await open();
    t.diagnostic(`initdb + start: ${Math.round(performance.now() - began)} ms`);
    assert.equal(store.describe.kind, 'embedded');
    assert.equal(store.describe.psql, `psql -h ${dataDir}/postgres-socket -U wmn wmn`);
    assert.deepEqual(await store.migrate(), { applied: SHIPPED, current: LATEST });
    assert.equal(await store.writeCycle(cycle(1_700_000_000, [up('https://a/')], 'emb')), 1);
    await checkOwnership(dataDir);
    await store.close();
    await assert.rejects(stat(join(dataDir, 'postgres', 'postmaster.pid')), { code: 'ENOENT' });

    const restarted = performance.now();
    const again = await open();
    t.diagnostic(`start of an initialised cluster: ${Math.round(performance.now() - restarted)} ms`);
    try {
      assert.deepEqual(await again.migrate(), { applied: [], current: LATEST });
      assert.equal(await again.writeCycle(cycle(1_700_000_000, [up('https://a/')], 'emb')), 0);
    } finally {
      await again.close();
    }
  });

  test('refuses a data directory another running wmn uses, and leaves that server alone', async (t) => {
    const dataDir = await dataDirFor(t);
    if (!dataDir) return;
    const first = await startEmbedded({ dataDir, port: null, log: silentLogger });
    try {
      await assert.rejects(
        startEmbedded({ dataDir, port: null, log: silentLogger }),
        storeError('embedded', /in use by another running wmn/),
      );
      assert.equal(
        await withClient(first.connection(), async (c) => (await c.query('SELECT 1 AS one')).rows[0].one),
        1,
      );
    } finally {
      await first.stop();
    }
  });

  test('starts over a stale postmaster.pid whose process is gone', async (t) => {
    const dataDir = await dataDirFor(t);
    if (!dataDir) return;
    const pgdata = join(dataDir, 'postgres');
    const pidFile = join(pgdata, 'postmaster.pid');
    const first = await startEmbedded({ dataDir, port: null, log: silentLogger });
    const lines = (await readFile(pidFile, 'utf8')).split('\n');
    await first.stop();
    lines[0] = String(await deadPid());
    await writeFile(pidFile, lines.join('\n'));
    const owner = await stat(pgdata);
    await chown(pidFile, owner.uid, owner.gid);
    const second = await startEmbedded({ dataDir, port: null, log: silentLogger });
    await second.stop();
  });

  test('adopts the server a killed wmn left running, and restarts it for changed settings', async (t) => {
    const dataDir = await dataDirFor(t);
    if (!dataDir) return;
    await startAndKill(dataDir);
    const adopting = capturingLogger();
    const adopted = await startEmbedded({ dataDir, port: null, log: adopting.log });
    await adopted.stop();
    assert.ok(
      adopting.lines.some((l) => l.includes('adopted the embedded PostgreSQL server')),
      adopting.lines.join('\n'),
    );

    await startAndKill(dataDir);
    const restarting = capturingLogger();
    const port = await freePort();
    const withTcp = await startEmbedded({ dataDir, port, log: restarting.log });
    try {
      assert.ok(
        restarting.lines.some((l) => l.includes('restarting')),
        restarting.lines.join('\n'),
      );
      await checkTcp(withTcp, port);
    } finally {
      await withTcp.stop();
    }
  });

  test('as root, names the directory that keeps PostgreSQL out and what to do', async (t) => {
    const dataDir = await dataDirFor(t);
    if (!dataDir) return;
    if (process.getuid?.() !== 0) return t.skip('only root hands PostgreSQL to another user');
    await chmod(dataDir, 0o700);
    await assert.rejects(
      startEmbedded({ dataDir: join(dataDir, 'inner'), port: null, log: silentLogger }),
      storeError(
        'embedded',
        new RegExp(`initdb failed .*cannot enter ${dataDir}: .*setfacl -m u:\\w+:x ${dataDir}\\)`),
      ),
    );
  });

  test('puts the socket in /tmp when the data directory path is too long for one', async (t) => {
    const dataDir = await dataDirFor(t);
    if (!dataDir) return;
    // As root, PostgreSQL runs as another user, which must pass through every directory above its own.
    await chmod(dataDir, 0o711);
    const deep = join(dataDir, 'd'.repeat(100));
    const { socketDir } = layoutFor(deep, null, silentLogger);
    t.after(() => rm(socketDir, { recursive: true, force: true }));
    assert.match(socketDir, /^\/tmp\/wmn-[0-9a-f]{16}$/);
    const { log, lines } = capturingLogger();
    const server = await startEmbedded({ dataDir: deep, port: null, log });
    try {
      assert.equal(server.socketDir, socketDir);
      assert.ok(
        lines.some((l) => l.includes('too long for a unix socket')),
        lines.join('\n'),
      );
      assert.equal((await stat(server.socketDir)).mode & 0o777, 0o700);
      assert.equal(
        await withClient(server.connection(), async (c) => (await c.query('SELECT 1 AS one')).rows[0].one),
        1,
      );
    } finally {
      await server.stop();
    }
  });
});

/** The cluster belongs to PostgreSQL's user (an unprivileged one when we are root); its directories are private. */
async function checkOwnership(dataDir: string): Promise<void> {
  const pgdata = await stat(join(dataDir, 'postgres'));
  const socket = await stat(join(dataDir, 'postgres-socket'));
  assert.equal(pgdata.mode & 0o777, 0o700);
  assert.equal(socket.mode & 0o777, 0o700);
  const pid = (await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0];
  const uid = /^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (process.getuid?.() === 0) {
    assert.notEqual(pgdata.uid, 0);
    assert.equal(Number(uid), pgdata.uid, 'postgres runs as the owner of its cluster');
  } else {
    assert.equal(pgdata.uid, process.getuid?.());
  }
}

/** Over TCP the role needs its password, which sits in a file only wmn's user reads. */
async function checkTcp(server: EmbeddedServer, port: number): Promise<void> {
  assert.equal(server.describe.url, `postgresql://wmn:***@127.0.0.1:${port}/wmn`);
  assert.equal(server.describe.psql, `psql -h ${server.socketDir} -p ${port} -U wmn wmn`);
  assert.ok(server.passwordFile);
  assert.equal((await stat(server.passwordFile)).mode & 0o777, 0o600);
  const password = (await readFile(server.passwordFile, 'utf8')).trim();
  const tcp = { host: '127.0.0.1', port, user: 'wmn', database: 'wmn' };
  assert.equal(
    await withClient({ ...tcp, password }, async (c) => (await c.query('SELECT 1 AS one')).rows[0].one),
    1,
  );
  await assert.rejects(
    withClient({ ...tcp, password: 'wrong' }, async () => undefined),
    { code: '28P01' },
  );
}

/** Runs a wmn-like process that starts the embedded server, then SIGKILLs it: the server stays up. */
async function startAndKill(dataDir: string): Promise<void> {
  const embedded = new URL('../src/store/embedded.ts', import.meta.url).href;
  const log = new URL('../src/log.ts', import.meta.url).href;
  const code = `const { startEmbedded } = await import(${JSON.stringify(embedded)});
    const { silentLogger } = await import(${JSON.stringify(log)});
    await startEmbedded({ dataDir: ${JSON.stringify(dataDir)}, port: null, log: silentLogger });
    process.stdout.write('ready\\n');`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('ready')) resolve();
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before it was ready: ${output}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** The pid of a process that has just exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.once('exit', resolve));
  assert.ok(child.pid);
  return child.pid;
}

/** Fast-shuts-down (SIGINT) a server a failed test may have left running in `pgdata`. */
async function stopLeftover(pgdata: string): Promise<void> {
  const pid = Number((await readFile(join(pgdata, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
  if (!pid) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    // already gone
  }
}
