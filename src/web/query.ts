/**
 * Strict reading of the API's query strings: every parameter must be known, given once and well formed,
 * or the request is refused with a message saying which and why. Nothing read here reaches SQL but as a
 * bound parameter (through src/analysis).
 */
import { PHASES, type Phase } from '../analysis/sources.js';

/** A query string the API refuses (answered 400 with the message). */
export class QueryError extends Error {
  override readonly name = 'QueryError';
}

/** The ranges the page offers, ending now. */
export const RANGES = { '1h': 3_600, '6h': 21_600, '24h': 86_400, '7d': 604_800, '30d': 2_592_000 } as const;
export type RangeName = keyof typeof RANGES;

/** The longest range the API reads (the rollups keep long ranges fast; this bounds the work). */
export const MAX_RANGE_S = 400 * 86_400;
/** The most steps one chart query returns. */
export const MAX_STEPS = 5_000;
/** Steps chosen when a request names none: the smallest that gives at most ~400 points. */
const NICE_STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
];

/** The parameters of one request, read by name; each name may be read once. */
export class Query {
  private readonly values = new Map<string, string>();

  /** Refuses a parameter not in `allowed`, or one given twice. `token` belongs to the listener. */
  constructor(url: URL, allowed: readonly string[]) {
    for (const [name, value] of url.searchParams) {
      if (name === 'token') continue;
      if (!allowed.includes(name))
        throw new QueryError(
          allowed.length === 0
            ? `unknown parameter ${name}: this endpoint takes none`
            : `unknown parameter ${name}: this endpoint takes ${allowed.join(', ')}`,
        );
      if (this.values.has(name)) throw new QueryError(`parameter ${name} is given more than once`);
      this.values.set(name, value);
    }
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  /** A whole number in [min, max], or `fallback` when absent. */
  int(name: string, min: number, max: number, fallback: number): number {
    const text = this.get(name);
    if (text === undefined) return fallback;
    if (!/^\d{1,15}$/.test(text)) throw new QueryError(`${name} must be a whole number (got ${show(text)})`);
    const n = Number(text);
    if (n < min || n > max) throw new QueryError(`${name} must be between ${min} and ${max} (got ${n})`);
    return n;
  }

  /** One of `choices`, or `fallback` when absent. */
  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const text = this.get(name);
    if (text === undefined) return fallback;
    if (!(choices as readonly string[]).includes(text))
      throw new QueryError(`${name} must be one of ${choices.join(', ')} (got ${show(text)})`);
    return text as T;
  }

  /** Free text of 1 to `max` printable characters (an agent or source name), or undefined when absent. */
  text(name: string, max: number): string | undefined {
    const text = this.get(name);
    if (text === undefined) return undefined;
    if (text.length === 0 || text.length > max)
      throw new QueryError(`${name} must be 1 to ${max} characters (got ${text.length})`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
    if (/[\u0000-\u001f\u007f]/.test(text)) throw new QueryError(`${name} must not hold control characters`);
    return text;
  }

  phase(): Phase {
    return this.choice('phase', PHASES, 'total');
  }
}

/** The time window of a request: `[from, to)`. */
export interface Window {
  readonly from: Date;
  readonly to: Date;
}

/** The parameters {@link readWindow} reads. */
export const WINDOW_PARAMS = ['range', 'from', 'to'] as const;

/**
 * `range=1h|6h|24h|7d|30d` (ending now), or `from` with an optional `to` (default now): ISO 8601 times
 * with a zone (`2026-10-01T00:00:00Z`) or unix milliseconds. "Now" is the start of the current second:
 * the cycle of this second may still be in flight, and a figure must not change once shown.
 */
export function readWindow(query: Query, now: Date): Window {
  const range = query.get('range');
  const end = new Date(Math.floor(now.getTime() / 1000) * 1000);
  if (range !== undefined) {
    if (query.get('from') !== undefined || query.get('to') !== undefined)
      throw new QueryError('give either range or from/to, not both');
    const seconds = RANGES[query.choice('range', Object.keys(RANGES) as RangeName[], '1h')];
    return { from: new Date(end.getTime() - seconds * 1000), to: end };
  }
  const fromText = query.get('from');
  if (fromText === undefined) throw new QueryError('give range (1h, 6h, 24h, 7d, 30d) or from (and to)');
  const from = time('from', fromText);
  const to = query.get('to') === undefined ? end : time('to', query.get('to') as string);
  if (from.getTime() >= to.getTime())
    throw new QueryError(`from (${from.toISOString()}) must be before to (${to.toISOString()})`);
  if (to.getTime() - from.getTime() > MAX_RANGE_S * 1000)
    throw new QueryError(`the range must be at most ${MAX_RANGE_S / 86_400} days`);
  return { from, to };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

function time(name: string, text: string): Date {
  let date: Date;
  if (/^\d{1,15}$/.test(text)) date = new Date(Number(text));
  else if (ISO.test(text)) date = new Date(text);
  else
    throw new QueryError(
      `${name} must be an ISO 8601 time with a zone (2026-10-01T00:00:00Z) or unix milliseconds (got ${show(text)})`,
    );
  if (Number.isNaN(date.getTime()) || date.getUTCFullYear() < 2000 || date.getUTCFullYear() > 9999)
    throw new QueryError(`${name} is not a time between the years 2000 and 9999 (got ${show(text)})`);
  return date;
}

/**
 * `step` in whole seconds (1 s to 1 day), or when absent the smallest of the usual steps giving at most
 * ~400 points; at most {@link MAX_STEPS} steps in the window.
 */
export function readStep(query: Query, win: Window): number {
  const spanS = (win.to.getTime() - win.from.getTime()) / 1000;
  const auto = NICE_STEPS.find((s) => spanS / s <= 400) ?? 86_400;
  const stepS = query.int('step', 1, 86_400, auto);
  if (spanS / stepS > MAX_STEPS)
    throw new QueryError(
      `step ${stepS} s gives ${Math.ceil(spanS / stepS)} steps; at most ${MAX_STEPS}: use a step of at least ${Math.ceil(spanS / MAX_STEPS)} s`,
    );
  return stepS;
}

function show(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
