/**
 * A synthetic history generated inside PostgreSQL: 10 sources probed every second, with one 3-minute
 * outage a day (every source down: DOWN cycles) and 0.1 % of probes lost at random (each on its own),
 * one INSERT per hour, as a backlog replayed hour by hour would arrive (the rollup trigger folds each
 * statement's rows in). Then the same SLA question asked two ways: of the raw rows, by the data
 * contract's definitions, and of the SQL functions of migration 002, which read the rollups.
 */
import type pg from 'pg';

export const SOURCES = 10;
const DAY_S = 86_400;
/** 2026-06-01T00:00:00Z: the history's first second. */
export const HISTORY_START = 1_780_272_000;
const AGENT = 'bench';

const GENERATE_DAY = `
INSERT INTO favicon_metrics
  (ts, probe_id, agent, source, dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms, status, disconnected, error, remote_ip)
SELECT to_timestamp(p), p, $3, 'https://source-' || s || '.example/favicon.ico',
       CASE WHEN d THEN NULL ELSE 1 + random() * 20 END,
       CASE WHEN d THEN NULL ELSE 5 + random() * 20 END,
       CASE WHEN d THEN NULL ELSE 10 + random() * 30 END,
       CASE WHEN d THEN NULL ELSE 30 + random() * 60 END,
       CASE WHEN d THEN 1500 ELSE 40 + random() * 80 END,
       CASE WHEN d THEN NULL ELSE 200 END,
       d,
       CASE WHEN d THEN 'timeout' END,
       CASE WHEN d THEN NULL ELSE ('192.0.2.' || s)::inet END
  FROM (SELECT p, s, (p % ${DAY_S} BETWEEN 3600 AND 3779) OR random() < 0.001 AS d
          FROM generate_series($1::bigint, $2::bigint - 1) AS p, generate_series(1, ${SOURCES}) AS s) AS g`;

/** Uptime = UP cycles / cycles that ran; DOWN = every source failed; loss = failed probes / probes. */
const SLA_QUERY = `
WITH cycles AS (
  SELECT probe_id,
         bool_and(disconnected) AS down,
         count(*) AS probes,
         count(*) FILTER (WHERE disconnected) AS failed
    FROM favicon_metrics
   WHERE agent = $1 AND ts >= $2 AND ts < $3
   GROUP BY probe_id
)
SELECT count(*)::bigint AS cycles,
       count(*) FILTER (WHERE down)::bigint AS down_cycles,
       100.0 * count(*) FILTER (WHERE NOT down) / count(*) AS uptime_pct,
       sum(failed)::float8 / sum(probes) AS loss
  FROM cycles`;

const HOUR_S = 3_600;

/** Inserts day `day` (0-based) of the history, an hour per statement; resolves with the rows written. */
export async function generateDay(client: pg.Client, day: number): Promise<number> {
  let rows = 0;
  for (let hour = 0; hour < 24; hour++) {
    const from = HISTORY_START + day * DAY_S + hour * HOUR_S;
    const result = await client.query(GENERATE_DAY, [from, from + HOUR_S, AGENT]);
    rows += result.rowCount ?? 0;
  }
  return rows;
}

/** The same question of the SLA functions (rollups for whole hours), plus outages and the longest. */
const ROLLUP_SLA_QUERY = `
SELECT a.cycles, a.down_cycles, a.uptime_pct::numeric AS uptime_pct,
       (SELECT sum(failed)::float8 / sum(probes) FROM wmn_source_summary($2, $3, ARRAY[$1])) AS loss,
       o.outages, o.longest_s
  FROM wmn_agent_summary($2, $3, ARRAY[$1]) AS a
  JOIN wmn_outage_summary($2, $3, ARRAY[$1]) AS o USING (agent)`;

/** Phase percentiles per source, from the rollups' histograms. */
const PERCENTILE_QUERY = 'SELECT * FROM wmn_phase_summary($2, $3, ARRAY[$1])';

export interface SlaAnswer {
  readonly cycles: string;
  readonly down_cycles: string;
  readonly uptime_pct: string;
  readonly loss: number;
  readonly outages?: string;
  readonly longest_s?: number;
}

export const SLA_QUERIES = { raw: SLA_QUERY, rollups: ROLLUP_SLA_QUERY, percentiles: PERCENTILE_QUERY };

/** The range [start, start + days) the history covers. */
export function historyRange(days: number): { from: Date; to: Date } {
  return { from: new Date(HISTORY_START * 1000), to: new Date((HISTORY_START + days * DAY_S) * 1000) };
}

/** Runs one of the SLA queries over the first `days` days; resolves with its answer and its time. */
export async function slaQuery(
  client: pg.Client,
  days: number,
  which: keyof typeof SLA_QUERIES = 'raw',
): Promise<{ ms: number; answer: SlaAnswer }> {
  const { from, to } = historyRange(days);
  const began = performance.now();
  const { rows } = await client.query<SlaAnswer>(SLA_QUERIES[which], [AGENT, from, to]);
  return { ms: performance.now() - began, answer: rows[0]! };
}
