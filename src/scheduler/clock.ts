/**
 * Time as the agent sees it, injected everywhere (never read from globals) so the scheduler can be tested
 * with a fake clock and no sleeping. Wall time is only for `ts`/`probe_id`; durations use `monoNow`.
 */
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Wall-clock milliseconds since the epoch (may jump: NTP, VM resume). */
  wallNow(): number;
  /** Monotonic milliseconds from an arbitrary origin. */
  monoNow(): number;
  /** Calls `fn` once after `ms` milliseconds of monotonic time; returns a function that cancels it. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  wallNow: () => Date.now(),
  monoNow: () => performance.now(),
  setTimer(fn, ms) {
    const handle = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(handle);
  },
};
