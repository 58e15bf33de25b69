/** Each agent's state now (`wmn_agent_state`): UP, DOWN or STALE, and since when. */
import { type Queryable, read } from './db.js';

export type AgentStateName = 'UP' | 'DOWN' | 'STALE';

export interface AgentState {
  readonly agent: string;
  /**
   * UP or DOWN as of the latest cycle; STALE when that cycle is older than three intervals (10 s at
   * least): the agent stopped, or its rows stopped arriving.
   */
  readonly state: AgentStateName;
  /** Start of the current run of UP (or DOWN) cycles. */
  readonly since: Date;
  readonly lastCycleAt: Date;
  readonly lastCycleDown: boolean;
  readonly intervalS: number;
}

/** Per agent with cycles (those named, or all), sorted by agent. */
export async function agentState(db: Queryable, agents?: readonly string[]): Promise<AgentState[]> {
  const rows = await read<{
    agent: string;
    state: AgentStateName;
    since: Date;
    last_cycle_at: Date;
    last_cycle_down: boolean;
    interval_s: number;
  }>(
    db,
    'wmn_agent_state',
    `SELECT s.agent, s.state, s.since, s.last_cycle_at, s.last_cycle_down, s.interval_s
       FROM wmn_agent_state AS s WHERE $1::text[] IS NULL OR s.agent = ANY ($1::text[]) ORDER BY s.agent`,
    [agents ? [...agents] : null],
  );
  return rows.map((r) => ({
    agent: r.agent,
    state: r.state,
    since: r.since,
    lastCycleAt: r.last_cycle_at,
    lastCycleDown: r.last_cycle_down,
    intervalS: r.interval_s,
  }));
}
