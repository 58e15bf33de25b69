/** A contracted availability target applied per agent (`wmn_sla_verdict`). */
import { type AnalysisRange, type Queryable, rangeParams, read, real } from './db.js';

/** The target applied to one agent's measured time over one range. */
export interface SlaVerdict {
  readonly agent: string;
  /** UP cycles / recorded cycles, in % (the agent's uptime). */
  readonly availabilityPct: number;
  readonly targetPct: number;
  /** availability − target ≥ −1e-9 pp: float rounding of an exact hit is not a miss. */
  readonly met: boolean;
  /** availability − target in percentage points: ≥ 0 when met, negative when missed. */
  readonly marginPp: number;
  /** Seconds of DOWN the target allows within the measured (covered) time, to the microsecond. */
  readonly allowedDownS: number;
  /** Seconds of DOWN measured. */
  readonly downS: number;
  /** allowedDownS − downS: negative when over the budget. */
  readonly budgetLeftS: number;
  readonly coveragePct: number;
  /** Seconds no cycle covers: neither up nor down. */
  readonly unknownS: number;
}

/** Checks a target up front: one outside (0, 100] is a caller's mistake, which the function refuses too. */
export function checkTarget(targetPct: number): void {
  if (!(typeof targetPct === 'number' && targetPct > 0 && targetPct <= 100))
    throw new RangeError(`the SLA target must be a percentage above 0 and at most 100 (got ${targetPct})`);
}

/**
 * Per agent over the range, sorted by agent. An agent with no cycle in the range has no entry: nothing
 * was measured, so there is no verdict (the SQL function answers registered silent agents with NULL
 * `met`, for Grafana's tables), as with `agentSummary`.
 */
export async function slaVerdict(
  db: Queryable,
  range: AnalysisRange,
  targetPct: number,
): Promise<SlaVerdict[]> {
  checkTarget(targetPct);
  const rows = await read<{
    agent: string;
    availability_pct: number | null;
    target_pct: number | null;
    met: boolean;
    margin_pp: number | null;
    allowed_down_s: number | null;
    down_s: number | null;
    budget_left_s: number | null;
    coverage_pct: number | null;
    unknown_s: number | null;
  }>(
    db,
    'wmn_sla_verdict',
    `SELECT v.agent, v.availability_pct, v.target_pct, v.met, v.margin_pp, v.allowed_down_s, v.down_s,
            v.budget_left_s, v.coverage_pct, v.unknown_s
       FROM wmn_sla_verdict($1, $2, $4, $3::text[]) AS v WHERE v.met IS NOT NULL ORDER BY v.agent`,
    [...rangeParams(range), targetPct],
  );
  return rows.map((r) => ({
    agent: r.agent,
    availabilityPct: real(r.availability_pct, 'availability_pct'),
    targetPct: real(r.target_pct, 'target_pct'),
    met: r.met,
    marginPp: real(r.margin_pp, 'margin_pp'),
    allowedDownS: real(r.allowed_down_s, 'allowed_down_s'),
    downS: real(r.down_s, 'down_s'),
    budgetLeftS: real(r.budget_left_s, 'budget_left_s'),
    coveragePct: real(r.coverage_pct, 'coverage_pct'),
    unknownS: real(r.unknown_s, 'unknown_s'),
  }));
}
