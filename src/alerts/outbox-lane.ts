/**
 * One notifier's delivery lane in the outbox: its pending events in enqueue order, sent one at a time.
 * The next event is sent only once the previous one was sent and its acknowledgement is on disk, so a
 * notifier never receives event n+1 before event n. A failed send is retried after a capped exponential
 * backoff with jitter ({@link backoffMs}); each lane backs off on its own, so a failing notifier never
 * holds up another.
 */
import { errorText, type Logger } from '../log.js';
import type { AlertEvent, Notifier } from './types.js';

/** One event the outbox holds, as the outbox and its lanes see it. */
export interface Entry {
  readonly id: string;
  /** Wall-clock ms when the outbox took it (or the snapshot's `at` for a compacted `seen` id). */
  readonly at: number;
  /** Null once every notifier it is for has it: only the id is kept then, for deduplication. */
  event: AlertEvent | null;
  /** The notifiers it is for: those configured when it was enqueued. */
  readonly to: readonly string[];
  /** Those of `to` that have it (acknowledged on disk). */
  readonly done: Set<string>;
  /** Its event record was appended (or the append failed): a compaction may write it. */
  journaled: boolean;
}

/** The notifiers `entry` is for that do not have it yet. */
export function outstanding(entry: Entry): string[] {
  return entry.to.filter((name) => !entry.done.has(name));
}

/** What a lane needs from its outbox. */
export interface LaneHost {
  readonly log: Logger;
  /** Wall-clock ms. */
  now(): number;
  /** Records that notifier `name` has `entry`, durably; the lane sends nothing else until it resolves. */
  delivered(entry: Entry, name: string): Promise<void>;
}

export interface LaneTiming {
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  /** A send not settled after this long is aborted (through its signal) and counted as a failure. */
  readonly sendTimeoutMs: number;
}

/**
 * The wait after the `streak`-th failure in a row: "equal jitter" on a doubling ceiling, i.e. uniform in
 * [c/2, c] where c = min(max, min × 2^(streak−1)). Never above `max`; jitter keeps several agents that
 * lost the same receiver from retrying in step.
 */
export function backoffMs(
  streak: number,
  min: number,
  max: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(max, min * 2 ** Math.min(Math.max(streak - 1, 0), 40));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** A notifier's lane; a lane without a notifier (no longer configured) only holds its events. */
export class Lane {
  /** Not yet delivered to this notifier, oldest first. */
  readonly pending: Entry[] = [];
  /** Sends that succeeded, this run. */
  delivered = 0;
  /** Sends that failed (timeouts included), this run. */
  failures = 0;
  /** Failures in a row, for the logs. */
  private failingFor = 0;
  /** Failures in a row since the last success or {@link retry}: the backoff's exponent. */
  private streak = 0;
  private retryWanted = false;
  private stopping = false;
  /** The pause the lane is in: idle (nothing pending) or a backoff. */
  private waiter: { readonly idle: boolean; readonly resolve: () => void } | null = null;
  private inflight: AbortController | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    readonly name: string,
    readonly notifier: Notifier | null,
    private readonly host: LaneHost,
    private readonly timing: LaneTiming,
  ) {}

  /** Age in ms of the oldest pending event, or null. */
  oldestPendingMs(now: number): number | null {
    const first = this.pending[0];
    return first === undefined ? null : Math.max(0, now - first.at);
  }

  /** Starts delivering (once; never for a lane without a notifier). */
  start(): void {
    if (this.notifier && !this.loop && !this.stopping) this.loop = this.run(this.notifier);
  }

  /** An event was added: wakes the lane if it is idle (not while it backs off). */
  notify(): void {
    if (this.waiter?.idle) this.waiter.resolve();
  }

  /** Ends the current backoff and tries again now, the backoff starting over from its minimum. */
  retry(): void {
    this.streak = 0;
    this.retryWanted = true;
    this.waiter?.resolve();
  }

  /** Aborts the send in flight and resolves once the lane has stopped. */
  stop(): Promise<void> {
    this.stopping = true;
    this.inflight?.abort(new Error('the outbox is stopping'));
    this.waiter?.resolve();
    return this.loop ?? Promise.resolve();
  }

  private async run(notifier: Notifier): Promise<void> {
    while (!this.stopping) {
      const entry = this.pending[0];
      if (entry === undefined) {
        await this.pause(null);
        continue;
      }
      this.retryWanted = false;
      if (await this.attempt(notifier, entry)) continue;
      if (this.stopping) break;
      this.streak++;
      await this.pause(backoffMs(this.streak, this.timing.minBackoffMs, this.timing.maxBackoffMs));
    }
  }

  /** One send of `entry`; true once it is delivered and acknowledged. */
  private async attempt(notifier: Notifier, entry: Entry): Promise<boolean> {
    const event = entry.event;
    if (event === null) {
      // Cannot happen for a pending entry (its event is kept until every notifier has it); be safe.
      this.pending.shift();
      return true;
    }
    const stop = new AbortController();
    this.inflight = stop;
    const timeout = AbortSignal.timeout(this.timing.sendTimeoutMs);
    const createdAt = Date.parse(event.createdAt);
    const delayedMs = Math.max(0, this.host.now() - (Number.isNaN(createdAt) ? entry.at : createdAt));
    try {
      await notifier.send(event, { delayedMs, signal: AbortSignal.any([stop.signal, timeout]) });
    } catch (err) {
      if (this.stopping) return false; // aborted by stop(): retried at the next start, not a failure
      this.failed(
        event,
        timeout.aborted ? `no answer within ${this.timing.sendTimeoutMs} ms` : errorText(err),
      );
      return false;
    } finally {
      this.inflight = null;
    }
    await this.host.delivered(entry, this.name);
    const at = this.pending.indexOf(entry);
    if (at >= 0) this.pending.splice(at, 1);
    this.delivered++;
    const fields = { notifier: this.name, event: event.id, delayed_ms: Math.round(delayedMs) };
    if (this.failingFor > 0)
      this.host.log.info('outbox: notifier reachable again', { ...fields, failures: this.failingFor });
    this.failingFor = 0;
    this.streak = 0;
    this.host.log.info('outbox: notification sent', { ...fields, pending: this.pending.length });
    return true;
  }

  private failed(event: AlertEvent, why: string): void {
    this.failures++;
    this.failingFor++;
    const fields = { notifier: this.name, event: event.id, err: why, pending: this.pending.length };
    // The first failure of a run of them is worth a warning; the retries are not.
    if (this.failingFor === 1)
      this.host.log.warn('outbox: notification failed; retrying with backoff', fields);
    else this.host.log.debug('outbox: notification failed again', { ...fields, failures: this.failingFor });
  }

  /** Waits for an event (`ms` null) or out a backoff of `ms`; {@link retry} and {@link stop} end either. */
  private pause(ms: number | null): Promise<void> {
    if (this.stopping || (ms !== null && this.retryWanted)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiter = null;
        resolve();
      };
      const timer = ms === null ? undefined : setTimeout(done, ms);
      this.waiter = { idle: ms === null, resolve: done };
    });
  }
}
