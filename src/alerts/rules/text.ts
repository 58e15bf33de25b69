/** How rule summaries word times and figures: UTC clock times, spans, durations, failure classes. */
import { duration, ms } from '../../report/format.js';

const DAY_MS = 86_400_000;

function utc(atMs: number): { date: string; time: string } {
  const iso = new Date(atMs).toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 19) };
}

/** "09:02:11 UTC", with the date in front when it is not the UTC day of `nowMs`. */
export function since(atMs: number, nowMs: number): string {
  const at = utc(atMs);
  return Math.floor(atMs / DAY_MS) === Math.floor(nowMs / DAY_MS)
    ? `${at.time} UTC`
    : `${at.date} ${at.time} UTC`;
}

/** "09:02:11–09:04:37 UTC", or "2026-03-01 23:59:50 – 2026-03-02 00:01:10 UTC" across midnight. */
export function span(startMs: number, endMs: number): string {
  const [start, end] = [utc(startMs), utc(endMs)];
  return start.date === end.date
    ? `${start.time}–${end.time} UTC`
    : `${start.date} ${start.time} – ${end.date} ${end.time} UTC`;
}

/** "2 min 26 s", "45 s", "1 h 02 min 03 s". */
export function lasting(startMs: number, endMs: number): string {
  return duration(Math.max(0, endMs - startMs) / 1000);
}

/** Milliseconds for people, to three significant digits or whole: "812 ms", "20 ms", "2.06 ms". */
export function millis(value: number): string {
  return `${Number(ms(value))} ms`;
}

/** A percentage with up to two decimals: "12.5 %". */
export function percent(value: number): string {
  return `${Math.round(value * 100) / 100} %`;
}

/** " (timeout, dns)" for failure classes, or "" when there are none. */
export function classes(errors: readonly string[]): string {
  return errors.length === 0 ? '' : ` (${errors.join(', ')})`;
}

/** Window lengths as configured: "5m", "1h". */
export { formatDuration as windowText } from '../../config/duration.js';
