/**
 * What every SLA query shares: the connection it runs on, the range and agents it reads, and the
 * conversion of PostgreSQL's values into plain numbers. The SQL functions (migration 002) hold every
 * definition; this module only calls them, with bound parameters, and types what comes back.
 */
import type pg from 'pg';
import type { Queryable } from '../store/types.js';
import { StoreError } from '../store/types.js';

export type { Queryable };

/** The half-open range [from, to) every SLA function reads, and the agents to read (all when absent). */
export interface AnalysisRange {
  readonly from: Date;
  readonly to: Date;
  readonly agents?: readonly string[] | undefined;
}

/** Checks a range up front: a bad one is a caller's mistake, not something to send to the server. */
export function checkRange(range: AnalysisRange): void {
  const { from, to } = range;
  if (!(from instanceof Date) || Number.isNaN(from.getTime()))
    throw new RangeError('from is not a valid Date');
  if (!(to instanceof Date) || Number.isNaN(to.getTime())) throw new RangeError('to is not a valid Date');
  if (from.getTime() >= to.getTime())
    throw new RangeError(`from (${from.toISOString()}) must be before to (${to.toISOString()})`);
}

/** The parameters $1 (from), $2 (to), $3 (agents, NULL for all) the SLA functions take. */
export function rangeParams(range: AnalysisRange): [Date, Date, string[] | null] {
  checkRange(range);
  return [range.from, range.to, range.agents ? [...range.agents] : null];
}

/**
 * A BIGINT column as a number. `pg` returns BIGINT as a string because it may exceed 2^53; the columns
 * read here are counts of cycles or probes (one per source per second at most), which would need
 * hundreds of thousands of years of a thousand sources to pass 2^53, so the conversion is exact. It is
 * still checked, so a wrong figure can never be shown silently.
 */
export function count(value: string | number | null): number {
  if (value === null) return 0;
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`count ${value} is not an exact integer`);
  return n;
}

/** A DOUBLE PRECISION column that the function guarantees is not NULL (checked: a NULL is a schema bug). */
export function real(value: number | null, column: string): number {
  if (value === null) throw new TypeError(`${column} is NULL where the SLA functions promise a value`);
  return value;
}

/** PostgreSQL error codes that mean the SLA functions are not there: the schema predates migration 002. */
const MISSING_SCHEMA = new Set(['42883', '42P01']);

/**
 * Runs one SLA query. A failure becomes a StoreError: `migrate` when the functions do not exist yet
 * (with the fix), `connect` otherwise (the server is unreachable, or refused the query).
 */
export async function read<R extends pg.QueryResultRow>(
  db: Queryable,
  what: string,
  sql: string,
  values: unknown[],
): Promise<R[]> {
  try {
    return (await db.query<R>(sql, values)).rows;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && MISSING_SCHEMA.has(code))
      throw new StoreError(
        'migrate',
        `cannot read ${what}: the database has no SLA functions yet; run \`wmn migrate\``,
        { cause: err },
      );
    throw new StoreError('connect', `cannot read ${what}`, { cause: err });
  }
}
