/**
 * The timing assertion the prober suites share: generous enough for a loaded 2-core CI machine (tight
 * accuracy is the benchmark's job), strict enough that a prober mis-measuring a delay fails.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

/** How far a measured time may stray from an injected delay, or one engine from the other (ms). */
export const TOLERANCE_MS = 15;
/** Runs of a timing case before it fails (see {@link measures}). */
export const RUNS = 3;

/**
 * Asserts that `run` (which makes its own assertions on each probe) measures `expected` ± `tolerance`.
 * Load only ever adds time, so a run out of tolerance is repeated, up to {@link RUNS} in all: a busy
 * machine passes on a quieter run, a prober that mis-measures fails every one. The figures seen are
 * printed as a diagnostic.
 */
export async function measures(
  t: TestContext,
  what: string,
  expected: number,
  run: () => Promise<number | null>,
  tolerance = TOLERANCE_MS,
): Promise<void> {
  const seen: string[] = [];
  for (let attempt = 1; attempt <= RUNS; attempt++) {
    const value = await run();
    assert.notEqual(value, null, `${what}: not measured`);
    seen.push((value ?? 0).toFixed(2));
    if (Math.abs((value ?? 0) - expected) <= tolerance) {
      t.diagnostic(`${what}: ${seen.join(', ')} ms (expected ${expected})`);
      return;
    }
  }
  assert.fail(`${what}: ${seen.join(', ')} ms in ${RUNS} runs, expected ${expected} ± ${tolerance}`);
}
