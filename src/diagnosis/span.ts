/**
 * A run of cycles (an outage) read as one long cycle: a source counts as failed when it never answered
 * in the run, with its most frequent failure class. The single-cycle rules (diagnose.ts) then say where
 * it broke over the whole run and name the evidence, so a notice, a report and the dashboard agree.
 */

import { describeDiagnosis, diagnosisTitle } from './describe.js';
import { type Diagnosis, type DiagnosisKind, diagnose, type LayeredResult } from './diagnose.js';
import type { Layer } from './layers.js';

/** One source over a run of cycles. */
export interface SourceEvidence extends LayeredResult {
  /** `disconnected` here: never answered during the run. */
  readonly disconnected: boolean;
}

/**
 * One source over the cycles folded so far: its layer, whether it ever answered, its failure classes
 * counted in the order first seen (so a tie goes to the first). Plain data: an alert saves it to disk.
 */
export interface SourceTally {
  readonly source: string;
  readonly layer?: Layer;
  answered: boolean;
  readonly errors: [string, number][];
}

/** Bounds on a tally, so what is kept for a long run does not grow with it. */
export interface TallyLimits {
  readonly sources: number;
  readonly classes: number;
}

const UNBOUNDED: TallyLimits = { sources: Number.POSITIVE_INFINITY, classes: Number.POSITIVE_INFINITY };

/** Folds one cycle's results into `tallies` (in place). */
export function addEvidence(
  tallies: SourceTally[],
  results: readonly LayeredResult[],
  limits: TallyLimits = UNBOUNDED,
): void {
  for (const r of results) {
    let seen = tallies.find((s) => s.source === r.source);
    if (seen === undefined) {
      if (tallies.length >= limits.sources) continue;
      seen = {
        source: r.source,
        ...(r.layer === undefined ? {} : { layer: r.layer }),
        answered: false,
        errors: [],
      };
      tallies.push(seen);
    }
    seen.answered ||= !r.disconnected;
    if (r.error !== null) countUp(seen.errors, r.error, limits.classes);
  }
}

/** The evidence the tallied cycles give: one result per source, failed when it never answered. */
export function evidenceFrom(tallies: readonly SourceTally[]): SourceEvidence[] {
  return tallies.map((s) => ({
    source: s.source,
    disconnected: !s.answered,
    error: mostFrequent(s.errors),
    ...(s.layer === undefined ? {} : { layer: s.layer }),
  }));
}

/** The evidence of many cycles' results (first-seen order). */
export function evidenceOf(cycles: readonly (readonly LayeredResult[])[]): SourceEvidence[] {
  const tallies: SourceTally[] = [];
  for (const results of cycles) addEvidence(tallies, results);
  return evidenceFrom(tallies);
}

/** Counts `key` (in place); a new key beyond `max` distinct ones is not counted. */
export function countUp<K>(counts: [K, number][], key: K, max: number): void {
  const entry = counts.find(([k]) => k === key);
  if (entry) entry[1]++;
  else if (counts.length < max) counts.push([key, 1]);
}

/** The key counted most often, the first seen on a tie; null for no counts. */
export function mostFrequent<K>(counts: readonly (readonly [K, number])[]): K | null {
  let best: K | null = null;
  let most = 0;
  for (const [key, n] of counts) {
    if (n > most) [best, most] = [key, n];
  }
  return best;
}

/** The run's diagnosis over its evidence, or null when there is none to go on. */
export function diagnoseSpan(evidence: readonly SourceEvidence[]): Diagnosis | null {
  return evidence.length === 0 ? null : diagnose(evidence);
}

/**
 * The words for a run whose cycles were mostly diagnosed `kind`: with the evidence when it tells the
 * same story, else (evidence gone with the raw rows, or mixed) the bare word.
 */
export function spanText(kind: DiagnosisKind, evidence: readonly SourceEvidence[]): string {
  const whole = diagnoseSpan(evidence);
  return whole !== null && whole.kind === kind ? describeDiagnosis(whole) : diagnosisTitle(kind);
}
