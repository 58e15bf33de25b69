/**
 * The durable outbox between the alert rules and the notifiers (`<data_dir>/outbox`): an alert is on
 * disk before anything tries to send it, and it is sent when its receivers can be reached again, which
 * for a link monitor is usually after the outage it reports.
 *
 * Guarantees, per notifier:
 * - **Durable first.** {@link Outbox.enqueue} resolves once the event is fdatasync'ed in the journal
 *   (outbox-journal.ts); nothing is sent before that. It survives kill -9 and power loss from then on.
 * - **In order.** Each notifier gets the events in enqueue order, one at a time: event n+1 is sent only
 *   after event n was sent *and* its acknowledgement is on disk, so a DOWN alert always precedes its
 *   recovery, also across restarts.
 * - **Retried.** A failed send (the notifier rejected, or did not settle within `sendTimeoutMs`) is
 *   retried after a capped exponential backoff with jitter (outbox-lane.ts), without end: an event is
 *   never given up on. Each notifier has its own lane and backoff, so one that fails holds up no other.
 *   {@link Outbox.retry} ends the backoff at once (the rules call it when the link comes back).
 * - **Deduplicated.** Enqueuing an id the outbox holds is a no-op: pending, or delivered and still in
 *   the retained history (everything since the last compaction, and the newest delivered ids that the
 *   compaction kept: see outbox-compact.ts; at least the newest ¾ × `maxEvents` − pending ones, as long
 *   as their ids fit in half of `maxBytes`).
 * - **At least once; a repeat only where the outcome is unknown.** Right after a notifier's `send`
 *   resolves, the acknowledgement (event id, notifier) is appended and fdatasync'ed, and only then is
 *   that notifier's next event sent. An event is sent to a notifier again only when a send that may
 *   have reached the receiver was not recorded as a success: (1) a crash (kill -9, power loss) after the
 *   send resolved and before its acknowledgement was on disk (at most one event per notifier per crash:
 *   the oldest pending one, re-sent first at the next start, so still in order); (2) a send reported
 *   failed (timed out, aborted by {@link Outbox.stop}, connection lost before the reply) that the
 *   receiver had in fact taken: retried like any failure; (3) an acknowledgement that could not be
 *   written (I/O error, logged): re-sent after the next restart. Nothing enqueued is lost, and an event
 *   is never sent to a notifier after a later one. Receivers deduplicate on `event.id` (the webhook
 *   and command notifiers carry it): that is the at-least-once key.
 * - **Kept across restarts.** Reopening the directory resumes every notifier's undelivered events, in
 *   order. An event is for the notifiers configured when it was enqueued (a notifier added later does
 *   not get the history). A notifier no longer configured keeps its undelivered events on disk, logged as
 *   orphaned and not sent; they are sent if a notifier of the same name is configured again.
 * - **Bounded.** When the journal passes `compactBytes` (or twice its size after the last compaction)
 *   or holds more than `maxEvents` events, it is rewritten with only what is live: the undelivered
 *   events with who has them, and the ids of delivered ones (newest first) for deduplication. The file
 *   stays under `maxBytes` (plus one record). Only if the undelivered events alone exceed `maxEvents` or
 *   half of `maxBytes` are the oldest of them dropped, orphaned ones first, each time logged as an error
 *   with how many (and counted in {@link OutboxStats.dropped}).
 * - **Damage** (a torn last record after power loss, a corrupt one) is skipped with a warning.
 *
 * `SendContext.delayedMs` is `clock.now() − createdAt` at the moment of each send.
 */
import { join } from 'node:path';
import { errorText, type Logger } from '../log.js';
import { planCompaction } from './outbox-compact.js';
import {
  encodeRecord,
  type Journal,
  type JournalRecord,
  MAX_RECORD_BYTES,
  openJournal,
} from './outbox-journal.js';
import { type Entry, Lane, type LaneHost, type LaneTiming, outstanding } from './outbox-lane.js';
import type { AlertEvent, Notifier } from './types.js';

export { backoffMs } from './outbox-lane.js';

const MiB = 1024 * 1024;
/** How long {@link Outbox.stop} waits for notifiers to settle after aborting them. */
const STOP_GRACE_MS = 5_000;

/** Options of {@link openOutbox}. */
export interface OutboxOptions {
  /** The outbox's directory, created if missing: `<data_dir>/outbox` (see {@link outboxDir}). */
  readonly dir: string;
  /** The configured notifiers; names must be unique. Every event enqueued is for all of them. */
  readonly notifiers: readonly Notifier[];
  readonly log: Logger;
  /** Wall clock in ms (default `Date.now`): enqueue times, `delayedMs`, pending ages. */
  readonly clock?: { now(): number };
  /** First retry delay after a failure (default 1 s); doubles per failure, with jitter. */
  readonly minBackoffMs?: number;
  /** Longest retry delay (default 60 s). */
  readonly maxBackoffMs?: number;
  /** A send not settled after this long is aborted and retried (default 120 s). */
  readonly sendTimeoutMs?: number;
  /** Bound on the journal file (default 16 MiB). */
  readonly maxBytes?: number;
  /** Bound on the events held, pending and delivered (default 10,000). */
  readonly maxEvents?: number;
  /** Journal size that first triggers a compaction (default 256 KiB, at most maxBytes / 2). */
  readonly compactBytes?: number;
  /**
   * Called after a send succeeded, before its acknowledgement is written. For tests (a crash in that
   * window); it must not throw.
   */
  readonly onSent?: (event: AlertEvent, notifier: string) => void | Promise<void>;
}

/** One notifier's figures. */
export interface NotifierStats {
  readonly name: string;
  /** False: not configured any more (orphaned); its pending events are kept, not sent. */
  readonly configured: boolean;
  /** Events not yet delivered to it. */
  readonly pending: number;
  /** Events delivered to it, this run. */
  readonly delivered: number;
  /** Failed attempts (timeouts included), this run. */
  readonly failures: number;
  /** Age of its oldest pending event (since it was enqueued), or null. */
  readonly oldestPendingMs: number | null;
}

export interface OutboxStats {
  /** The configured notifiers in configuration order, then any orphaned ones. */
  readonly notifiers: readonly NotifierStats[];
  /** Events held: pending for someone, or delivered and kept for deduplication. */
  readonly events: number;
  /** Size of the journal file. */
  readonly bytes: number;
  /** Undelivered events dropped by the bound, this run. */
  readonly dropped: number;
}

/** `<dataDir>/outbox`. */
export function outboxDir(dataDir: string): string {
  return join(dataDir, 'outbox');
}

/**
 * Opens (creating if needed) the outbox in `opts.dir`, loading what an earlier run left there. Delivery
 * begins with {@link Outbox.start}. Throws on bad options or when the directory is unusable.
 */
export async function openOutbox(opts: OutboxOptions): Promise<Outbox> {
  const settings = checkOptions(opts);
  const { journal, records } = await openJournal(opts.dir, opts.log);
  return new Outbox(journal, records, opts, settings);
}

interface Settings extends LaneTiming {
  readonly maxBytes: number;
  readonly maxEvents: number;
  readonly compactBytes: number;
}

/** The outbox; see the module comment. Open it with {@link openOutbox}, not the constructor. */
export class Outbox {
  private readonly log: Logger;
  private readonly clock: { now(): number };
  private readonly onSent: OutboxOptions['onSent'];
  /** Every event held, in enqueue order (Map order). */
  private readonly entries = new Map<string, Entry>();
  /** Enqueues whose append is under way, for a duplicate enqueue to wait on. */
  private readonly writing = new Map<string, Promise<void>>();
  private readonly lanes = new Map<string, Lane>();
  private readonly configured: readonly string[];
  private readonly host: LaneHost;
  /** Journal operations, one at a time and in order: appends, acknowledgements, compactions, close. */
  private io: Promise<void> = Promise.resolve();
  private compactAt: number;
  private dropped = 0;
  private state: 'ready' | 'running' | 'stopping' = 'ready';
  private stopped: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly journal: Journal,
    records: readonly JournalRecord[],
    opts: OutboxOptions,
    private readonly settings: Settings,
  ) {
    this.log = opts.log;
    this.clock = opts.clock ?? { now: Date.now };
    this.onSent = opts.onSent;
    this.compactAt = settings.compactBytes;
    this.configured = opts.notifiers.map((n) => n.name);
    this.host = {
      log: this.log,
      now: () => this.clock.now(),
      delivered: (entry, name) => this.acknowledge(entry, name),
    };
    for (const notifier of opts.notifiers)
      this.lanes.set(notifier.name, new Lane(notifier.name, notifier, this.host, settings));
    this.load(records);
    void this.serial(() => this.compactIfDue());
  }

  get stats(): OutboxStats {
    const now = this.clock.now();
    const notifiers = [...this.lanes.values()].map((lane) => ({
      name: lane.name,
      configured: lane.notifier !== null,
      pending: lane.pending.length,
      delivered: lane.delivered,
      failures: lane.failures,
      oldestPendingMs: lane.oldestPendingMs(now),
    }));
    return { notifiers, events: this.entries.size, bytes: this.journal.bytes, dropped: this.dropped };
  }

  /**
   * Takes `event` for every configured notifier; resolves once it is on disk (fdatasync'ed). An id the
   * outbox already holds is a no-op (resolving once that one is on disk). Before {@link start} the event
   * waits on disk. Rejects after {@link stop}, for an event whose record would exceed 1 MiB, and when the
   * journal cannot be written (disk full): the event is then still delivered by this run, from memory,
   * but would not survive a restart unless a later compaction manages to write it.
   */
  enqueue(event: AlertEvent): Promise<void> {
    if (this.state === 'stopping') return Promise.reject(new Error('the outbox is stopped'));
    const known = this.entries.get(event.id);
    if (known) return this.writing.get(event.id) ?? Promise.resolve();
    const entry: Entry = {
      id: event.id,
      at: this.clock.now(),
      event,
      to: this.configured,
      done: new Set(),
      journaled: false,
    };
    const frame = encodeRecord({ t: 'event', event, at: entry.at, to: entry.to });
    const limit = Math.min(MAX_RECORD_BYTES, Math.floor(this.settings.maxBytes / 4));
    if (frame.length > limit) {
      return Promise.reject(
        new RangeError(
          `outbox: event ${event.id} is ${frame.length} bytes as a record; the limit is ${limit}`,
        ),
      );
    }
    this.entries.set(event.id, entry);
    const written = this.serial(async () => {
      try {
        await this.journal.append([frame]);
      } catch (err) {
        this.log.error('outbox: cannot write an event to disk; delivering it from memory', {
          event: event.id,
          err: errorText(err),
        });
        throw new Error(`outbox: event ${event.id} is not on disk`, { cause: err });
      } finally {
        this.writing.delete(event.id);
        this.admit(entry);
      }
      await this.compactIfDue();
    });
    this.writing.set(event.id, written);
    return written;
  }

  /** Begins delivery (once). Events enqueued before it was called are sent first, in order. */
  start(): void {
    if (this.state === 'stopping') throw new Error('the outbox is stopped; open it again');
    if (this.state === 'running') return;
    this.state = 'running';
    for (const lane of this.lanes.values()) lane.start();
  }

  /**
   * Ends any backoff and tries again now: for the notifier named, or for all. The rules call it when the
   * link comes back.
   */
  retry(notifier?: string): void {
    for (const lane of this.lanes.values())
      if (notifier === undefined || lane.name === notifier) lane.retry();
  }

  /**
   * Stops delivery and closes the journal: sends in flight are aborted through their signal and waited
   * for (at most 5 s); what was not delivered stays on disk for the next {@link openOutbox}.
   */
  stop(): Promise<void> {
    if (!this.stopped) {
      this.state = 'stopping';
      this.stopped = this.shutdown();
    }
    return this.stopped;
  }

  /** Builds the state from the journal's records (at open). */
  private load(records: readonly JournalRecord[]): void {
    for (const record of records) {
      if (record.t === 'event') {
        if (this.entries.has(record.event.id)) continue;
        const { event, at, to, done = [] } = record;
        this.entries.set(event.id, { id: event.id, at, event, to, done: new Set(done), journaled: true });
      } else if (record.t === 'ack') {
        this.entries.get(record.id)?.done.add(record.notifier);
      } else if (!this.entries.has(record.id)) {
        const { id, at } = record;
        this.entries.set(id, { id, at, event: null, to: [], done: new Set(), journaled: true });
      }
    }
    for (const entry of this.entries.values()) this.admit(entry);
    const pending = this.configured.reduce((n, name) => n + (this.lanes.get(name)?.pending.length ?? 0), 0);
    if (pending > 0)
      this.log.info('outbox: undelivered notifications from an earlier run; sending them', { pending });
    for (const lane of this.lanes.values()) {
      if (lane.notifier !== null) continue;
      this.log.warn(
        'outbox: notifier no longer configured: its undelivered notifications are kept, not sent',
        {
          notifier: lane.name,
          events: lane.pending.length,
        },
      );
    }
  }

  /** Compacts the journal if it is due (see the module comment); a failure is logged, not thrown. */
  private async compactIfDue(): Promise<void> {
    const { journal, settings } = this;
    if (this.closed || (journal.bytes < this.compactAt && this.entries.size <= settings.maxEvents)) return;
    try {
      await this.compact();
    } catch (err) {
      // Not again before the journal has grown by another compactBytes.
      this.compactAt = journal.bytes + settings.compactBytes;
      this.log.error('outbox: cannot compact the journal', { file: journal.path, err: errorText(err) });
    }
  }

  /** Puts an entry whose record was just written (or loaded) in the lanes of those still to get it. */
  private admit(entry: Entry): void {
    entry.journaled = true;
    const owed = outstanding(entry);
    if (owed.length === 0) entry.event = null;
    for (const name of owed) {
      let lane = this.lanes.get(name);
      if (!lane) {
        lane = new Lane(name, null, this.host, this.settings);
        this.lanes.set(name, lane);
      }
      lane.pending.push(entry);
      lane.notify();
    }
  }

  /** A lane's delivery of `entry` to `name`: the hook, then the acknowledgement, on disk. */
  private async acknowledge(entry: Entry, name: string): Promise<void> {
    if (this.onSent && entry.event) {
      try {
        await this.onSent(entry.event, name);
      } catch {
        // A test hook; nothing to do.
      }
    }
    await this.serial(async () => {
      if (this.closed) return; // stop() gave up waiting for this send: it is sent again next start
      try {
        await this.journal.append([encodeRecord({ t: 'ack', id: entry.id, notifier: name })]);
      } catch (err) {
        this.log.error('outbox: cannot record a delivery on disk; it is sent again after a restart', {
          notifier: name,
          event: entry.id,
          err: errorText(err),
        });
      }
      entry.done.add(name);
      if (outstanding(entry).length === 0) entry.event = null;
      await this.compactIfDue();
    });
  }

  /** Rewrites the journal with what is live, within the bounds; see the module comment. */
  private async compact(): Promise<void> {
    const { maxEvents, maxBytes } = this.settings;
    const before = this.journal.bytes;
    const { frames, drop, forget } = planCompaction(this.entries.values(), this.configured, this.settings);
    await this.journal.rewrite(frames);
    for (const entry of [...drop, ...forget]) this.entries.delete(entry.id);
    if (drop.size > 0) {
      for (const lane of this.lanes.values()) {
        const left = lane.pending.filter((e) => !drop.has(e));
        lane.pending.splice(0, lane.pending.length, ...left);
      }
      this.dropped += drop.size;
      this.log.error('outbox: full: dropped the oldest undelivered notifications', {
        events: drop.size,
        max_events: maxEvents,
        max_bytes: maxBytes,
      });
    }
    this.compactAt = Math.max(this.settings.compactBytes, 2 * this.journal.bytes);
    this.log.debug('outbox: journal compacted', {
      bytes_before: before,
      bytes: this.journal.bytes,
      events: frames.length,
      forgotten: forget.size,
    });
  }

  private async shutdown(): Promise<void> {
    const lanes = Promise.all([...this.lanes.values()].map((lane) => lane.stop()));
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      lanes.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (late)
      this.log.warn('outbox: a notifier did not settle after being aborted; stopping without it', {
        waited_ms: STOP_GRACE_MS,
      });
    await this.serial(async () => {
      this.closed = true;
      await this.journal.close();
    });
    const waiting = [...this.lanes.values()].filter((l) => l.notifier !== null && l.pending.length > 0);
    if (waiting.length > 0) {
      this.log.info('outbox: undelivered notifications kept for the next start', {
        notifiers: waiting.map((l) => `${l.name}:${l.pending.length}`).join(','),
      });
    }
  }

  /** Runs `op` after every journal operation queued before it. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.io.then(op);
    this.io = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}

function checkOptions(opts: OutboxOptions): Settings {
  const minBackoffMs = opts.minBackoffMs ?? 1_000;
  const maxBackoffMs = opts.maxBackoffMs ?? 60_000;
  const sendTimeoutMs = opts.sendTimeoutMs ?? 120_000;
  const maxBytes = opts.maxBytes ?? 16 * MiB;
  const maxEvents = opts.maxEvents ?? 10_000;
  const compactBytes = opts.compactBytes ?? Math.min(256 * 1024, Math.floor(maxBytes / 2));
  const positive = { minBackoffMs, maxBackoffMs, sendTimeoutMs, maxBytes, maxEvents, compactBytes };
  for (const [name, value] of Object.entries(positive)) {
    if (!(Number.isSafeInteger(value) && value > 0))
      throw new RangeError(`outbox: ${name} must be a positive integer (got ${value})`);
  }
  if (maxBackoffMs < minBackoffMs)
    throw new RangeError(`outbox: maxBackoffMs (${maxBackoffMs}) is below minBackoffMs (${minBackoffMs})`);
  if (compactBytes > maxBytes / 2)
    throw new RangeError(
      `outbox: compactBytes (${compactBytes}) must be at most maxBytes / 2 (${maxBytes / 2})`,
    );
  if (maxEvents < 4) throw new RangeError(`outbox: maxEvents must be at least 4 (got ${maxEvents})`);
  const names = new Set<string>();
  for (const { name } of opts.notifiers) {
    if (names.has(name)) throw new RangeError(`outbox: two notifiers are named ${JSON.stringify(name)}`);
    names.add(name);
  }
  return { minBackoffMs, maxBackoffMs, sendTimeoutMs, maxBytes, maxEvents, compactBytes };
}
