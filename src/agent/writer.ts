/**
 * Writes finished cycles to the store, journal first: each cycle is appended to the durable spool
 * (src/store/spool.ts) before its INSERT is tried, and acknowledged once stored. While the database is
 * unreachable, cycles stay in the spool and are retried in order with capped exponential backoff; the
 * spool survives a restart of wmn (kill -9 included) and is replayed at the next start. Re-sending a
 * cycle is safe: the store's INSERT … ON CONFLICT DO NOTHING makes one that was already stored a no-op.
 *
 * Cycles the spool cannot take (disk full, I/O error) are held in memory, bounded (oldest dropped,
 * loudly), and written after the spool's backlog. A writer built without a spool holds everything in
 * memory (tests; see {@link openCycleWriter} for the durable one).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { errorText, type Logger } from '../log.js';
import { openSpool, type Spool } from '../store/spool.js';
import type { CycleRecord, Store } from '../store/types.js';

/** Cycles written between two acknowledgements of the spool. */
const BATCH = 64;
/** Spool depth below which changes are not worth a log line (steady state is 0–2). */
const DEPTH_LOG_MIN = 10;

export interface WriterOptions {
  /** The durable journal; without it, cycles are held in memory only. */
  readonly spool?: Spool;
  /** Cycles held in memory when there is no spool or it cannot take them (default: one hour at 1 Hz). */
  readonly maxQueued?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

/** The writer's counters, for logs and metrics. */
export interface WriterStats {
  /** Cycles stored. */
  readonly written: number;
  /** Rows inserted (a replayed cycle that was already stored adds none). */
  readonly rows: number;
  /** Failed write attempts. */
  readonly failures: number;
  /** Cycles deleted unwritten: by the spool's bound, or from memory when the spool could not take them. */
  readonly dropped: number;
  /** Cycles waiting to be written: the spool's depth plus any held in memory. */
  readonly queued: number;
  /** The spool's depth in bytes. */
  readonly spoolBytes: number;
  /** Cycles written from a backlog: spooled by an earlier run, or delayed by a database outage. */
  readonly replayed: number;
  /** Cycles the database refused for good (a data or constraint error): logged and skipped. */
  readonly rejected: number;
}

/**
 * Told of every INSERT attempt: its duration in ms (monotonic) and whether the cycle was stored (false:
 * the database was unreachable, or refused the cycle). The exporter's write latency and /readyz use it.
 */
export type WriteObserver = (ms: number, ok: boolean) => void;

/** Options of {@link openCycleWriter}. */
export interface OpenWriterOptions extends Omit<WriterOptions, 'spool'> {
  readonly store: Pick<Store, 'writeCycle'>;
  /** wmn's state directory: the spool lives in `<dataDir>/spool`. */
  readonly dataDir: string;
  readonly log: Logger;
  /** Bound on the spool's files in bytes (default 256 MiB); past it the oldest cycles are dropped. */
  readonly maxSpoolBytes?: number;
}

/** A durable writer: opens the spool in `<dataDir>/spool` and replays what an earlier run left there. */
export async function openCycleWriter(opts: OpenWriterOptions): Promise<CycleWriter> {
  const { store, dataDir, log, maxSpoolBytes, ...rest } = opts;
  const spool = await openSpool({ dir: join(dataDir, 'spool'), log, maxBytes: maxSpoolBytes });
  return new CycleWriter(store, log, { ...rest, spool });
}

/** A run of cycles to write, and how to mark the first `count` of them stored. */
interface Batch {
  readonly cycles: readonly CycleRecord[];
  commit(count: number): Promise<void>;
}

/**
 * The agent's writer: {@link CycleWriter.enqueue} per finished cycle, {@link CycleWriter.drain} once at
 * stop, {@link CycleWriter.stats} for logs and metrics. See the module comment for the journal.
 */
export class CycleWriter {
  private readonly spool: Spool | undefined;
  /** Cycles the spool could not take (or all of them, without a spool), oldest first. */
  private readonly held: CycleRecord[] = [];
  private readonly count = { written: 0, rows: 0, failures: 0, dropped: 0, replayed: 0, rejected: 0 };
  private readonly running: Promise<void>;
  /** Cancels the backoff sleep. */
  private wake: (() => void) | null = null;
  /** Ends the wait for the next cycle. */
  private notify: (() => void) | null = null;
  /** A cycle arrived since the pump last looked. */
  private news = false;
  private failing = false;
  private spoolFailing = false;
  /** Cycles still to write of the backlog waiting when the database came back (or at start). */
  private owed: number;
  private loggedDepth = 0;
  private draining = false;
  private abandoned = false;
  private readonly maxQueued: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly observers = new Set<WriteObserver>();

  constructor(
    private readonly store: Pick<Store, 'writeCycle'>,
    private readonly log: Logger,
    opts: WriterOptions = {},
  ) {
    this.spool = opts.spool;
    this.maxQueued = opts.maxQueued ?? 3600;
    this.minBackoffMs = opts.minBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    this.owed = this.spool?.stats.records ?? 0;
    this.running = this.pump();
  }

  get stats(): WriterStats {
    const spool = this.spool?.stats ?? { records: 0, bytes: 0, dropped: 0 };
    const { written, rows, failures, dropped, replayed, rejected } = this.count;
    return {
      written,
      rows,
      failures,
      dropped: dropped + spool.dropped,
      queued: spool.records + this.held.length,
      spoolBytes: spool.bytes,
      replayed,
      rejected,
    };
  }

  /** Adds a {@link WriteObserver} (it must not throw); returns the function that removes it. */
  observeWrites(observer: WriteObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Takes a finished cycle: in the spool (on disk) when this returns, written to the store soon after. */
  enqueue(cycle: CycleRecord): void {
    if (!this.journal(cycle)) this.hold(cycle);
    this.news = true;
    this.notify?.();
    this.logDepth();
  }

  /**
   * Tries for up to `deadlineMs` to write every cycle, then stops the writer. Cycles still in the spool
   * are safe (written at the next start); returns how many are lost: held in memory and not written.
   */
  async drain(deadlineMs: number): Promise<number> {
    this.draining = true;
    this.wakeUp(); // retry now rather than after the current backoff
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([this.running, expired]);
    clearTimeout(timer);
    this.abandoned = true;
    this.wakeUp();
    await this.running;
    await this.spool?.close();
    const spooled = this.spool?.stats ?? { records: 0, bytes: 0 };
    if (spooled.records > 0) {
      this.log.warn('cycles left in the spool: they are written at the next start', {
        cycles: spooled.records,
        bytes: spooled.bytes,
      });
    }
    return this.held.length;
  }

  /** Appends to the spool; false when there is none or it failed (the cycle must be held in memory). */
  private journal(cycle: CycleRecord): boolean {
    if (!this.spool) return false;
    try {
      this.spool.append(cycle);
      this.spoolFailing = false;
      return true;
    } catch (err) {
      if (!this.spoolFailing)
        this.log.error('cannot append to the spool: holding cycles in memory', { err: errorText(err) });
      this.spoolFailing = true;
      return false;
    }
  }

  private hold(cycle: CycleRecord): void {
    this.held.push(cycle);
    if (this.held.length <= this.maxQueued) return;
    const lost = this.held.shift();
    this.count.dropped++;
    this.log.error('write queue full: dropped the oldest cycle', { probe_id: lost?.probeId });
  }

  private async pump(): Promise<void> {
    let backoff = this.minBackoffMs;
    while (!this.abandoned) {
      this.news = false;
      const outcome = await this.round();
      if (outcome === 'wrote') backoff = this.minBackoffMs;
      else if (outcome === 'failed') {
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
      } else if (!this.news) {
        // Idle, and no cycle arrived while this round looked.
        if (this.draining) return;
        await this.nextCycle();
      }
    }
  }

  /** Writes one batch: the spool's oldest first, then cycles held in memory. */
  private async round(): Promise<'wrote' | 'failed' | 'idle'> {
    let batch: Batch | null;
    try {
      batch = (this.spool && (await this.spoolBatch(this.spool))) ?? this.memoryBatch();
    } catch (err) {
      this.log.error('cannot read the spool; retrying', { err: errorText(err) });
      return 'failed';
    }
    if (batch === null) return 'idle';
    let done = 0;
    let ok = true;
    for (const cycle of batch.cycles) {
      if (this.abandoned) break;
      ok = await this.writeOne(cycle);
      if (!ok) break;
      done++;
    }
    await batch.commit(done);
    this.logDepth();
    return ok ? 'wrote' : 'failed';
  }

  private async spoolBatch(spool: Spool): Promise<Batch | null> {
    await spool.flush(); // the INSERT is tried only once the cycle is on disk
    const entries = await spool.read(BATCH);
    const last = (count: number) => entries[count - 1];
    if (entries.length === 0) return null;
    return {
      cycles: entries.map((e) => e.cycle),
      commit: async (count) => {
        const entry = last(count);
        if (entry) await spool.ack(entry);
      },
    };
  }

  private memoryBatch(): Batch | null {
    const cycles = this.held.slice(0, BATCH);
    if (cycles.length === 0) return null;
    return {
      cycles,
      commit: async (count) => {
        // By identity: the bound may have dropped some of them meanwhile.
        for (const cycle of cycles.slice(0, count)) {
          const at = this.held.indexOf(cycle);
          if (at >= 0) this.held.splice(at, 1);
        }
      },
    };
  }

  /** {@link insert}, timed for the observers. */
  private async writeOne(cycle: CycleRecord): Promise<boolean> {
    const started = performance.now();
    const written = this.count.written;
    const ok = await this.insert(cycle);
    const ms = performance.now() - started;
    for (const observer of this.observers) observer(ms, this.count.written > written);
    return ok;
  }

  /** One INSERT; false when it failed in a way worth retrying (the database is unreachable). */
  private async insert(cycle: CycleRecord): Promise<boolean> {
    try {
      const rows = await this.store.writeCycle(cycle);
      this.count.written++;
      this.count.rows += rows;
      if (this.failing) this.recovered();
      this.repaid();
      return true;
    } catch (err) {
      if (refusedForGood(err)) {
        // Retrying would block every later cycle behind this one forever.
        this.count.rejected++;
        this.log.error('database refused a cycle; skipping it', {
          probe_id: cycle.probeId,
          err: errorText(err),
        });
        return true;
      }
      this.count.failures++;
      if (!this.failing)
        this.log.error('database write failed; cycles stay spooled and are retried', {
          err: errorText(err),
          backlog: this.stats.queued,
        });
      this.failing = true;
      return false;
    }
  }

  /** The first write after an outage: everything waiting now (this cycle included) is a replay. */
  private recovered(): void {
    this.failing = false;
    this.owed = this.stats.queued;
    this.log.info('database writes recovered', { backlog: this.owed });
  }

  /** Counts a written cycle against the backlog being replayed, if any. */
  private repaid(): void {
    if (this.owed === 0) return;
    this.count.replayed++;
    if (--this.owed === 0) this.log.info('backlog written', { replayed: this.count.replayed });
  }

  /** Logs the backlog when it doubled, halved or emptied since last logged: an outage in a few lines. */
  private logDepth(): void {
    const { queued, spoolBytes } = this.stats;
    const last = this.loggedDepth;
    const material =
      queued === 0
        ? last >= DEPTH_LOG_MIN
        : queued >= DEPTH_LOG_MIN && (queued >= last * 2 || queued <= last / 2);
    if (!material) return;
    this.loggedDepth = queued;
    this.log.info('write backlog', { cycles: queued, spool_bytes: spoolBytes });
  }

  private wakeUp(): void {
    this.wake?.();
    this.notify?.();
  }

  private nextCycle(): Promise<void> {
    return new Promise((resolve) => {
      this.notify = () => {
        this.notify = null;
        resolve();
      };
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        this.wake = null;
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** A data or constraint error (SQLSTATE class 22 or 23) anywhere in the cause chain: retrying cannot help. */
function refusedForGood(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)) return true;
    current = current.cause;
  }
  return false;
}
