/**
 * The 1 Hz heart: ticks aligned to wall-clock multiples of the interval, one probe_id (the unix second of
 * the scheduled tick) per tick. `onTick` is called synchronously and never awaited, so a slow or hung
 * probe cannot delay the next tick; cycles may overlap when the timeout exceeds the interval.
 *
 * After a stall (event loop blocked, host suspended) or a wall-clock step forward, missed ticks are
 * counted and logged but never replayed: the scheduler fires once for the latest due boundary and moves
 * on. After a step backward it re-aligns to the new wall time rather than waiting for the old one.
 */
import type { Logger } from '../log.js';
import type { Clock } from './clock.js';

export interface Tick {
  /** Unix second of the scheduled boundary. */
  readonly probeId: number;
  /** Scheduled wall time (ms since epoch), the `ts` of every row of the cycle. */
  readonly scheduledAt: number;
  /** How late the tick fired relative to its boundary, in ms (wall clock). */
  readonly lateMs: number;
}

export interface SchedulerStats {
  ticks: number;
  skipped: number;
  clockSteps: number;
}

export interface SchedulerOptions {
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly onTick: (tick: Tick) => void;
}

export interface Scheduler {
  readonly stats: Readonly<SchedulerStats>;
  stop(): void;
}

export function startScheduler(opts: SchedulerOptions): Scheduler {
  const { intervalMs, clock, log, onTick } = opts;
  if (!Number.isInteger(intervalMs / 1000) || intervalMs < 1000) {
    throw new RangeError(`interval must be a whole number of seconds, got ${intervalMs} ms`);
  }
  const stats: SchedulerStats = { ticks: 0, skipped: 0, clockSteps: 0 };
  let next = boundaryAfter(clock.wallNow(), intervalMs);
  let cancel: (() => void) | null = null;
  let stopped = false;

  const arm = () => {
    cancel = clock.setTimer(fire, next - clock.wallNow());
  };

  const fire = () => {
    if (stopped) return;
    const now = clock.wallNow();
    if (now < next - intervalMs) {
      // Wall clock stepped back by more than an interval: waiting for `next` would stall probing.
      stats.clockSteps++;
      log.warn('wall clock stepped backward; re-aligning ticks', { by_ms: Math.round(next - now) });
      next = boundaryAfter(now, intervalMs);
    } else if (now >= next) {
      const due = next + Math.floor((now - next) / intervalMs) * intervalMs;
      const missed = (due - next) / intervalMs;
      if (missed > 0) {
        stats.skipped += missed;
        log.warn('ticks skipped (stall or clock step forward); not replayed', {
          skipped: missed,
          from_probe_id: next / 1000,
          late_ms: Math.round(now - next),
        });
      }
      stats.ticks++;
      onTick({ probeId: due / 1000, scheduledAt: due, lateMs: now - due });
      next = due + intervalMs;
    }
    // now < next (timer fired early against a wall clock that moved back a little): just re-arm.
    arm();
  };

  arm();
  return {
    stats,
    stop() {
      stopped = true;
      cancel?.();
    },
  };
}

/** The first interval boundary strictly after `wallMs`. */
function boundaryAfter(wallMs: number, intervalMs: number): number {
  return (Math.floor(wallMs / intervalMs) + 1) * intervalMs;
}
