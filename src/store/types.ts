/**
 * The storage seam. Everything that writes measurements goes through {@link Store}; both back ends
 * (embedded PostgreSQL and a PostgreSQL server) are the same implementation over a `pg` pool, differing
 * only in how the server is found or started.
 */
import type pg from 'pg';
import type { Layer } from '../diagnosis/layers.js';
import type { ProbeResult } from '../probes/types.js';

/** Anything that runs a parameterised query: a `pg.Pool`, a `pg.Client`, a pooled client. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<pg.QueryResult<R>>;
}

/** A probe's result in its cycle: with its source's layer (absent in cycles spooled by older versions). */
export type CycleResult = ProbeResult & { readonly layer?: Layer };

/** One finished probe cycle of one agent: becomes one row per result in `favicon_metrics`. */
export interface CycleRecord {
  readonly agent: string;
  /** Unix second of the scheduled tick. */
  readonly probeId: number;
  /** Scheduled time of the tick (same for every row of the cycle). */
  readonly ts: Date;
  readonly results: readonly CycleResult[];
}

export interface MigrationReport {
  /** Versions applied by this call, in order (empty when the schema was already current). */
  readonly applied: readonly number[];
  readonly current: number;
}

/** What an agent records about itself in `wmn_agents`: its interval is the time each cycle covers. */
export interface AgentRegistration {
  readonly agent: string;
  readonly intervalMs: number;
  readonly sources: readonly string[];
  readonly version: string;
}

export interface Store {
  /** Applies pending migrations in one transaction, recording each; safe to run concurrently. */
  migrate(): Promise<MigrationReport>;
  /** Writes a cycle as one multi-row INSERT … ON CONFLICT DO NOTHING; returns the rows inserted. */
  writeCycle(cycle: CycleRecord): Promise<number>;
  /** Records (or updates) this agent's interval and sources; the rollups read the interval. */
  registerAgent(registration: AgentRegistration): Promise<void>;
  /**
   * Deletes raw rows older than `keepMs` whose minute is rolled up, in batches so no statement runs
   * long; rollups, outages and SLA answers stay. Resolves with the rows deleted.
   */
  applyRetention(keepMs: number): Promise<number>;
  /** Rebuilds the rollups of one UTC hour from its raw rows; resolves false when it has none. */
  rebuildHour(hour: Date): Promise<boolean>;
  /** Times of the oldest and newest raw rows, or null when there are none. */
  rawSpan(): Promise<{ readonly first: Date; readonly last: Date } | null>;
  /** The store's pool, for reading the SLA functions (src/analysis); never for writing rows. */
  readonly reader: Queryable;
  /** How a person connects to this database (masked URL, a psql command line). */
  readonly describe: StoreDescription;
  /** Ends the pool and, for the embedded back end, stops the server cleanly. */
  close(): Promise<void>;
}

export interface StoreDescription {
  readonly kind: 'embedded' | 'server';
  /** Connection URL with any password masked. */
  readonly url: string;
  /** A command line that opens psql on this database. */
  readonly psql: string;
}

/** Error classes for real storage faults (never for probe failures). */
export class StoreError extends Error {
  constructor(
    readonly code: 'connect' | 'migrate' | 'write' | 'embedded' | 'maintain',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}
