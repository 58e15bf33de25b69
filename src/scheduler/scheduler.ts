/**
 * The 1 Hz heart: ticks aligned to wall-clock multiples of the interval, one probe_id (the unix second of
 * the scheduled tick) per tick. `onTick` is called synchronously and never awaited, so a slow or hung
 * probe cannot delay the next tick; cycles may overlap when the timeout exceeds the interval.
 *
 * Clock policy:
 * - After a stall (event loop blocked, host suspended) or a wall-clock step forward, missed ticks are
 *   counted and logged but never replayed: the scheduler fires once for the latest due boundary.
 * - After a step backward (NTP correcting a clock that ran ahead), reusing probe_ids already issued
 *   would collide with stored rows, and the new rows would be dropped (inserts are ON CONFLICT DO
 *   NOTHING). So ticks are held until the wall clock passes the last probe_id again: those seconds
 *   become a gap (unknown, like an agent that was not running), never a lost or overwritten row. A hold
 *   longer than `maxHoldMs` (default 10 min) would blind the monitor for too long: then the scheduler
 *   re-aligns at once and logs an error, as the rows stamped by the wrong clock before the step will
 *   shadow the new ones for the overlap.
 */
import type { Logger } from '../log.js';
import type { Clock } from './clock.js';

export interface Tick {
  /** Unix second of the scheduled boundary. */
  readonly probeId: number;
  /** Scheduled wall time (ms since epoch), the `ts` of every row of the cycle. */
  readonly scheduledAt: number;
  /** How late the tick fired relative to its boundary, in ms. */
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
  /** The last probe_id a previous scheduler issued (a reload): never issue it or an earlier one again. */
  readonly after?: number;
  /** Longest hold after a backward clock step before re-aligning anyway (default 10 min). */
  readonly maxHoldMs?: number;
}

export interface Scheduler {
  readonly stats: Readonly<SchedulerStats>;
  /** The last probe_id issued (or `after`), so a successor can continue the timeline. */
  lastProbeId(): number;
  stop(): void;
}

export function startScheduler(opts: SchedulerOptions): Scheduler {
  const { intervalMs, clock, log, onTick } = opts;
  if (!Number.isInteger(intervalMs / 1000) || intervalMs < 1000) {
    throw new RangeError(`interval must be a whole number of seconds, got ${intervalMs} ms`);
  }
  const stats: SchedulerStats = { ticks: 0, skipped: 0, clockSteps: 0 };
  const maxHoldMs = opts.maxHoldMs ?? 600_000;
  let last = opts.after === undefined ? Number.NEGATIVE_INFINITY : opts.after * 1000; // last issued, ms
  let next = Math.max(boundaryAfter(clock.wallNow(), intervalMs), last + intervalMs);
  let holding = false;
  let cancel: (() => void) | null = null;
  let stopped = false;

  const arm = () => {
    cancel = clock.setTimer(fire, next - clock.wallNow());
  };

  /** The wall clock is more than an interval behind the next tick: it stepped back. */
  const steppedBack = (now: number) => {
    if (next - now > maxHoldMs + intervalMs) {
      stats.clockSteps++;
      log.error(
        'wall clock stepped far backward; re-aligning now (earlier rows stamped by the wrong clock overlap)',
        {
          by_ms: Math.round(next - intervalMs - now),
        },
      );
      next = boundaryAfter(now, intervalMs);
      holding = false;
      return;
    }
    if (holding) return;
    holding = true;
    stats.clockSteps++;
    const held = Math.floor((next - now) / intervalMs);
    stats.skipped += held;
    log.warn('wall clock stepped backward; holding ticks so no probe_id is reused', {
      by_ms: Math.round(next - intervalMs - now),
      resume_probe_id: next / 1000,
      held_ticks: held,
    });
  };

  const fire = () => {
    if (stopped) return;
    const now = clock.wallNow();
    if (now < next - intervalMs) steppedBack(now);
    if (now >= next) {
      holding = false;
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
      last = due;
      onTick({ probeId: due / 1000, scheduledAt: due, lateMs: now - due });
      next = due + intervalMs;
    }
    // Otherwise the boundary is still ahead (held after a step back, or a timer that woke early): wait.
    arm();
  };

  arm();
  return {
    stats,
    lastProbeId: () => (Number.isFinite(last) ? last / 1000 : (opts.after ?? 0)),
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
