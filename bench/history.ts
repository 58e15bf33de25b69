/**
 * A synthetic history generated inside PostgreSQL: 10 sources probed every second, with one 3-minute
 * outage a day (every source down: DOWN cycles) and 0.1 % of probes lost at random (each on its own),
 * one INSERT per day
 * so progress and its rate are known. Then the raw SLA query of one agent over the whole range: uptime,
 * DOWN cycles and loss, by the data contract's definitions, straight from the rows (no rollups yet).
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

/** Inserts day `day` (0-based) of the history; resolves with the rows written. */
export async function generateDay(client: pg.Client, day: number): Promise<number> {
  const from = HISTORY_START + day * DAY_S;
  const result = await client.query(GENERATE_DAY, [from, from + DAY_S, AGENT]);
  return result.rowCount ?? 0;
}

export interface SlaAnswer {
  readonly cycles: string;
  readonly down_cycles: string;
  readonly uptime_pct: string;
  readonly loss: number;
}

/** Runs the raw SLA query over the first `days` days; resolves with its answer and how long it took. */
export async function slaQuery(client: pg.Client, days: number): Promise<{ ms: number; answer: SlaAnswer }> {
  const from = new Date(HISTORY_START * 1000);
  const to = new Date((HISTORY_START + days * DAY_S) * 1000);
  const began = performance.now();
  const { rows } = await client.query<SlaAnswer>(SLA_QUERY, [AGENT, from, to]);
  return { ms: performance.now() - began, answer: rows[0]! };
}
