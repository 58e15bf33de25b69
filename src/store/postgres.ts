/**
 * The one {@link Store} implementation: a small `pg` pool over any PostgreSQL server, the embedded one
 * included. A cycle is one INSERT whose text never changes (the rows travel as arrays), so the server
 * plans it once per connection and statistics group every write under one statement.
 */
import pg from 'pg';
import { cycleDiagnosis } from '../diagnosis/cycle.js';
import type { Logger } from '../log.js';
import { MIGRATIONS_DIR, runMigrations } from './migrate.js';
import {
  type AgentRegistration,
  type CycleRecord,
  type CycleResult,
  type MigrationReport,
  type Store,
  type StoreDescription,
  StoreError,
} from './types.js';

/** What {@link createPostgresStore} needs: where the server is and how to describe it to people. */
export interface PostgresStoreOptions {
  /** How `pg` reaches the server (a `connectionString`, or host/port/user/database). */
  readonly connection: pg.ClientConfig;
  /** Shown to people and used in error messages: its URL must already be masked. */
  readonly describe: StoreDescription;
  /** Agent name given to rows an upgrade of the original table adopts. */
  readonly agent: string;
  readonly log: Logger;
  /** Where the migrations are; tests point this at their own. */
  readonly migrationsDir?: URL;
  /** Runs after the pool has ended (the embedded back end stops its server here). */
  readonly onClose?: () => Promise<void>;
}

// A cycle per second needs one connection; a few more let a slow write overlap the next cycle. The
// timeouts bound every wait, so a hung server turns into errors (and spooled cycles), not a growing queue.
const POOL: pg.PoolConfig = {
  max: 3,
  idleTimeoutMillis: 60_000,
  connectionTimeoutMillis: 5_000,
  statement_timeout: 10_000,
  query_timeout: 15_000,
  keepAlive: true,
  application_name: 'wmn',
};

// rtt_ms travels as one JSON array per row: unnest() of a 2-D array would flatten the per-row arrays.
const INSERT_CYCLE = `INSERT INTO favicon_metrics
  (ts, probe_id, agent, diagnosis, source, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, status, disconnected,
   error, remote_ip, layer, cert_expiry, rtt_ms)
SELECT $1::timestamptz, $2::bigint, $3::text, $4::text, r.source, r.dns_ms, r.connect_ms, r.tls_ms, r.ttfb_ms,
       r.total_ms, r.status, r.disconnected, r.error, r.remote_ip, r.layer, to_timestamp(r.cert_expiry),
       CASE WHEN r.rtt_ms IS NOT NULL
            THEN ARRAY(SELECT (x #>> '{}')::float8 FROM jsonb_array_elements(r.rtt_ms) AS x) END
  FROM unnest($5::text[], $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[],
              $11::int[], $12::bool[], $13::text[], $14::inet[], $15::text[], $16::float8[], $17::jsonb[])
    AS r(source, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, status, disconnected, error, remote_ip,
         layer, cert_expiry, rtt_ms)
ON CONFLICT DO NOTHING`;

/** A store over a pooled connection to the server `opts.connection` names. Connects lazily. */
export function createPostgresStore(opts: PostgresStoreOptions): Store {
  const pool = new pg.Pool({ ...opts.connection, ...POOL });
  // An idle connection can fail (server restart, network cut); the pool drops it and the next write
  // reconnects. Without a listener, Node would treat the event as fatal.
  pool.on('error', (err) => opts.log.warn('database connection lost while idle', { error: err }));
  let closed: Promise<void> | undefined;
  return {
    describe: opts.describe,
    reader: pool,
    migrate: () => migrate(opts),
    writeCycle: (cycle) => writeCycle(pool, cycle, opts.describe.url),
    registerAgent: (registration) =>
      maintain(pool, opts.describe.url, REGISTER, registerParams(registration)),
    applyRetention: (keepMs) => applyRetention(pool, opts.describe.url, keepMs),
    rebuildHour: (hour) => rebuildHour(opts, hour),
    rawSpan: () => rawSpan(pool, opts.describe.url),
    close: () => {
      closed ??= closeAll(pool, opts.onClose);
      return closed;
    },
  };
}

async function writeCycle(pool: pg.Pool, cycle: CycleRecord, url: string): Promise<number> {
  if (cycle.results.length === 0) return 0;
  const client = await pool.connect().catch((err: unknown) => {
    throw storeError('connect', `cannot connect to ${url}`, err);
  });
  // pg-pool drops its own 'error' listener while a client is checked out: a connection that dies
  // mid-INSERT would otherwise raise an unhandled 'error' and kill the agent. The failed query rejects
  // anyway, so the event itself needs no handling.
  const ignore = () => {};
  client.on('error', ignore);
  try {
    const result = await client.query(INSERT_CYCLE, [
      cycle.ts,
      cycle.probeId,
      cycle.agent,
      cycleDiagnosis(cycle).kind,
      ...columns(cycle.results),
    ]);
    client.off('error', ignore);
    client.release();
    return result.rowCount ?? 0;
  } catch (err) {
    // After a failed or timed-out query the connection's state is unknown: discard it.
    client.off('error', ignore);
    client.release(err instanceof Error ? err : true);
    throw storeError(
      'write',
      `cannot write cycle ${cycle.probeId} (${cycle.results.length} rows) to ${url}`,
      err,
    );
  }
}

/** The results as one array per column, in the order of the unnest() in {@link INSERT_CYCLE}. */
function columns(results: readonly CycleResult[]): unknown[][] {
  return [
    results.map((r) => r.source),
    results.map((r) => r.dnsMs),
    results.map((r) => r.connectMs),
    results.map((r) => r.tlsMs),
    results.map((r) => r.ttfbMs),
    results.map((r) => r.totalMs),
    results.map((r) => r.status),
    results.map((r) => r.disconnected),
    results.map((r) => r.error),
    // `inet` has no room for an IPv6 zone (fe80::1%eth0), which would fail the whole cycle.
    results.map((r) => r.remoteIp?.replace(/%.*$/, '') ?? null),
    results.map((r) => r.layer ?? null),
    results.map((r) => r.certExpiresAt ?? null),
    results.map((r) => (r.samplesMs === undefined ? null : JSON.stringify(r.samplesMs))),
  ];
}

const REGISTER = `INSERT INTO wmn_agents (agent, interval_s, sources, version, started_at)
VALUES ($1, $2, $3, $4, now())
ON CONFLICT (agent) DO UPDATE SET interval_s = excluded.interval_s, sources = excluded.sources,
  version = excluded.version, started_at = excluded.started_at`;

function registerParams(r: AgentRegistration): unknown[] {
  return [r.agent, r.intervalMs / 1000, r.sources, r.version];
}

/** Rows per retention statement: small enough to stay far inside the pool's statement timeout. */
const RETENTION_BATCH = 20_000;

async function applyRetention(pool: pg.Pool, url: string, keepMs: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await pool
      .query<{ deleted: string }>('SELECT wmn_apply_retention($1::interval, $2) AS deleted', [
        `${keepMs / 1000} seconds`,
        RETENTION_BATCH,
      ])
      .catch((err: unknown) => {
        throw storeError('maintain', `cannot apply raw-row retention on ${url}`, err);
      });
    const deleted = Number(rows[0]?.deleted ?? 0);
    total += deleted;
    if (deleted < RETENTION_BATCH) return total;
  }
}

async function maintain(pool: pg.Pool, url: string, sql: string, params: unknown[]): Promise<void> {
  await pool.query(sql, params).catch((err: unknown) => {
    throw storeError('maintain', `cannot update wmn_agents on ${url}`, err);
  });
}

async function rebuildHour(opts: PostgresStoreOptions, hour: Date): Promise<boolean> {
  // Its own connection: an hour of many sources can take longer than the pool's statement timeout.
  return withOwnClient(opts, 'rollup rebuild', async (client) => {
    const { rows } = await client
      .query<{ n: number }>("SELECT wmn_rebuild_rollups($1, $1::timestamptz + interval '1 hour') AS n", [
        hour,
      ])
      .catch((err: unknown) => {
        throw storeError('maintain', `cannot rebuild the rollups of ${hour.toISOString()}`, err);
      });
    return (rows[0]?.n ?? 0) > 0;
  });
}

async function rawSpan(pool: pg.Pool, url: string): Promise<{ first: Date; last: Date } | null> {
  const { rows } = await pool
    .query<{ first: Date | null; last: Date | null }>(
      'SELECT min(ts) AS first, max(ts) AS last FROM favicon_metrics',
    )
    .catch((err: unknown) => {
      throw storeError('connect', `cannot read favicon_metrics on ${url}`, err);
    });
  const { first, last } = rows[0] ?? {};
  return first && last ? { first, last } : null;
}

function migrate(opts: PostgresStoreOptions): Promise<MigrationReport> {
  // Its own connection, without the pool's timeouts: an upgrade may rewrite a large table, and a
  // migrator may wait its turn behind another agent's.
  return withOwnClient(opts, 'migration', (client) =>
    runMigrations(client, { dir: opts.migrationsDir ?? MIGRATIONS_DIR, agent: opts.agent }),
  );
}

/** Runs `fn` on a connection of its own, outside the pool and its timeouts, closed afterwards. */
async function withOwnClient<T>(
  opts: PostgresStoreOptions,
  purpose: string,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({
    ...opts.connection,
    application_name: 'wmn',
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', (err) => opts.log.warn(`${purpose} connection lost`, { error: err }));
  await client.connect().catch((err: unknown) => {
    throw storeError('connect', `cannot connect to ${opts.describe.url}`, err);
  });
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function closeAll(pool: pg.Pool, onClose: (() => Promise<void>) | undefined): Promise<void> {
  try {
    await pool.end();
  } finally {
    await onClose?.();
  }
}

/** A StoreError whose message names the failure even when the cause's own message is empty. */
function storeError(code: 'connect' | 'write' | 'maintain', message: string, cause: unknown): StoreError {
  // Node reports "every address of this host refused" as an AggregateError whose message is empty and
  // whose reason is only in `code`.
  const detail =
    cause instanceof Error && !cause.message && 'code' in cause ? ` (${String(cause.code)})` : '';
  return new StoreError(code, `${message}${detail}`, { cause });
}
