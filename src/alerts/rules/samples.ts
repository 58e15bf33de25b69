/**
 * A sliding window of timed values with an exact nearest-rank percentile: the values are kept twice, in
 * arrival order (to expire the oldest) and sorted (to read any rank at once). Memory is bounded by
 * `max` values; an insert or expiry costs one binary search and one array move.
 */
export class SampleWindow {
  private times: number[] = [];
  private values: number[] = [];
  /** Index of the oldest live entry in times/values (the ones before it are expired). */
  private head = 0;
  private sorted: number[] = [];

  constructor(private readonly max: number) {}

  get size(): number {
    return this.sorted.length;
  }

  /** Adds `value` observed at `ts` (kept in ts order, so a late arrival lands where it belongs). */
  add(ts: number, value: number): void {
    let i = this.times.length;
    while (i > this.head && (this.times[i - 1] as number) > ts) i--;
    this.times.splice(i, 0, ts);
    this.values.splice(i, 0, value);
    this.sorted.splice(lowerBound(this.sorted, value), 0, value);
    while (this.size > this.max) this.dropOldest();
  }

  /** Forgets every value observed at or before `cutoff`. */
  expire(cutoff: number): void {
    while (this.head < this.times.length && (this.times[this.head] as number) <= cutoff) this.dropOldest();
  }

  /** The nearest-rank percentile `p` (0–100): the smallest value with at least p % of them at or below it. */
  percentile(p: number): number | null {
    const n = this.sorted.length;
    if (n === 0) return null;
    return this.sorted[Math.max(0, Math.ceil((p / 100) * n) - 1)] as number;
  }

  private dropOldest(): void {
    const value = this.values[this.head] as number;
    this.sorted.splice(lowerBound(this.sorted, value), 1);
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.values = this.values.slice(this.head);
      this.head = 0;
    }
  }
}

/** The first index of `sorted` whose value is not below `value`. */
function lowerBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
