/**
 * Numbered, forward-only SQL migrations (`NNN_name.sql`), applied in one transaction and recorded in
 * `wmn_schema_migrations`. Several agents may start at once against one server: a transaction-scoped
 * advisory lock makes them take turns, so exactly one applies and the others find the schema current.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { type MigrationReport, StoreError } from './types.js';

/** The shipped migrations: beside this module (src/store/ in development, dist/store/ once built). */
export const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/** One migration file, read and checked. */
export interface Migration {
  readonly version: number;
  /** The part of the file name after the number, as recorded in `wmn_schema_migrations.name`. */
  readonly name: string;
  readonly file: string;
  readonly sql: string;
}

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/** Key of the advisory lock migrators take turns on ('wmnM'); any constant works, it must just never change. */
const MIGRATION_LOCK = 0x776d6e4d;

const CREATE_LEDGER = `CREATE TABLE IF NOT EXISTS wmn_schema_migrations (
  version    INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

/**
 * Reads the migrations in `dir`, in order. Numbering starts at 001 and has no gaps or repeats; a `.sql`
 * file not named `NNN_name.sql` is an error too, so a typo cannot silently skip a migration.
 */
export async function loadMigrations(dir: URL): Promise<Migration[]> {
  const path = fileURLToPath(dir);
  const files = (await listDir(path)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const [index, file] of files.entries()) {
    const match = FILE_NAME.exec(file);
    if (!match?.[1] || !match[2]) {
      throw new StoreError('migrate', `migration ${file} is not named NNN_name.sql (in ${path})`);
    }
    const version = Number(match[1]);
    checkNumber(version, index + 1, file);
    migrations.push({ version, name: match[2], file, sql: await readFile(join(path, file), 'utf8') });
  }
  return migrations;
}

/**
 * Applies the pending migrations of `dir` on `client` in one transaction; `agent` names the rows an
 * upgrade of the original table adopts. All or nothing: a failing file rolls every one back.
 */
export async function runMigrations(
  client: pg.ClientBase,
  opts: { readonly dir: URL; readonly agent: string },
): Promise<MigrationReport> {
  const migrations = await loadMigrations(opts.dir);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1), set_config($2, $3, true)', [
      MIGRATION_LOCK,
      'wmn.agent',
      opts.agent,
    ]);
    // A current schema needs no DDL at all, so the agent can run as a role without CREATE rights
    // (docs/security.md: `wmn migrate` as the owner, `wmn run` as the writer).
    const ledger = await client.query<{ exists: boolean }>(
      "SELECT to_regclass('wmn_schema_migrations') IS NOT NULL AS exists",
    );
    if (!ledger.rows[0]?.exists) await client.query(CREATE_LEDGER);
    const recorded = await client.query<{ version: number; name: string }>(
      'SELECT version, name FROM wmn_schema_migrations ORDER BY version',
    );
    checkRecorded(recorded.rows, migrations);
    const pending = migrations.slice(recorded.rows.length);
    for (const migration of pending) await apply(client, migration);
    await client.query('COMMIT');
    return { applied: pending.map((m) => m.version), current: migrations.length };
  } catch (err) {
    // The original error is the story; a failed ROLLBACK only means the connection is gone, which
    // aborts the transaction just the same.
    await client.query('ROLLBACK').catch(() => undefined);
    throw err instanceof StoreError ? err : new StoreError('migrate', 'migration failed', { cause: err });
  }
}

async function apply(client: pg.ClientBase, migration: Migration): Promise<void> {
  try {
    await client.query(migration.sql);
    await client.query('INSERT INTO wmn_schema_migrations (version, name) VALUES ($1, $2)', [
      migration.version,
      migration.name,
    ]);
  } catch (err) {
    const hint =
      (err as { code?: string }).code === '42501'
        ? ': this role may not change the schema; run `wmn migrate` once as the database owner'
        : '';
    throw new StoreError('migrate', `migration ${migration.file} failed${hint}`, { cause: err });
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    throw new StoreError('migrate', `cannot read the migrations in ${path}`, { cause: err });
  }
}

function checkNumber(version: number, expected: number, file: string): void {
  if (version === expected) return;
  const problem =
    version > expected
      ? `migration ${pad(expected)} is missing before it`
      : `it repeats number ${pad(version)}`;
  throw new StoreError('migrate', `migration ${file} is out of sequence: ${problem}`);
}

/** The database's history must be a prefix of the files: forward-only means files never vanish or change name. */
function checkRecorded(recorded: readonly { version: number; name: string }[], files: readonly Migration[]) {
  for (const [index, row] of recorded.entries()) {
    const file = files[row.version - 1];
    const recordedFile = `${pad(row.version)}_${row.name}.sql`;
    if (row.version !== index + 1) {
      throw new StoreError(
        'migrate',
        `the database's migration history lacks ${pad(index + 1)} before ${recordedFile}`,
      );
    }
    if (!file) {
      throw new StoreError(
        'migrate',
        `the database has migration ${recordedFile} applied but its file is missing: is this wmn older than the database?`,
      );
    }
    if (file.name !== row.name) {
      throw new StoreError(
        'migrate',
        `the database has migration ${recordedFile} applied where the file is ${file.file}`,
      );
    }
  }
}

function pad(version: number): string {
  return String(version).padStart(3, '0');
}
