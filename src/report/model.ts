/**
 * What a report holds, independent of how it is printed: the SQL answers for the range, the contracted
 * target applied to them included (met or missed, by how many percentage points, the downtime budget:
 * `wmn_sla_verdict`, the rule Grafana's SLA dashboard applies too).
 */
import type {
  AgentSummary,
  CertExpiry,
  Outage,
  OutageSummary,
  PeriodSummary,
  PhaseSummary,
  SlaVerdict,
  SourceSummary,
} from '../analysis/index.js';
import type { PeriodUnit } from './time.js';

export type { SlaVerdict };

/** Bumped when a field of the JSON output changes meaning or goes away (new fields do not bump it). */
export const REPORT_SCHEMA = 'wmn.report/1';

/** Below this coverage (%) a report warns that its availability figure rests on partial data. */
export const COVERAGE_WARNING_PCT = 99;

/** A certificate with fewer days left than this is flagged: two weeks leaves time to renew by hand. */
export const CERT_WARNING_DAYS = 14;

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
  /** The target applied to `availability` (`wmn_sla_verdict`); null with it. */
  readonly sla: SlaVerdict | null;
  readonly coverageWarning: boolean;
  readonly outageSummary: OutageSummary | null;
  readonly outages: readonly Outage[];
  readonly sources: readonly SourceReport[];
  readonly chart: readonly ChartPoint[];
}

/** An https source's certificate, as of when the report was read (not of the report's range). */
export interface CertificateReport extends CertExpiry {
  /** Fewer than {@link CERT_WARNING_DAYS} days left, or expired. */
  readonly expiringSoon: boolean;
}

export interface Report {
  readonly schema: typeof REPORT_SCHEMA;
  readonly generatedAt: Date;
  readonly generator: string;
  readonly range: ReportRange;
  readonly slaTargetPct: number;
  readonly chartUnit: PeriodUnit;
  readonly agents: readonly AgentReport[];
  /** The https sources of the reported agents that presented a certificate, by agent then source. */
  readonly certificates: readonly CertificateReport[];
}

/** Charts are daily, or hourly when the range is two days or shorter. */
export function chartUnit(from: Date, to: Date): PeriodUnit {
  return to.getTime() - from.getTime() <= 2 * 86_400_000 ? 'hour' : 'day';
}
