/**
 * Time zones with nothing but Intl: a zone's offset at an instant, wall-clock fields, the instant of a
 * wall-clock time, and the calendar periods (months, days, hours) a report is cut into.
 */

/** Wall-clock fields in a zone (month 1–12). */
export interface WallTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly ms: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's canonical name, or a RangeError naming the bad one. */
export function checkTimeZone(timeZone: string): string {
  try {
    return formatter(timeZone).resolvedOptions().timeZone;
  } catch {
    throw new RangeError(
      `unknown time zone ${JSON.stringify(timeZone)}; use an IANA name such as Europe/Berlin or UTC`,
    );
  }
}

/** The system's time zone (TZ, else the host's setting). */
export function systemTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Wall-clock fields of an instant in a zone. */
export function wallTime(at: Date, timeZone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(at))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    year: parts.year ?? 0,
    month: parts.month ?? 1,
    day: parts.day ?? 1,
    hour: (parts.hour ?? 0) % 24,
    minute: parts.minute ?? 0,
    second: parts.second ?? 0,
    ms: ((at.getTime() % 1000) + 1000) % 1000,
  };
}

function wallAsUtc(w: WallTime): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.ms);
}

/** The zone's offset from UTC at an instant, in minutes (+120 for Europe/Berlin in summer). */
export function offsetMinutes(at: Date, timeZone: string): number {
  const whole = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return Math.round((wallAsUtc({ ...wallTime(whole, timeZone), ms: 0 }) - whole.getTime()) / 60_000);
}

/**
 * The instant a wall-clock time names in a zone. Fields may overflow (day 32 is the next month's 1st).
 * A time skipped by a forward DST change maps to the instant after the gap; a repeated one, to its first.
 */
export function fromWallTime(w: WallTime, timeZone: string): Date {
  const local = wallAsUtc(w);
  const offsets = new Set(
    [-86_400_000, 0, 86_400_000].map((d) => offsetMinutes(new Date(local + d), timeZone)),
  );
  const candidates = [...offsets].map((o) => local - o * 60_000).sort((a, b) => a - b);
  const exact = candidates.find((t) => wallAsUtc(wallTime(new Date(t), timeZone)) === local);
  return new Date(exact ?? candidates[candidates.length - 1] ?? local);
}

/** "+02:00", "-03:30", "+00:00". */
export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const m = Math.abs(minutes);
  return `${sign}${pad(Math.floor(m / 60))}:${pad(m % 60)}`;
}

/** "2026-10-01 02:00:00 +02:00" (milliseconds only when there are any): for people. */
export function formatTime(at: Date, timeZone: string): string {
  const w = wallTime(at, timeZone);
  return `${date(w)} ${clock(w)} ${formatOffset(offsetMinutes(at, timeZone))}`;
}

/** "2026-10-01T02:00:00+02:00": ISO 8601 in the zone, for machines. */
export function isoTime(at: Date, timeZone: string): string {
  const w = wallTime(at, timeZone);
  return `${date(w)}T${clock(w)}${formatOffset(offsetMinutes(at, timeZone))}`;
}

/** "2026-10-01" in the zone. */
export function formatDate(at: Date, timeZone: string): string {
  return date(wallTime(at, timeZone));
}

function date(w: WallTime): string {
  return `${String(w.year).padStart(4, '0')}-${pad(w.month)}-${pad(w.day)}`;
}

function clock(w: WallTime): string {
  const ms = w.ms === 0 ? '' : `.${String(w.ms).padStart(3, '0')}`;
  return `${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${ms}`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * An ISO 8601 date or date-time. With an offset (`Z`, `+02:00`) it names that instant; without one it
 * is a wall-clock time in `timeZone` (so `--from 2026-10-01 --tz Europe/Berlin` is Berlin's midnight).
 * Returns null for anything else, or for a date that does not exist (2026-02-30).
 */
export function parseTime(text: string, timeZone: string): Date | null {
  const m = ISO.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const w: WallTime = {
    year: Number(y),
    month: Number(mo),
    day: Number(d),
    hour: Number(h ?? 0),
    minute: Number(mi ?? 0),
    second: Number(s ?? 0),
    ms: frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0,
  };
  const check = new Date(Date.UTC(w.year, w.month - 1, w.day));
  if (
    check.getUTCFullYear() !== w.year ||
    check.getUTCMonth() !== w.month - 1 ||
    check.getUTCDate() !== w.day ||
    w.hour > 23 ||
    w.minute > 59 ||
    w.second > 59
  )
    return null;
  if (!zone) return fromWallTime(w, timeZone);
  if (zone.toUpperCase() === 'Z') return new Date(wallAsUtc(w));
  const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (!z) return null;
  const minutes = (Number(z[2]) * 60 + Number(z[3] ?? 0)) * (z[1] === '-' ? -1 : 1);
  return new Date(wallAsUtc(w) - minutes * 60_000);
}

/** A calendar month "YYYY-MM" in a zone: [the 1st 00:00, the next 1st 00:00); null when malformed. */
export function monthRange(text: string, timeZone: string): { from: Date; to: Date } | null {
  const m = /^(\d{4})-(\d{2})$/.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  if (month < 1 || month > 12) return null;
  const start = { year, month, day: 1, hour: 0, minute: 0, second: 0, ms: 0 };
  return { from: fromWallTime(start, timeZone), to: fromWallTime({ ...start, month: month + 1 }, timeZone) };
}

export type PeriodUnit = 'day' | 'hour';

/**
 * [from, to) cut at each local midnight (unit day) or each hour boundary of the zone (unit hour); the
 * first and last periods are partial when the range does not start or end on a boundary. Days follow
 * the calendar, so a DST change makes a day of 23 or 25 hours.
 */
export function periods(
  from: Date,
  to: Date,
  unit: PeriodUnit,
  timeZone: string,
): { from: Date; to: Date }[] {
  const out: { from: Date; to: Date }[] = [];
  const w = wallTime(from, timeZone);
  if (unit === 'day') {
    let start = from;
    let next: Date;
    let day = { ...w, hour: 0, minute: 0, second: 0, ms: 0 };
    for (;;) {
      day = { ...day, day: day.day + 1 };
      next = fromWallTime(day, timeZone);
      const end = next.getTime() < to.getTime() ? next : to;
      if (end.getTime() > start.getTime()) out.push({ from: start, to: end });
      if (end === to) break;
      start = next;
      // Normalise the overflowed fields (day 32) through the calendar of the zone.
      day = { ...wallTime(next, timeZone), hour: 0, minute: 0, second: 0, ms: 0 };
    }
    return out;
  }
  // Hour boundaries of the zone are whole hours apart in absolute time, even for half-hour offsets, and
  // a DST change moves the clock by whole hours: the last boundary is the minutes and seconds ago.
  const first = from.getTime() - ((w.minute * 60 + w.second) * 1000 + w.ms);
  for (let t = first; t < to.getTime(); t += 3_600_000) {
    const lo = Math.max(t, from.getTime());
    const hi = Math.min(t + 3_600_000, to.getTime());
    if (hi > lo) out.push({ from: new Date(lo), to: new Date(hi) });
  }
  return out;
}
