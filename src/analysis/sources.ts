/** Loss and failure classes per source (`wmn_source_summary`), phase statistics (`wmn_phase_summary`). */
import { type AnalysisRange, count, type Queryable, rangeParams, read, real } from './db.js';

/** One source of one agent over the range. */
export interface SourceSummary {
  readonly agent: string;
  readonly source: string;
  readonly probes: number;
  /** Probes with no response at all (`disconnected`). */
  readonly failed: number;
  /** failed / probes, in %. */
  readonly lossPct: number;
  /** Failure class (`dns`, `timeout`, …) → probes that recorded it. */
  readonly errors: Readonly<Record<string, number>>;
}

export const PHASES = ['dns', 'connect', 'tls', 'ttfb', 'total'] as const;
export type Phase = (typeof PHASES)[number];

/**
 * One phase of one source: samples, mean and extremes (exact), and percentiles read from the rollups'
 * histograms (within 4.5 % of the exact value, clamped to the extremes).
 */
export interface PhaseSummary {
  readonly agent: string;
  readonly source: string;
  readonly phase: Phase;
  readonly samples: number;
  readonly avgMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
}

/** Per agent and source, sorted by agent then source. */
export async function sourceSummary(db: Queryable, range: AnalysisRange): Promise<SourceSummary[]> {
  const rows = await read<{
    agent: string;
    source: string;
    probes: string;
    failed: string;
    loss_pct: number | null;
    errors: Record<string, number> | null;
  }>(
    db,
    'wmn_source_summary',
    `SELECT s.agent, s.source, s.probes, s.failed, s.loss_pct, s.errors
       FROM wmn_source_summary($1, $2, $3::text[]) AS s ORDER BY s.agent, s.source`,
    rangeParams(range),
  );
  return rows.map((r) => ({
    agent: r.agent,
    source: r.source,
    probes: count(r.probes),
    failed: count(r.failed),
    lossPct: real(r.loss_pct, 'loss_pct'),
    errors: Object.fromEntries(Object.entries(r.errors ?? {}).map(([k, v]) => [k, count(v)])),
  }));
}

/** Per agent, source and phase (phases in the order of {@link PHASES}); phases never measured are absent. */
export async function phaseSummary(db: Queryable, range: AnalysisRange): Promise<PhaseSummary[]> {
  const rows = await read<{
    agent: string;
    source: string;
    phase: Phase;
    samples: string;
    avg_ms: number | null;
    min_ms: number | null;
    max_ms: number | null;
    p50_ms: number | null;
    p95_ms: number | null;
    p99_ms: number | null;
  }>(
    db,
    'wmn_phase_summary',
    `SELECT s.agent, s.source, s.phase, s.samples, s.avg_ms, s.min_ms, s.max_ms, s.p50_ms, s.p95_ms, s.p99_ms
       FROM wmn_phase_summary($1, $2, $3::text[]) AS s
      ORDER BY s.agent, s.source, array_position($4::text[], s.phase)`,
    [...rangeParams(range), PHASES],
  );
  return rows.map((r) => ({
    agent: r.agent,
    source: r.source,
    phase: r.phase,
    samples: count(r.samples),
    avgMs: real(r.avg_ms, 'avg_ms'),
    minMs: real(r.min_ms, 'min_ms'),
    maxMs: real(r.max_ms, 'max_ms'),
    p50Ms: real(r.p50_ms, 'p50_ms'),
    p95Ms: real(r.p95_ms, 'p95_ms'),
    p99Ms: real(r.p99_ms, 'p99_ms'),
  }));
}
