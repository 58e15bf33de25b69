/**
 * Writes finished cycles to the store in completion order, one statement per cycle. A failed write is
 * kept and retried with capped exponential backoff, so a database restart costs no rows while the agent
 * keeps running. The queue is held in memory and bounded (oldest cycles dropped, loudly); the durable
 * on-disk spool that survives a restart of the agent itself is the reliability issue's work.
 */
import { errorText, type Logger } from '../log.js';
import type { CycleRecord, Store } from '../store/types.js';

export interface WriterOptions {
  /** Cycles kept while the database is unreachable (default: one hour at 1 Hz). */
  readonly maxQueued?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface WriterStats {
  written: number;
  rows: number;
  failures: number;
  dropped: number;
  queued: number;
}

export class CycleWriter {
  readonly stats: WriterStats = { written: 0, rows: 0, failures: 0, dropped: 0, queued: 0 };
  private readonly queue: CycleRecord[] = [];
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private abandoned = false;
  private readonly maxQueued: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    private readonly store: Pick<Store, 'writeCycle'>,
    private readonly log: Logger,
    opts: WriterOptions = {},
  ) {
    this.maxQueued = opts.maxQueued ?? 3600;
    this.minBackoffMs = opts.minBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  }

  enqueue(cycle: CycleRecord): void {
    this.queue.push(cycle);
    if (this.queue.length > this.maxQueued) {
      const lost = this.queue.shift();
      this.stats.dropped++;
      this.log.error('write queue full: dropped the oldest cycle', { probe_id: lost?.probeId });
    }
    this.stats.queued = this.queue.length;
    this.running ??= this.pump().finally(() => {
      this.running = null;
    });
  }

  /**
   * Resolves when every queued cycle is written, or after `deadlineMs` of failing to; returns how many
   * cycles were left unwritten.
   */
  async drain(deadlineMs: number): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    this.wake?.(); // retry now rather than after the current backoff
    await Promise.race([this.running ?? Promise.resolve(), expired]);
    clearTimeout(timer);
    this.abandoned = true;
    this.wake?.();
    await this.running;
    return this.queue.length;
  }

  private async pump(): Promise<void> {
    let backoff = this.minBackoffMs;
    let failing = false;
    for (let head = this.queue[0]; head && !this.abandoned; head = this.queue[0]) {
      try {
        const rows = await this.store.writeCycle(head);
        this.queue.shift();
        this.stats.written++;
        this.stats.rows += rows;
        this.stats.queued = this.queue.length;
        if (failing) this.log.info('database writes recovered', { backlog: this.queue.length });
        failing = false;
        backoff = this.minBackoffMs;
      } catch (err) {
        this.stats.failures++;
        if (!failing)
          this.log.error('database write failed; keeping cycles and retrying', { err: errorText(err) });
        failing = true;
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.maxBackoffMs);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
