/**
 * What a report holds, independent of how it is printed: the SQL answers for the range, and the few
 * figures only a report can derive because only it knows the contracted target (met or missed, by how
 * many percentage points, the downtime budget).
 */
import type {
  AgentSummary,
  Outage,
  OutageSummary,
  PeriodSummary,
  PhaseSummary,
  SourceSummary,
} from '../analysis/index.js';
import type { PeriodUnit } from './time.js';

/** Bumped when a field of the JSON output changes meaning or goes away (new fields do not bump it). */
export const REPORT_SCHEMA = 'wmn.report/1';

/** Below this coverage (%) a report warns that its availability figure rests on partial data. */
export const COVERAGE_WARNING_PCT = 99;

/** Uptime this close under the target still meets it: float rounding of an exact hit is not a miss. */
const TOLERANCE_PP = 1e-9;

export interface ReportRange {
  readonly from: Date;
  readonly to: Date;
  /** IANA zone every time is shown in. */
  readonly timeZone: string;
  /** How the range was asked for, for the title ("month 2026-10", "last 7d", "2026-10-01 … 2026-10-02"). */
  readonly label: string;
  /** The range ends at "now": the period is still in progress. */
  readonly inProgress: boolean;
}

/** The availability target, applied to one agent's measured time. */
export interface SlaVerdict {
  readonly targetPct: number;
  readonly met: boolean;
  /** uptime − target in percentage points: ≥ 0 when met, negative when missed. */
  readonly marginPp: number;
  /** Seconds of DOWN the target allows within the measured (covered) time. */
  readonly allowedDownS: number;
  /** Seconds of DOWN measured. */
  readonly usedDownS: number;
}

export interface SourceReport {
  readonly summary: SourceSummary;
  readonly phases: readonly PhaseSummary[];
}

export interface ChartPoint {
  readonly from: Date;
  readonly to: Date;
  /** Null when the agent recorded no cycle in the period. */
  readonly summary: PeriodSummary | null;
}

export interface AgentReport {
  readonly agent: string;
  /** Null when the agent recorded no cycle in the range: nothing measured, no verdict. */
  readonly availability: AgentSummary | null;
  readonly sla: SlaVerdict | null;
  readonly coverageWarning: boolean;
  readonly outageSummary: OutageSummary | null;
  readonly outages: readonly Outage[];
  readonly sources: readonly SourceReport[];
  readonly chart: readonly ChartPoint[];
}

export interface Report {
  readonly schema: typeof REPORT_SCHEMA;
  readonly generatedAt: Date;
  readonly generator: string;
  readonly range: ReportRange;
  readonly slaTargetPct: number;
  readonly chartUnit: PeriodUnit;
  readonly agents: readonly AgentReport[];
}

/** The target applied to an agent's availability. */
export function verdict(a: AgentSummary, targetPct: number): SlaVerdict {
  const marginPp = a.uptimePct - targetPct;
  return {
    targetPct,
    met: marginPp >= -TOLERANCE_PP,
    marginPp,
    // Rounded to the microsecond: 100 − 99.9 is 0.09999999999999432 in binary floating point.
    allowedDownS: Math.round(((100 - targetPct) / 100) * a.coveredS * 1e6) / 1e6,
    usedDownS: a.downS,
  };
}

/** Charts are daily, or hourly when the range is two days or shorter. */
export function chartUnit(from: Date, to: Date): PeriodUnit {
  return to.getTime() - from.getTime() <= 2 * 86_400_000 ? 'hour' : 'day';
}
