/**
 * Small statistics for the benchmark. Every figure in results.json is a {@link Figure}: a value with its
 * unit and how many samples (or runs) it stands for, so nothing is quoted without its noise.
 */

export interface Figure {
  readonly value: number;
  readonly unit: string;
  /** How many samples (or, for a median of runs, how many runs) the value comes from. */
  readonly n: number;
  /** Lowest and highest of the runs, for a median of several runs. */
  readonly range?: readonly [number, number];
}

/** p50, p99 and max of a sample, in one unit. */
export interface Spread {
  readonly p50: Figure;
  readonly p99: Figure;
  readonly max: Figure;
}

export function figure(value: number, unit: string, n: number): Figure {
  return { value: round(value), unit, n };
}

/** The median of several runs' values, with their range: how the benchmark quotes noisy figures. */
export function medianOfRuns(values: readonly number[], unit: string): Figure {
  if (values.length === 0) return { value: Number.NaN, unit, n: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    value: round(quantileSorted(sorted, 0.5)),
    unit,
    n: values.length,
    range: [round(sorted[0]!), round(sorted[sorted.length - 1]!)],
  };
}

export function spread(values: readonly number[], unit: string): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  return {
    p50: figure(quantileSorted(sorted, 0.5), unit, n),
    p99: figure(quantileSorted(sorted, 0.99), unit, n),
    max: figure(n === 0 ? Number.NaN : sorted[n - 1]!, unit, n),
  };
}

export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

export function quantile(values: readonly number[], q: number): number {
  return quantileSorted(
    [...values].sort((a, b) => a - b),
    q,
  );
}

/** Linear interpolation between closest ranks (NaN for an empty sample). */
function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Three significant decimals are more than any figure here deserves. */
export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
