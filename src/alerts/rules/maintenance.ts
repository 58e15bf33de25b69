/**
 * Maintenance windows: is an instant inside one, and when does it end. A recurring window starts at a
 * local wall time in its time zone on the days it lists and lasts `durationMs` of real time, so it
 * follows the zone's DST changes: "02:00 for 2h" in Europe/Berlin is 01:00–03:00 UTC in winter and
 * 00:00–02:00 UTC in summer. A start time the spring-forward gap skips moves forward by the gap (02:30
 * becomes 03:30); one the autumn fold repeats is the first of the two.
 */
import type { MaintenanceWindow } from '../../config/types.js';
import { fromWallTime, wallTime } from '../../report/time.js';

/** The end (ms) of the window `nowMs` is in (the latest, when several overlap), or null outside them all. */
export function maintenanceEnd(windows: readonly MaintenanceWindow[], nowMs: number): number | null {
  let end: number | null = null;
  for (const window of windows) {
    const e = windowEndAt(window, nowMs);
    if (e !== null && (end === null || e > end)) end = e;
  }
  return end;
}

function windowEndAt(window: MaintenanceWindow, nowMs: number): number | null {
  if (window.kind === 'once') {
    const [start, end] = [window.start.getTime(), window.end.getTime()];
    return start <= nowMs && nowMs < end ? end : null;
  }
  const [hour, minute] = window.at.split(':').map(Number) as [number, number];
  const today = wallTime(new Date(nowMs), window.timeZone);
  // A window lasts less than the days between its starts (at most 7): one that began up to 8 local days
  // ago may still be open.
  for (let back = 0; back <= 8; back++) {
    const day = { year: today.year, month: today.month, day: today.day - back };
    const weekday = new Date(Date.UTC(day.year, day.month - 1, day.day)).getUTCDay();
    if (!window.days.includes(weekday)) continue;
    const start = fromWallTime({ ...day, hour, minute, second: 0, ms: 0 }, window.timeZone).getTime();
    if (start <= nowMs && nowMs < start + window.durationMs) return start + window.durationMs;
  }
  return null;
}
