/** Availability per agent and fixed time step (`wmn_agent_series`), for charts. */
import { type AnalysisRange, count, type Queryable, rangeParams, read, real } from './db.js';

/** One step of one agent. */
export interface SeriesPoint {
  readonly agent: string;
  /** Start of the step: steps are aligned to 2000-01-01 00:00 UTC. */
  readonly time: Date;
  readonly cycles: number;
  readonly downCycles: number;
  readonly uptimePct: number;
  /** Seconds covered / step length, in % (at most 100). */
  readonly coveragePct: number;
  readonly downS: number;
}

/**
 * Per step of `stepS` seconds (whole seconds, at least 1), sorted by time then agent. Steps of an hour
 * or more read the hour rollups, whole UTC hours; steps of a minute or more, whole UTC minutes.
 */
export async function agentSeries(
  db: Queryable,
  range: AnalysisRange & { readonly stepS: number },
): Promise<SeriesPoint[]> {
  if (!Number.isInteger(range.stepS) || range.stepS < 1)
    throw new RangeError(`stepS must be a whole number of seconds ≥ 1 (got ${range.stepS})`);
  const rows = await read<{
    agent: string;
    time: Date;
    cycles: string;
    down_cycles: string;
    uptime_pct: number | null;
    coverage_pct: number | null;
    down_s: number | null;
  }>(
    db,
    'wmn_agent_series',
    `SELECT s.agent, s."time", s.cycles, s.down_cycles, s.uptime_pct, s.coverage_pct, s.down_s
       FROM wmn_agent_series($1, $2, make_interval(secs => $4), $3::text[]) AS s ORDER BY s."time", s.agent`,
    [...rangeParams(range), range.stepS],
  );
  return rows.map((r) => ({
    agent: r.agent,
    time: r.time,
    cycles: count(r.cycles),
    downCycles: count(r.down_cycles),
    uptimePct: real(r.uptime_pct, 'uptime_pct'),
    coveragePct: real(r.coverage_pct, 'coverage_pct'),
    downS: real(r.down_s, 'down_s'),
  }));
}
