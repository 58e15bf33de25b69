/** Outages (`wmn_outages`) and their statistics per agent (`wmn_outage_summary`). */

import type { DiagnosisKind } from '../diagnosis/diagnose.js';
import type { Layer } from '../diagnosis/layers.js';
import { spanText } from '../diagnosis/span.js';
import { type AnalysisRange, count, type Queryable, rangeParams, read, real } from './db.js';

/** The duration classes outages are counted in, as `wmn_duration_bucket` names them. */
export const DURATION_BUCKETS = ['1-5 s', '5-30 s', '30 s-5 min', '> 5 min'] as const;
export type DurationBucket = (typeof DURATION_BUCKETS)[number];

/**
 * A maximal run of DOWN cycles of one agent, whole: its true start and end even where they lie outside
 * the range read.
 */
export interface Outage {
  readonly agent: string;
  readonly startedAt: Date;
  /** The end of its last DOWN cycle (start + that cycle's interval). */
  readonly endedAt: Date;
  /** endedAt − startedAt, in seconds. */
  readonly durationS: number;
  /** DOWN cycles recorded in it. */
  readonly cycles: number;
  /** Seconds inside it with no recorded cycle (the agent restarted while down). */
  readonly unknownS: number;
  /** Failure classes seen, distinct and sorted. */
  readonly errors: readonly string[];
  /** No UP cycle has followed it yet. */
  readonly ongoing: boolean;
  readonly bucket: DurationBucket;
  /**
   * Where it broke: the most frequent diagnosis of its cycles, said with the evidence of its raw rows
   * ("ISP (gateway answered, 1.1.1.1 did not)"), or the bare word once retention deleted them. Null for
   * cycles recorded before diagnoses were.
   */
  readonly diagnosis: { readonly kind: DiagnosisKind; readonly text: string } | null;
}

/** One source over an outage, as wmn_outage_evidence sums it up. */
interface Evidence {
  readonly source: string;
  readonly layer: Layer | null;
  readonly answered: boolean;
  readonly error: string | null;
}

/** Outage statistics of one agent, over the outages overlapping the range. */
export interface OutageSummary {
  readonly agent: string;
  readonly outages: number;
  /** Seconds covered by DOWN cycles inside the range. */
  readonly downS: number;
  /** Mean outage duration (mean time to repair); null without outages. */
  readonly mttrS: number | null;
  /** Seconds up per outage (mean time between failures); null without outages. */
  readonly mtbfS: number | null;
  readonly longestS: number | null;
  readonly longestStartedAt: Date | null;
  readonly buckets: Readonly<Record<DurationBucket, number>>;
}

/** Outages overlapping the range, sorted by agent then start. */
export async function outages(db: Queryable, range: AnalysisRange): Promise<Outage[]> {
  const rows = await read<{
    agent: string;
    started_at: Date;
    ended_at: Date;
    duration_s: number | null;
    cycles: string;
    unknown_s: number | null;
    errors: string[];
    ongoing: boolean;
    bucket: DurationBucket;
    diagnosis: DiagnosisKind | null;
    evidence: Evidence[];
  }>(
    db,
    'wmn_outages',
    `SELECT o.agent, o.started_at, o.ended_at, o.duration_s, o.cycles, o.unknown_s, o.errors, o.ongoing, o.bucket,
            wmn_outage_diagnosis(o.agent, o.started_at, o.ended_at) AS diagnosis,
            (SELECT coalesce(json_agg(e), '[]') FROM wmn_outage_evidence(o.agent, o.started_at, o.ended_at) AS e)
              AS evidence
       FROM wmn_outages($1, $2, $3::text[]) AS o ORDER BY o.agent, o.started_at`,
    rangeParams(range),
  );
  return rows.map((r) => ({
    agent: r.agent,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    durationS: real(r.duration_s, 'duration_s'),
    cycles: count(r.cycles),
    unknownS: real(r.unknown_s, 'unknown_s'),
    errors: r.errors,
    ongoing: r.ongoing,
    bucket: r.bucket,
    diagnosis: outageDiagnosis(r.diagnosis, r.evidence),
  }));
}

function outageDiagnosis(kind: DiagnosisKind | null, evidence: readonly Evidence[]): Outage['diagnosis'] {
  if (kind === null) return null;
  const sources = evidence.map((e) => ({
    source: e.source,
    disconnected: !e.answered,
    error: e.error,
    ...(e.layer === null ? {} : { layer: e.layer }),
  }));
  return { kind, text: spanText(kind, sources) };
}

/** Per agent with cycles in the range (also those without outages), sorted by agent. */
export async function outageSummary(db: Queryable, range: AnalysisRange): Promise<OutageSummary[]> {
  const rows = await read<{
    agent: string;
    outages: string;
    down_s: number | null;
    mttr_s: number | null;
    mtbf_s: number | null;
    longest_s: number | null;
    longest_started_at: Date | null;
    b1: string;
    b2: string;
    b3: string;
    b4: string;
  }>(
    db,
    'wmn_outage_summary',
    `SELECT s.agent, s.outages, s.down_s, s.mttr_s, s.mtbf_s, s.longest_s, s.longest_started_at,
            s."1-5 s" AS b1, s."5-30 s" AS b2, s."30 s-5 min" AS b3, s."> 5 min" AS b4
       FROM wmn_outage_summary($1, $2, $3::text[]) AS s ORDER BY s.agent`,
    rangeParams(range),
  );
  return rows.map((r) => ({
    agent: r.agent,
    outages: count(r.outages),
    downS: real(r.down_s, 'down_s'),
    mttrS: r.mttr_s,
    mtbfS: r.mtbf_s,
    longestS: r.longest_s,
    longestStartedAt: r.longest_started_at,
    buckets: {
      '1-5 s': count(r.b1),
      '5-30 s': count(r.b2),
      '30 s-5 min': count(r.b3),
      '> 5 min': count(r.b4),
    },
  }));
}
