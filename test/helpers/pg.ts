/**
 * Fresh databases for tests: each test gets its own, uniquely named, dropped afterwards, on the machine's
 * PostgreSQL server (TEST_PG_URL) or on any server the test names.
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { maskUrl } from '../../src/log.js';
import { need, TEST_PG_URL } from './env.js';

let reachable: Promise<boolean> | undefined;

/** Whether the machine's PostgreSQL server answers (asked once per process). */
export function testServerReachable(): Promise<boolean> {
  reachable ??= withClient(
    { connectionString: TEST_PG_URL, connectionTimeoutMillis: 3_000 },
    async () => true,
  ).catch(() => false);
  return reachable;
}

/**
 * Runs `fn` with the URL of a new database on the machine's server and drops it afterwards, even when
 * `fn` fails. Skips the test (fails it under WMN_TEST_STRICT) when the server is unreachable.
 */
export async function withTestDatabase(t: TestContext, fn: (url: string) => Promise<void>): Promise<void> {
  if (!need(t, await testServerReachable(), `no PostgreSQL server at ${maskUrl(TEST_PG_URL)}`)) return;
  const admin = { connectionString: TEST_PG_URL };
  const name = uniqueDatabaseName();
  await createDatabase(admin, name);
  try {
    const url = new URL(TEST_PG_URL);
    url.pathname = `/${name}`;
    await fn(url.toString());
  } finally {
    await dropDatabase(admin, name);
  }
}

/** A database name no other test run uses: pid and random bytes. */
export function uniqueDatabaseName(): string {
  return `wmn_test_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Creates database `name` on the server `admin` connects to. */
export function createDatabase(admin: pg.ClientConfig, name: string): Promise<void> {
  return withClient(admin, async (client) => {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  });
}

/** How long {@link dropDatabase} waits for connections already closing to go. */
const CLOSING_WAIT_MS = 2_000;

/**
 * Drops database `name`, disconnecting whatever still uses it (a failed test's pool). Connections that
 * are closing are waited for first: `pg.Pool#end()` resolves before its backends have exited, and one
 * terminated by the drop then reaches its client as an error nobody listens to any more.
 */
export function dropDatabase(admin: pg.ClientConfig, name: string): Promise<void> {
  return withClient(admin, async (client) => {
    for (const began = Date.now(); Date.now() - began < CLOSING_WAIT_MS; await sleep(20)) {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
        [name],
      );
      if (rows[0]?.n === 0) break;
    }
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  });
}

/** Runs `fn` with a connected client, ended afterwards. */
export async function withClient<T>(
  config: pg.ClientConfig,
  fn: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
