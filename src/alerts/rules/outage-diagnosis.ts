/**
 * The diagnosis of an outage, folded one DOWN cycle at a time: how often each cycle diagnosis was made,
 * and per source what `evidenceOf` (diagnosis/span.ts) would say of all those cycles (did it ever
 * answer, its failure classes counted, its layer). An outage's notice then says the most frequent
 * diagnosis, worded with {@link spanText}, as a report of the same cycles would. What is kept does not
 * grow with the outage: one entry per source and failure class, saved with the open condition.
 */
import { DIAGNOSES, type DiagnosisKind, type LayeredResult } from '../../diagnosis/diagnose.js';
import { LAYERS } from '../../diagnosis/layers.js';
import {
  addEvidence,
  countUp,
  evidenceFrom,
  mostFrequent,
  type SourceTally,
  spanText,
  type TallyLimits,
} from '../../diagnosis/span.js';
import type { Tally } from './counting.js';

/** Sources kept at most, and failure classes per source: beyond them the tally stops growing. */
const LIMITS: TallyLimits = { sources: 1000, classes: 32 };

/** A DOWN cycle as the tally takes it. */
export interface CycleFacts {
  readonly kind: DiagnosisKind;
  readonly results: readonly LayeredResult[];
}

export interface OutageTally {
  /** Cycle diagnoses and their counts, in the order first seen (ties go to the first). */
  readonly kinds: [DiagnosisKind, number][];
  readonly sources: SourceTally[];
}

/** The facts of a cycle: its diagnosis, and its results stripped to what the evidence needs. */
export function cycleFacts(kind: DiagnosisKind, results: readonly LayeredResult[]): CycleFacts {
  return {
    kind,
    results: results.map(({ source, disconnected, error, layer }) =>
      layer === undefined ? { source, disconnected, error } : { source, disconnected, error, layer },
    ),
  };
}

export const outageTally: Tally<CycleFacts, OutageTally> = {
  empty: () => ({ kinds: [], sources: [] }),
  add(tally, facts) {
    countUp(tally.kinds, facts.kind, DIAGNOSES.length);
    addEvidence(tally.sources, facts.results, LIMITS);
  },
  restore(saved) {
    const t = saved as Partial<OutageTally> | null | undefined;
    if (typeof t !== 'object' || t === null || !Array.isArray(t.kinds) || !Array.isArray(t.sources))
      return null;
    const kinds = t.kinds.filter(
      (k): k is [DiagnosisKind, number] =>
        Array.isArray(k) && DIAGNOSES.includes(k[0]) && Number.isFinite(k[1]),
    );
    const sources = t.sources.filter(isSourceTally).map((s) => ({
      ...s,
      errors: s.errors.filter((e) => Array.isArray(e) && typeof e[0] === 'string' && Number.isFinite(e[1])),
    }));
    return { kinds, sources: sources.slice(0, LIMITS.sources) };
  },
  details(tally) {
    const diagnosis = tally === null ? null : outageDiagnosis(tally);
    return { diagnosis: diagnosis?.kind ?? null, diagnosis_text: diagnosis?.text ?? null };
  },
};

/** The outage's most frequent cycle diagnosis and its words, or null before any DOWN cycle was seen. */
export function outageDiagnosis(tally: OutageTally): { kind: DiagnosisKind; text: string } | null {
  const kind = mostFrequent(tally.kinds);
  return kind === null ? null : { kind, text: spanText(kind, evidenceFrom(tally.sources)) };
}

function isSourceTally(value: unknown): value is SourceTally {
  const s = value as SourceTally;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.source === 'string' &&
    typeof s.answered === 'boolean' &&
    Array.isArray(s.errors) &&
    (s.layer === undefined || LAYERS.includes(s.layer))
  );
}
