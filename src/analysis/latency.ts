/**
 * The latency distribution of one phase per time step (`wmn_latency_heatmap`), and the "smoke" bands
 * drawn from it: per step the extremes, the quartiles, the 10th/90th percentiles and the median.
 */
import { type AnalysisRange, count, type Queryable, rangeParams, read } from './db.js';
import { PHASES, type Phase } from './sources.js';

/** One non-empty histogram bin of one step. */
export interface HeatmapCell {
  /** Start of the step: steps are aligned to 2000-01-01 00:00 UTC. */
  readonly time: Date;
  /** Upper bound of the bin (bins are 2^(1/8) wide). */
  readonly leMs: number;
  readonly count: number;
}

/**
 * Per step of `stepS` seconds (whole seconds, at least 1) and bin, sorted by time then bin, over every
 * agent and source named (all when absent).
 */
export async function latencyHeatmap(
  db: Queryable,
  range: AnalysisRange & {
    readonly stepS: number;
    readonly phase: Phase;
    readonly sources?: readonly string[] | undefined;
  },
): Promise<HeatmapCell[]> {
  if (!Number.isInteger(range.stepS) || range.stepS < 1)
    throw new RangeError(`stepS must be a whole number of seconds ≥ 1 (got ${range.stepS})`);
  if (!PHASES.includes(range.phase))
    throw new RangeError(`phase must be one of ${PHASES.join(', ')} (got ${range.phase})`);
  const rows = await read<{ time: Date; le_ms: number; count: string }>(
    db,
    'wmn_latency_heatmap',
    `SELECT h."time", h.le_ms, h.count
       FROM wmn_latency_heatmap($1, $2, make_interval(secs => $4), $5, $3::text[], $6::text[]) AS h
      ORDER BY h."time", h.le_ms`,
    [...rangeParams(range), range.stepS, range.phase, range.sources ? [...range.sources] : null],
  );
  return rows.map((r) => ({ time: r.time, leMs: r.le_ms, count: count(r.count) }));
}

/** One step's distribution, each value a bin's geometric middle (within 4.5 % of the exact value). */
export interface SmokeStep {
  readonly time: Date;
  readonly samples: number;
  readonly minMs: number;
  readonly p10Ms: number;
  readonly p25Ms: number;
  readonly medianMs: number;
  readonly p75Ms: number;
  readonly p90Ms: number;
  readonly maxMs: number;
}

/** The value a bin stands for, as `wmn_hist_value`: its geometric middle, 0.005 ms for the first bin. */
export function binValue(leMs: number): number {
  return leMs <= 0.01 ? 0.005 : leMs / 2 ** (1 / 16);
}

/**
 * The smoke bands of heatmap cells (sorted by time then bin, as {@link latencyHeatmap} returns them).
 * Percentiles are nearest-rank, as `wmn_phase_summary` reads them: the first bin whose cumulative count
 * reaches the fraction of the step's samples.
 */
export function smokeBands(cells: readonly HeatmapCell[]): SmokeStep[] {
  const steps: SmokeStep[] = [];
  let start = 0;
  while (start < cells.length) {
    const time = (cells[start] as HeatmapCell).time;
    let end = start;
    while (end < cells.length && (cells[end] as HeatmapCell).time.getTime() === time.getTime()) end++;
    steps.push(smokeStep(time, cells.slice(start, end)));
    start = end;
  }
  return steps;
}

function smokeStep(time: Date, bins: readonly HeatmapCell[]): SmokeStep {
  const samples = bins.reduce((n, b) => n + b.count, 0);
  const at = (fraction: number): number => {
    let below = 0;
    for (const bin of bins) {
      below += bin.count;
      if (below >= fraction * samples) return binValue(bin.leMs);
    }
    return binValue((bins[bins.length - 1] as HeatmapCell).leMs);
  };
  return {
    time,
    samples,
    minMs: binValue((bins[0] as HeatmapCell).leMs),
    p10Ms: at(0.1),
    p25Ms: at(0.25),
    medianMs: at(0.5),
    p75Ms: at(0.75),
    p90Ms: at(0.9),
    maxMs: binValue((bins[bins.length - 1] as HeatmapCell).leMs),
  };
}
