/**
 * The agent's live state, in memory: every finished cycle and every tick is published here, and the
 * exporter and the dashboard's live events subscribe. Nothing here touches the database.
 */
import type { Tick } from '../scheduler/scheduler.js';
import type { CycleRecord } from '../store/types.js';

export interface LiveEvents {
  readonly cycle: CycleRecord;
  readonly tick: Tick;
}

type Listener<K extends keyof LiveEvents> = (event: LiveEvents[K]) => void;

export interface LiveHub {
  publishCycle(cycle: CycleRecord): void;
  publishTick(tick: Tick): void;
  /** Subscribes to one kind of event; returns the unsubscribe function. */
  on<K extends keyof LiveEvents>(kind: K, listener: Listener<K>): () => void;
  /** The latest finished cycle, or null before the first. */
  lastCycle(): CycleRecord | null;
  /** The latest tick, or null before the first. */
  lastTick(): Tick | null;
}

export function createLiveHub(): LiveHub {
  const listeners = { cycle: new Set<Listener<'cycle'>>(), tick: new Set<Listener<'tick'>>() };
  let cycle: CycleRecord | null = null;
  let tick: Tick | null = null;
  return {
    publishCycle(next) {
      cycle = next;
      for (const listener of listeners.cycle) listener(next);
    },
    publishTick(next) {
      tick = next;
      for (const listener of listeners.tick) listener(next);
    },
    on(kind, listener) {
      const set = listeners[kind] as Set<typeof listener>;
      set.add(listener);
      return () => set.delete(listener);
    },
    lastCycle: () => cycle,
    lastTick: () => tick,
  };
}
