/**
 * What a compaction of the outbox's journal keeps: a pure function of the events held and the bounds.
 * Undelivered events are kept whole (with who has them already); delivered ones only as their id, for
 * deduplication. The new journal gets at most half of `maxBytes`, so it can double before the next
 * compaction and still stay under `maxBytes`, and at most ¾ of `maxEvents` with history, so compactions
 * by count come at most every ¼ × `maxEvents` events.
 */
import { encodeRecord } from './outbox-journal.js';
import { type Entry, outstanding } from './outbox-lane.js';

export interface CompactionBounds {
  readonly maxEvents: number;
  readonly maxBytes: number;
}

export interface CompactionPlan {
  /** The new journal's frames, in enqueue order. */
  readonly frames: Buffer[];
  /** Undelivered events that do not fit even without any history: the oldest, orphaned ones first. */
  readonly drop: ReadonlySet<Entry>;
  /** Delivered events whose ids no longer fit: the oldest. */
  readonly forget: ReadonlySet<Entry>;
}

/**
 * Plans the rewrite of `entries` (in enqueue order; those not yet journaled are left to their own append).
 * `configured`: the notifiers configured now; an event only orphaned ones wait for is dropped first.
 */
export function planCompaction(
  entries: Iterable<Entry>,
  configured: readonly string[],
  bounds: CompactionBounds,
): CompactionPlan {
  const budget = Math.floor(bounds.maxBytes / 2);
  const frames = new Map<Entry, Buffer>();
  const undelivered: Entry[] = [];
  const history: Entry[] = [];
  for (const entry of entries) {
    if (!entry.journaled) continue;
    const { event, at, to } = entry;
    if (event !== null && outstanding(entry).length > 0) {
      frames.set(entry, encodeRecord({ t: 'event', event, at, to, done: [...entry.done] }));
      undelivered.push(entry);
    } else {
      frames.set(entry, encodeRecord({ t: 'seen', id: entry.id, at }));
      history.push(entry);
    }
  }
  const size = (entry: Entry) => (frames.get(entry) as Buffer).length;
  let count = undelivered.length;
  let bytes = undelivered.reduce((n, e) => n + size(e), 0);
  const drop = new Set<Entry>();
  if (count > bounds.maxEvents || bytes > budget) {
    const serves = (e: Entry) => outstanding(e).some((name) => configured.includes(name));
    // A stable sort: orphaned-only events first, each group oldest first.
    const victims = [...undelivered].sort((a, b) => Number(serves(a)) - Number(serves(b)));
    for (const entry of victims) {
      if (count <= bounds.maxEvents && bytes <= budget) break;
      drop.add(entry);
      count--;
      bytes -= size(entry);
    }
  }
  const keepEvents = Math.floor((bounds.maxEvents * 3) / 4);
  const forget = new Set<Entry>(history);
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i] as Entry;
    if (count + 1 > keepEvents || bytes + size(entry) > budget) break;
    forget.delete(entry);
    count++;
    bytes += size(entry);
  }
  const kept = [...frames].filter(([entry]) => !drop.has(entry) && !forget.has(entry));
  return { frames: kept.map(([, frame]) => frame), drop, forget };
}
