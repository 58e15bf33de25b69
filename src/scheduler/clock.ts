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

/** How far before a deadline the timer stops sleeping and starts polling (setTimeout is ms-granular). */
const SPIN_MS = 1.5;

/**
 * The real clock, precise to well under a millisecond:
 * - `Date.now()` is whole milliseconds, so wall time is the monotonic clock plus an offset, re-anchored
 *   to `Date.now()` whenever the two disagree by more than its granularity (a step or NTP slew shows up
 *   within ~1 ms, as the scheduler's clock-step handling needs).
 * - `setTimeout` wakes up to ~1 ms late, so a timer sleeps until SPIN_MS before its deadline and then
 *   polls with `setImmediate` (I/O keeps flowing between polls); this costs ~SPIN_MS of CPU per tick.
 */
export function createSystemClock(): Clock {
  let offset = Date.now() - performance.now();
  const wallNow = () => {
    const mono = performance.now();
    const coarse = Date.now();
    // Date.now() truncates: the true wall time lies in [coarse, coarse + 1).
    if (offset + mono < coarse - 0.5 || offset + mono > coarse + 1.5) offset = coarse + 0.5 - mono;
    return offset + mono;
  };
  const setTimer = (fn: () => void, ms: number) => {
    const deadline = performance.now() + Math.max(0, ms);
    let handle: NodeJS.Timeout | NodeJS.Immediate | undefined;
    let cancelled = false;
    const check = () => {
      if (cancelled) return;
      const left = deadline - performance.now();
      if (left <= 0) return fn();
      handle = left > SPIN_MS ? setTimeout(check, Math.floor(left - SPIN_MS)) : setImmediate(check);
    };
    check();
    return () => {
      cancelled = true;
      clearTimeout(handle as NodeJS.Timeout);
      clearImmediate(handle as NodeJS.Immediate);
    };
  };
  return { wallNow, monoNow: () => performance.now(), setTimer };
}

export const systemClock: Clock = createSystemClock();
