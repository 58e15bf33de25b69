/** Reads everything a report shows through the analysis module, one SQL function per figure. */
import {
  agentSummary,
  certExpiry,
  type Outage,
  outageSummary,
  outages,
  type PeriodSummary,
  periodSummary,
  phaseSummary,
  type Queryable,
  slaVerdict,
  sourceSummary,
} from '../analysis/index.js';
import {
  type AgentReport,
  CERT_WARNING_DAYS,
  COVERAGE_WARNING_PCT,
  chartUnit,
  REPORT_SCHEMA,
  type Report,
  type ReportRange,
} from './model.js';
import { periods } from './time.js';

export interface ReadReportOptions {
  readonly range: ReportRange;
  /** Agents to report on; absent: every agent with cycles in the range. */
  readonly agents?: readonly string[] | undefined;
  readonly slaTargetPct: number;
  readonly generator: string;
  /** Told what is being read, as it starts and finishes (the CLI prints it on stderr). */
  readonly progress?: (message: string) => void;
  readonly now?: Date;
}

/**
 * Runs the SLA queries and assembles the report. Pass a pool: the eight queries run concurrently on it
 * (on a single client pg would queue them, and warn).
 */
export async function readReport(db: Queryable, opts: ReadReportOptions): Promise<Report> {
  const { from, to, timeZone } = opts.range;
  const range = { from, to, agents: opts.agents };
  const unit = chartUnit(from, to);
  const cuts = periods(from, to, unit, timeZone);
  const progress = opts.progress ?? (() => {});
  const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    const began = performance.now();
    progress(`reading ${what}…`);
    const result = await run();
    progress(`read ${what} in ${Math.round(performance.now() - began)} ms`);
    return result;
  };
  const [summaries, verdicts, outageStats, outageList, sources, phases, chart, certs] = await Promise.all([
    step('availability', () => agentSummary(db, range)),
    step('SLA verdict', () => slaVerdict(db, range, opts.slaTargetPct)),
    step('outage statistics', () => outageSummary(db, range)),
    step('outages', () => outages(db, range)),
    step('loss per source', () => sourceSummary(db, range)),
    step('phase percentiles', () => phaseSummary(db, range)),
    step(`${unit === 'day' ? 'daily' : 'hourly'} availability (${cuts.length} periods)`, () =>
      periodSummary(db, cuts, opts.agents),
    ),
    step('certificate expiry', () => certExpiry(db, opts.agents)),
  ]);
  const byPeriod = new Map<string, PeriodSummary>(chart.map((p) => [key(p.agent, p.from), p]));
  const names = [...new Set([...(opts.agents ?? []), ...summaries.map((s) => s.agent)])].sort();
  const agents = names.map((agent): AgentReport => {
    const availability = summaries.find((s) => s.agent === agent) ?? null;
    return {
      agent,
      availability,
      // Both come from the agent's cycles in the range: an agent has both or neither.
      sla: availability ? (verdicts.find((v) => v.agent === agent) ?? null) : null,
      coverageWarning: (availability?.coveragePct ?? 0) < COVERAGE_WARNING_PCT,
      outageSummary: outageStats.find((s) => s.agent === agent) ?? null,
      outages: outageList.filter((o: Outage) => o.agent === agent),
      sources: sources
        .filter((s) => s.agent === agent)
        .map((summary) => ({
          summary,
          phases: phases.filter((p) => p.agent === agent && p.source === summary.source),
        })),
      chart: cuts.map((cut) => ({ ...cut, summary: byPeriod.get(key(agent, cut.from)) ?? null })),
    };
  });
  return {
    schema: REPORT_SCHEMA,
    generatedAt: opts.now ?? new Date(),
    generator: opts.generator,
    range: opts.range,
    slaTargetPct: opts.slaTargetPct,
    chartUnit: unit,
    agents,
    certificates: certs
      .filter((c) => names.includes(c.agent))
      .map((c) => ({ ...c, expiringSoon: c.daysLeft < CERT_WARNING_DAYS })),
  };
}

function key(agent: string, from: Date): string {
  return `${from.getTime()} ${agent}`;
}
