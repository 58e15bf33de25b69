/**
 * The storage seam. Everything that writes measurements goes through {@link Store}; both back ends
 * (embedded PostgreSQL and a PostgreSQL server) are the same implementation over a `pg` pool, differing
 * only in how the server is found or started.
 */
import type { ProbeResult } from '../probes/types.js';

/** One finished probe cycle of one agent: becomes one row per result in `favicon_metrics`. */
export interface CycleRecord {
  readonly agent: string;
  /** Unix second of the scheduled tick. */
  readonly probeId: number;
  /** Scheduled time of the tick (same for every row of the cycle). */
  readonly ts: Date;
  readonly results: readonly ProbeResult[];
}

export interface MigrationReport {
  /** Versions applied by this call, in order (empty when the schema was already current). */
  readonly applied: readonly number[];
  readonly current: number;
}

export interface Store {
  /** Applies pending migrations in one transaction, recording each; safe to run concurrently. */
  migrate(): Promise<MigrationReport>;
  /** Writes a cycle as one multi-row INSERT … ON CONFLICT DO NOTHING; returns the rows inserted. */
  writeCycle(cycle: CycleRecord): Promise<number>;
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
    readonly code: 'connect' | 'migrate' | 'write' | 'embedded',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}
