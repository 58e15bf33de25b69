/**
 * Skips that cannot hide in CI. On a user's machine a test whose system part (a PostgreSQL server, curl,
 * network namespaces) is missing skips with a printed reason; with WMN_TEST_STRICT=1 (set by .ci/run)
 * the same situation fails the test instead, so CI always runs everything.
 */
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const STRICT = process.env.WMN_TEST_STRICT === '1';

/** Returns true when the test may proceed; otherwise skips it (or fails it under WMN_TEST_STRICT). */
export function need(t: TestContext, available: boolean, reason: string): boolean {
  if (available) return true;
  if (STRICT) throw new Error(`required by WMN_TEST_STRICT but unavailable: ${reason}`);
  t.diagnostic(`skipped: ${reason}`);
  t.skip(reason);
  return false;
}

/** The machine's PostgreSQL server used by tests (each test creates and drops its own database). */
export const TEST_PG_URL = process.env.WMN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Whether the curl CLI runs here (the curl engine and the lab comparisons need it). */
export const CURL_AVAILABLE = spawnSync('curl', ['--version']).status === 0;
