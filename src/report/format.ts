/** How figures read in the reports for people: durations, percentages, milliseconds, failure classes. */
import type { Outage, PhaseSummary } from '../analysis/index.js';

/** Seconds with at most three decimals and no trailing zeros: 3, 10.48, 126.25. */
export function seconds(s: number): string {
  return String(Math.round(s * 1000) / 1000);
}

/**
 * A duration for people: "3 s", "10.48 s", "1 min 30 s", "1 h 02 min 03 s", "2 d 00 h 00 min 05 s".
 * From a minute up, seconds are rounded to whole ones (the exact figure is printed beside it, or in
 * the csv and json).
 */
export function duration(s: number): string {
  if (s < 60) return `${seconds(s)} s`;
  const total = Math.round(s);
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3_600);
  const m = Math.floor((total % 3_600) / 60);
  const sec = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d} d ${two(h)} h ${two(m)} min ${two(sec)} s`;
  if (h > 0) return `${h} h ${two(m)} min ${two(sec)} s`;
  return `${m} min ${two(sec)} s`;
}

/** A duration with its exact seconds when the human form rounds: "6 min 40 s (400 s)". */
export function durationExact(s: number): string {
  const human = duration(s);
  return s < 60 ? human : `${human} (${seconds(s)} s)`;
}

/**
 * A percentage with three decimals, or more when three would round a value that is not 100 to 100 (or
 * a non-zero one to 0): 95.372 %, 99.9996 %, never a misleading 100.000 %.
 */
export function pct(value: number): string {
  return `${decimals(value, 100)} %`;
}

/** Percentage points, signed: "+0.054 pp", "−4.528 pp". */
export function pp(value: number): string {
  const text = decimals(Math.abs(value), 0);
  return `${value < 0 ? '−' : '+'}${text} pp`;
}

function decimals(value: number, bound: number): string {
  for (let digits = 3; digits < 8; digits++) {
    const text = value.toFixed(digits);
    const shown = Number(text);
    if ((shown === 100 && value !== 100 && bound === 100) || (shown === 0 && value !== 0)) continue;
    return text;
  }
  return value.toFixed(8);
}

/** Days with one decimal and a true minus sign: "9.8", "213.0", "−2.5". */
export function days(value: number): string {
  const text = Math.abs(value).toFixed(1);
  return value < 0 && text !== '0.0' ? `−${text}` : text;
}

/** A target as the user wrote it: 99.9 → "99.9 %". */
export function target(value: number): string {
  return `${value} %`;
}

/** Milliseconds for latency tables: 2.06, 55.5, 1493. */
export function ms(value: number): string {
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : String(Math.round(value));
}

/** Failure classes with counts, most frequent first: "unreachable 380, timeout 102, dns 3". */
export function errorCounts(errors: Readonly<Record<string, number>>): string {
  const entries = Object.entries(errors).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length === 0 ? '—' : entries.map(([k, n]) => `${k} ${n}`).join(', ');
}

/** One phase's row of the percentile table after its source: phase, samples, p50, p95, p99, min, max, mean. */
export function phaseFigures(p: PhaseSummary): string[] {
  return [
    p.phase,
    String(p.samples),
    ms(p.p50Ms),
    ms(p.p95Ms),
    ms(p.p99Ms),
    ms(p.minMs),
    ms(p.maxMs),
    ms(p.avgMs),
  ];
}

/** An outage's figures, between its end and its failure classes: duration, seconds, down cycles, unknown s. */
export function outageFigures(o: Outage): string[] {
  return [duration(o.durationS), seconds(o.durationS), String(o.cycles), seconds(o.unknownS)];
}
