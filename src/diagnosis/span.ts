/**
 * A run of cycles (an outage) read as one long cycle: a source counts as failed when it never answered
 * in the run, with its most frequent failure class. The single-cycle rules (diagnose.ts) then say where
 * it broke over the whole run and name the evidence, so a notice, a report and the dashboard agree.
 */

import { describeDiagnosis, diagnosisTitle } from './describe.js';
import { type Diagnosis, type DiagnosisKind, diagnose, type LayeredResult } from './diagnose.js';

/** One source over a run of cycles. */
export interface SourceEvidence extends LayeredResult {
  /** `disconnected` here: never answered during the run. */
  readonly disconnected: boolean;
}

/** Folds the results of many cycles into one result per source (first-seen order). */
export function evidenceOf(cycles: readonly (readonly LayeredResult[])[]): SourceEvidence[] {
  const bySource = new Map<
    string,
    { result: LayeredResult; answered: boolean; errors: Map<string, number> }
  >();
  for (const results of cycles) {
    for (const r of results) {
      const seen = bySource.get(r.source) ?? { result: r, answered: false, errors: new Map() };
      seen.answered ||= !r.disconnected;
      if (r.error !== null) seen.errors.set(r.error, (seen.errors.get(r.error) ?? 0) + 1);
      bySource.set(r.source, seen);
    }
  }
  return [...bySource.values()].map(({ result, answered, errors }) => ({
    source: result.source,
    disconnected: !answered,
    error: mostFrequent(errors),
    ...(result.layer === undefined ? {} : { layer: result.layer }),
  }));
}

function mostFrequent(counts: ReadonlyMap<string, number>): string | null {
  let best: [string | null, number] = [null, 0];
  for (const [key, n] of counts) if (n > best[1]) best = [key, n];
  return best[0];
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
