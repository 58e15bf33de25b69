/**
 * Durations are strings with units, as in Go and Prometheus: `500ms`, `1.5s`, `2m`, `1h`, `1m30s`, `30d`. A bare
 * number is refused: guessing whether `5` means seconds or milliseconds is how a monitor ends up quietly
 * wrong.
 */
import type { Checked } from './checked.js';
import { quote } from './text.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** One or more `<number><unit>` terms. `ms` comes first in the alternation so `5ms` is not `5m` + `s`. */
export const DURATION_PATTERN = /^(\d+(\.\d+)?(ms|d|h|m|s))+$/;
const TERM = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/g;
const BARE_NUMBER = /^\d+(\.\d+)?$/;

/** Bounds of one duration setting, in milliseconds (inclusive). */
export interface DurationLimits {
  readonly min: number;
  readonly max: number;
  /** Set when the value must be whole seconds: the reason, which the message gives. */
  readonly wholeSecondsBecause?: string;
}

/** Parses a duration string into milliseconds and checks it against `limits`. */
export function parseDuration(text: string, limits: DurationLimits): Checked<number> {
  if (!DURATION_PATTERN.test(text)) return { ok: false, message: malformedDuration(text) };
  const ms = toMilliseconds(text);
  if (ms < limits.min)
    return { ok: false, message: `must be at least ${formatDuration(limits.min)} (got ${text})` };
  if (ms > limits.max)
    return { ok: false, message: `must be at most ${formatDuration(limits.max)} (got ${text})` };
  if (limits.wholeSecondsBecause !== undefined && ms % 1_000 !== 0) {
    return {
      ok: false,
      message: `must be a whole number of seconds (got ${text}): ${limits.wholeSecondsBecause}`,
    };
  }
  return { ok: true, value: ms };
}

/** What is wrong with a value that is not a duration string, with the fix (a bare number needs a unit). */
export function malformedDuration(value: string | number): string {
  const shown = typeof value === 'number' ? String(value) : quote(value);
  if (typeof value === 'number' || BARE_NUMBER.test(value)) {
    return `${shown} has no unit; write "${value}s" (units: ms, s, m, h, d)`;
  }
  return `${shown} is not a duration; write a number and a unit (ms, s, m, h, d), e.g. "1.5s", "500ms" or "1m30s"`;
}

/** Milliseconds as the shortest duration string in the largest unit that divides them (60000 → `1m`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return ms >= UNIT_MS.s ? `${ms / UNIT_MS.s}s` : `${ms}ms`;
}

function toMilliseconds(text: string): number {
  let total = 0;
  for (const [, amount, unit] of text.matchAll(TERM)) total += Number(amount) * UNIT_MS[unit as Unit];
  // Keep microsecond resolution but drop binary noise (1.1s is 1100ms, not 1100.0000000000002).
  return Math.round(total * 1_000) / 1_000;
}
