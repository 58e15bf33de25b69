/** Coverage, cycles and uptime per agent (`wmn_agent_summary`), for one range or for many periods. */
import { type AnalysisRange, count, type Queryable, rangeParams, read, real } from './db.js';

/** One agent over one range: what was measured, and how much of it was up. */
export interface AgentSummary {
  readonly agent: string;
  /** Seconds in the range. */
  readonly rangeS: number;
  /** Seconds covered by recorded cycles (each covers its agent's interval). */
  readonly coveredS: number;
  /** Seconds no cycle covers (agent stopped, host asleep): neither up nor down. */
  readonly unknownS: number;
  /** coveredS / rangeS, in %. */
  readonly coveragePct: number;
  readonly cycles: number;
  readonly upCycles: number;
  readonly downCycles: number;
  /** UP cycles / recorded cycles, in %. */
  readonly uptimePct: number;
  /** Seconds covered by DOWN cycles. */
  readonly downS: number;
  /** Cycles the agent's registered interval fits into the range (1 s when it never registered). */
  readonly expectedCycles: number;
}

/** One agent over one period of a list (a day or an hour of a report's chart). */
export interface PeriodSummary extends AgentSummary {
  readonly from: Date;
  readonly to: Date;
}

interface Row {
  agent: string;
  range_s: number | null;
  covered_s: number | null;
  unknown_s: number | null;
  coverage_pct: number | null;
  cycles: string;
  up_cycles: string;
  down_cycles: string;
  uptime_pct: number | null;
  down_s: number | null;
  expected_cycles: string;
}

const COLUMNS = `s.agent, s.range_s, s.covered_s, s.unknown_s, s.coverage_pct, s.cycles, s.up_cycles,
  s.down_cycles, s.uptime_pct, s.down_s, s.expected_cycles`;

function toSummary(row: Row): AgentSummary {
  return {
    agent: row.agent,
    rangeS: real(row.range_s, 'range_s'),
    coveredS: real(row.covered_s, 'covered_s'),
    unknownS: real(row.unknown_s, 'unknown_s'),
    coveragePct: real(row.coverage_pct, 'coverage_pct'),
    cycles: count(row.cycles),
    upCycles: count(row.up_cycles),
    downCycles: count(row.down_cycles),
    // Rows of agents without cycles are dropped before this (see agentSummary), so uptime is defined.
    uptimePct: real(row.uptime_pct, 'uptime_pct'),
    downS: real(row.down_s, 'down_s'),
    expectedCycles: count(row.expected_cycles),
  };
}

/**
 * Per agent over the range, sorted by agent. An agent with no cycle in the range has no entry: nothing
 * was measured, so there is no uptime to state (the SQL function answers registered silent agents with
 * NULL uptime, for Grafana's tables; the report lists such agents, when asked for, as "no data").
 */
export async function agentSummary(db: Queryable, range: AnalysisRange): Promise<AgentSummary[]> {
  const rows = await read<Row>(
    db,
    'wmn_agent_summary',
    `SELECT ${COLUMNS} FROM wmn_agent_summary($1, $2, $3::text[]) AS s WHERE s.cycles > 0 ORDER BY s.agent`,
    rangeParams(range),
  );
  return rows.map(toSummary);
}

/**
 * Per agent and period, in one statement: `wmn_agent_summary` of each [from, to) of `periods` (calendar
 * days or hours in a time zone, which a fixed step from a UTC origin cannot express). Sorted by period,
 * then agent; a period in which an agent recorded nothing has no row for it.
 */
export async function periodSummary(
  db: Queryable,
  periods: readonly { readonly from: Date; readonly to: Date }[],
  agents?: readonly string[],
): Promise<PeriodSummary[]> {
  if (periods.length === 0) return [];
  for (const p of periods) rangeParams({ from: p.from, to: p.to });
  const rows = await read<Row & { lo: Date; hi: Date }>(
    db,
    'wmn_agent_summary per period',
    `SELECT p.lo, p.hi, ${COLUMNS}
       FROM unnest($1::timestamptz[], $2::timestamptz[]) WITH ORDINALITY AS p(lo, hi, i)
      CROSS JOIN LATERAL wmn_agent_summary(p.lo, p.hi, $3::text[]) AS s
      WHERE s.cycles > 0
      ORDER BY p.i, s.agent`,
    [periods.map((p) => p.from), periods.map((p) => p.to), agents ? [...agents] : null],
  );
  return rows.map((row) => ({ ...toSummary(row), from: row.lo, to: row.hi }));
}
