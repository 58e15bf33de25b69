-- Day rollups: a month or a quarter is read from ~30–90 rows per source instead of 24 times as many hour
-- rows (the 90-day SLA functions took ~490 ms on hours; `npm run bench`, storage section).
--
--   wmn_agent_day    per agent and UTC day: recomputed from its hours whenever they change, like the
--                    hours from their minutes
--   wmn_source_day   per agent, source and UTC day: added to by the trigger like the minutes and hours;
--                    recomputed from the hours by a rebuild (hours keep data whose raw rows are gone)
--
-- wmn_spans gains the grain 'day': whole UTC days in the middle of a range, then hours, minutes and
-- single cycles or rows towards its edges, so every answer stays exact at any boundary. wmn_outages
-- looks up the UP cycles between two DOWN cycles only when they are not consecutive ticks.
-- On the benchmark's 90-day history the SLA functions went from 160–560 ms to ~62 ms, the phase
-- percentiles from ~610 ms to ~32 ms.

CREATE TABLE wmn_agent_day (LIKE wmn_agent_minute INCLUDING ALL);
CREATE TABLE wmn_source_day (LIKE wmn_source_minute INCLUDING ALL) WITH (fillfactor = 70);

-- Recomputes the wmn_source_day rows of the given UTC days from their hour rows (a rebuild replaces
-- hours, which additions to a day cannot follow).
CREATE FUNCTION wmn_recompute_source_days(p_days TIMESTAMPTZ[]) RETURNS VOID
LANGUAGE sql
AS $$
  DELETE FROM wmn_source_day WHERE bucket = ANY (p_days);
  WITH h AS (
    SELECT r.*, date_trunc('day', r.bucket, 'UTC') AS day FROM wmn_source_hour r
     WHERE r.bucket >= (SELECT min(d) FROM unnest(p_days) AS d)
       AND r.bucket < (SELECT max(d) FROM unnest(p_days) AS d) + interval '24 hours'
       AND date_trunc('day', r.bucket, 'UTC') = ANY (p_days)
  ), errs AS (
    SELECT agent, source, day, jsonb_object_agg(key, n) AS errors
      FROM (SELECT h.agent, h.source, h.day, e.key, sum(e.value::bigint) AS n
              FROM h, jsonb_each_text(h.errors) AS e GROUP BY 1, 2, 3, 4) AS x
     GROUP BY 1, 2, 3
  ), hists AS (
    SELECT agent, source, day, array_agg(v ORDER BY k, o) AS hist
      FROM (SELECT h.agent, h.source, h.day, p.k, sum(p.c)::int AS c
              FROM h, wmn_hist_pairs(h.hist) AS p GROUP BY 1, 2, 3, 4) AS m,
           LATERAL (VALUES (1, m.k), (2, m.c)) AS x(o, v)
     GROUP BY 1, 2, 3
  )
  INSERT INTO wmn_source_day
  SELECT h.agent, h.source, h.day, sum(h.probes)::int, sum(h.failed)::int,
         coalesce(min(e.errors::text)::jsonb, '{}'),
         sum(h.dns_n)::int, sum(h.dns_sum), min(h.dns_min), max(h.dns_max),
         sum(h.connect_n)::int, sum(h.connect_sum), min(h.connect_min), max(h.connect_max),
         sum(h.tls_n)::int, sum(h.tls_sum), min(h.tls_min), max(h.tls_max),
         sum(h.ttfb_n)::int, sum(h.ttfb_sum), min(h.ttfb_min), max(h.ttfb_max),
         sum(h.total_n)::int, sum(h.total_sum), min(h.total_min), max(h.total_max),
         coalesce(min(k.hist), '{}')
    FROM h
    LEFT JOIN errs e USING (agent, source, day)
    LEFT JOIN hists k USING (agent, source, day)
   GROUP BY h.agent, h.source, h.day;
$$;

-- As in migration 002, and then the days of the hours just recomputed (24 hours: UTC has no DST).
CREATE OR REPLACE FUNCTION wmn_refresh_agent_rollups(agents TEXT[], minutes TIMESTAMPTZ[]) RETURNS VOID
LANGUAGE sql
AS $$
  INSERT INTO wmn_agent_minute AS t
  SELECT c.agent, k.minute, count(*)::int, (count(*) FILTER (WHERE c.down))::int,
         sum(c.interval_s), coalesce(sum(c.interval_s) FILTER (WHERE c.down), 0)
    FROM unnest(agents, minutes) AS k(agent, minute)
    JOIN wmn_cycles c ON c.agent = k.agent AND c.ts >= k.minute AND c.ts < k.minute + interval '1 minute'
   GROUP BY c.agent, k.minute
  ON CONFLICT (agent, bucket) DO UPDATE SET
    cycles = excluded.cycles, down_cycles = excluded.down_cycles,
    covered_s = excluded.covered_s, down_s = excluded.down_s;

  INSERT INTO wmn_agent_hour AS t
  SELECT m.agent, h.hour, sum(m.cycles)::int, sum(m.down_cycles)::int, sum(m.covered_s), sum(m.down_s)
    FROM (SELECT DISTINCT agent, date_trunc('hour', minute, 'UTC') AS hour
            FROM unnest(agents, minutes) AS k(agent, minute)) AS h
    JOIN wmn_agent_minute m
      ON m.agent = h.agent AND m.bucket >= h.hour AND m.bucket < h.hour + interval '1 hour'
   GROUP BY m.agent, h.hour
  ON CONFLICT (agent, bucket) DO UPDATE SET
    cycles = excluded.cycles, down_cycles = excluded.down_cycles,
    covered_s = excluded.covered_s, down_s = excluded.down_s;

  INSERT INTO wmn_agent_day AS t
  SELECT h.agent, d.day, sum(h.cycles)::int, sum(h.down_cycles)::int, sum(h.covered_s), sum(h.down_s)
    FROM (SELECT DISTINCT agent, date_trunc('day', minute, 'UTC') AS day
            FROM unnest(agents, minutes) AS k(agent, minute)) AS d
    JOIN wmn_agent_hour h
      ON h.agent = d.agent AND h.bucket >= d.day AND h.bucket < d.day + interval '24 hours'
   GROUP BY h.agent, d.day
  ON CONFLICT (agent, bucket) DO UPDATE SET
    cycles = excluded.cycles, down_cycles = excluded.down_cycles,
    covered_s = excluded.covered_s, down_s = excluded.down_s;
$$;

-- As in migration 003, with the day rows added to as well.
CREATE OR REPLACE FUNCTION wmn_rollup_rows(raw favicon_metrics[]) RETURNS VOID
LANGUAGE plpgsql
AS $$
DECLARE
  agents  TEXT[];
  minutes TIMESTAMPTZ[];
BEGIN
  IF coalesce(cardinality(raw), 0) = 0 THEN
    RETURN;
  END IF;
  INSERT INTO wmn_cycles AS t (agent, probe_id, ts, interval_s, sources, failed, errors, diagnosis)
  SELECT * FROM wmn_cycles_of(raw)
  ON CONFLICT (agent, probe_id) DO UPDATE SET
    sources = t.sources + excluded.sources,
    failed = t.failed + excluded.failed,
    errors = ARRAY(SELECT DISTINCT e FROM unnest(t.errors || excluded.errors) AS e ORDER BY e),
    diagnosis = coalesce(excluded.diagnosis, t.diagnosis);
  PERFORM wmn_add_source_rollup('wmn_source_minute', raw, 'minute');
  PERFORM wmn_add_source_rollup('wmn_source_hour', raw, 'hour');
  PERFORM wmn_add_source_rollup('wmn_source_day', raw, 'day');
  SELECT array_agg(agent), array_agg(minute) INTO agents, minutes
    FROM (SELECT DISTINCT r.agent, date_trunc('minute', r.ts, 'UTC') AS minute FROM unnest(raw) AS r) AS k;
  PERFORM wmn_refresh_agent_rollups(agents, minutes);
END
$$;

-- As in migration 002; the source days of the hours rebuilt are then recomputed from their hours.
CREATE OR REPLACE FUNCTION wmn_rebuild_rollups(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ) RETURNS INTEGER
LANGUAGE plpgsql
AS $$
DECLARE
  hour    TIMESTAMPTZ;
  raw     favicon_metrics[];
  days    TIMESTAMPTZ[] := '{}';
  rebuilt INTEGER := 0;
BEGIN
  LOCK TABLE favicon_metrics IN SHARE ROW EXCLUSIVE MODE;
  FOR hour IN
    SELECT DISTINCT date_trunc('hour', ts, 'UTC') FROM favicon_metrics
     WHERE ts >= date_trunc('hour', p_from, 'UTC') AND ts < p_to ORDER BY 1
  LOOP
    SELECT array_agg(f) INTO raw FROM favicon_metrics f WHERE f.ts >= hour AND f.ts < hour + interval '1 hour';
    DELETE FROM wmn_source_minute WHERE bucket >= hour AND bucket < hour + interval '1 hour';
    DELETE FROM wmn_source_hour WHERE bucket = hour;
    DELETE FROM wmn_cycles WHERE ts >= hour AND ts < hour + interval '1 hour';
    DELETE FROM wmn_agent_minute WHERE bucket >= hour AND bucket < hour + interval '1 hour';
    DELETE FROM wmn_agent_hour WHERE bucket = hour;
    PERFORM wmn_rollup_rows(raw);
    days := days || date_trunc('day', hour, 'UTC');
    rebuilt := rebuilt + 1;
  END LOOP;
  IF rebuilt > 0 THEN
    PERFORM wmn_recompute_source_days(ARRAY(SELECT DISTINCT d FROM unnest(days) AS d));
  END IF;
  RETURN rebuilt;
END
$$;

-- The pieces [p_from, p_to) is read from, widest first in the middle: whole UTC days, hours, minutes,
-- and the partial minutes at the very edges from cycles and raw rows. ROWS 4 (at most seven pieces):
-- see migration 002 for why the estimate matters.
CREATE OR REPLACE FUNCTION wmn_spans(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ)
RETURNS TABLE (grain TEXT, lo TIMESTAMPTZ, hi TIMESTAMPTZ)
LANGUAGE plpgsql STABLE ROWS 4
AS $$
DECLARE
  m1 TIMESTAMPTZ := date_trunc('minute', p_from, 'UTC');
  m2 TIMESTAMPTZ := date_trunc('minute', p_to, 'UTC');
  h1 TIMESTAMPTZ;
  h2 TIMESTAMPTZ;
  d1 TIMESTAMPTZ;
  d2 TIMESTAMPTZ;
BEGIN
  IF m1 < p_from THEN m1 := m1 + interval '1 minute'; END IF;
  IF m1 >= m2 THEN
    RETURN QUERY SELECT 'raw', p_from, p_to WHERE p_from < p_to;
    RETURN;
  END IF;
  h1 := date_trunc('hour', m1, 'UTC');
  IF h1 < m1 THEN h1 := h1 + interval '1 hour'; END IF;
  h2 := date_trunc('hour', m2, 'UTC');
  IF h1 >= h2 THEN h1 := m2; h2 := m2; END IF;
  d1 := date_trunc('day', h1, 'UTC');
  IF d1 < h1 THEN d1 := d1 + interval '24 hours'; END IF;
  d2 := date_trunc('day', h2, 'UTC');
  IF d1 >= d2 THEN d1 := h2; d2 := h2; END IF;
  RETURN QUERY
    SELECT * FROM (VALUES ('raw', p_from, m1), ('minute', m1, h1), ('hour', h1, d1), ('day', d1, d2),
                          ('hour', d2, h2), ('minute', h2, m2), ('raw', m2, p_to)) AS v(grain, lo, hi)
     WHERE v.lo < v.hi;
END
$$;

-- As in migration 002, reading whole days from wmn_agent_day.
CREATE OR REPLACE FUNCTION wmn_agent_summary(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_agents TEXT[] DEFAULT NULL)
RETURNS TABLE (
  agent TEXT, range_s DOUBLE PRECISION, covered_s DOUBLE PRECISION, unknown_s DOUBLE PRECISION,
  coverage_pct DOUBLE PRECISION, cycles BIGINT, up_cycles BIGINT, down_cycles BIGINT,
  uptime_pct DOUBLE PRECISION, down_s DOUBLE PRECISION, expected_cycles BIGINT
)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH s AS (SELECT * FROM wmn_spans(p_from, p_to)),
  parts AS (
    SELECT a.agent, a.cycles, a.down_cycles, a.covered_s, a.down_s
      FROM s JOIN wmn_agent_day a ON s.grain = 'day' AND a.bucket >= s.lo AND a.bucket < s.hi
    UNION ALL
    SELECT a.agent, a.cycles, a.down_cycles, a.covered_s, a.down_s
      FROM s JOIN wmn_agent_hour a ON s.grain = 'hour' AND a.bucket >= s.lo AND a.bucket < s.hi
    UNION ALL
    SELECT a.agent, a.cycles, a.down_cycles, a.covered_s, a.down_s
      FROM s JOIN wmn_agent_minute a ON s.grain = 'minute' AND a.bucket >= s.lo AND a.bucket < s.hi
    UNION ALL
    SELECT c.agent, 1, c.down::int, c.interval_s, CASE WHEN c.down THEN c.interval_s ELSE 0 END
      FROM s JOIN wmn_cycles c ON s.grain = 'raw' AND c.ts >= s.lo AND c.ts < s.hi
  ),
  totals AS (
    SELECT p.agent, sum(p.cycles)::bigint AS cycles, sum(p.down_cycles)::bigint AS down_cycles,
           least(sum(p.covered_s), extract(epoch FROM p_to - p_from)::float8) AS covered_s,
           sum(p.down_s) AS down_s
      FROM parts p
     WHERE p_agents IS NULL OR p.agent = ANY (p_agents)
     GROUP BY p.agent
  ),
  -- Registered agents that recorded nothing in the range are answered too (0 % coverage, uptime
  -- unknown): an agent off all month must not vanish from an SLA table.
  silent AS (
    SELECT a.agent, 0::bigint, 0::bigint, 0::float8, 0::float8 FROM wmn_agents a
     WHERE (p_agents IS NULL OR a.agent = ANY (p_agents)) AND NOT EXISTS (SELECT 1 FROM totals t WHERE t.agent = a.agent)
  )
  SELECT t.agent, r.range_s, t.covered_s, r.range_s - t.covered_s,
         100 * t.covered_s / nullif(r.range_s, 0), t.cycles, t.cycles - t.down_cycles, t.down_cycles,
         100 * (t.cycles - t.down_cycles)::float8 / nullif(t.cycles, 0), t.down_s,
         floor(r.range_s / coalesce(a.interval_s, 1))::bigint
    FROM (SELECT * FROM totals UNION ALL SELECT * FROM silent) AS t
    CROSS JOIN (SELECT extract(epoch FROM p_to - p_from)::float8 AS range_s) r
    LEFT JOIN wmn_agents a ON a.agent = t.agent
$$;

-- As in migration 002, reading whole days from wmn_source_day.
CREATE OR REPLACE FUNCTION wmn_source_parts(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_agents TEXT[] DEFAULT NULL)
RETURNS SETOF wmn_source_minute
LANGUAGE sql STABLE
AS $$
  WITH s AS (SELECT * FROM wmn_spans(p_from, p_to))
  SELECT r.* FROM s JOIN wmn_source_day r ON s.grain = 'day' AND r.bucket >= s.lo AND r.bucket < s.hi
   WHERE p_agents IS NULL OR r.agent = ANY (p_agents)
  UNION ALL
  SELECT r.* FROM s JOIN wmn_source_hour r ON s.grain = 'hour' AND r.bucket >= s.lo AND r.bucket < s.hi
   WHERE p_agents IS NULL OR r.agent = ANY (p_agents)
  UNION ALL
  SELECT r.* FROM s JOIN wmn_source_minute r ON s.grain = 'minute' AND r.bucket >= s.lo AND r.bucket < s.hi
   WHERE p_agents IS NULL OR r.agent = ANY (p_agents)
  UNION ALL
  SELECT x.*
    FROM (SELECT array_agg(f) AS raw
            FROM s JOIN favicon_metrics f ON s.grain = 'raw' AND f.ts >= s.lo AND f.ts < s.hi
           WHERE p_agents IS NULL OR f.agent = ANY (p_agents)) AS e,
         LATERAL wmn_source_rollup_of(e.raw, 'minute') AS x
$$;

-- As in migration 002, with the start of each outage found once per DOWN cycle, and without a lookup
-- when the DOWN cycle before is the tick just before (the 90-day outage list of the benchmark's history:
-- 58–270 ms, by how much of wmn_cycles was cached, down to 43 ms).
CREATE OR REPLACE FUNCTION wmn_outages(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_agents TEXT[] DEFAULT NULL)
RETURNS TABLE (
  agent TEXT, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, duration_s DOUBLE PRECISION, cycles BIGINT,
  unknown_s DOUBLE PRECISION, errors TEXT[], ongoing BOOLEAN, bucket TEXT
)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH agents AS (
    SELECT DISTINCT h.agent FROM wmn_agent_hour h
     WHERE (p_agents IS NULL OR h.agent = ANY (p_agents))
       AND h.bucket >= date_trunc('hour', p_from, 'UTC') - interval '1 hour' AND h.bucket < p_to
  ),
  -- Down cycles of the range, widened to the UP cycles just outside it so edge outages come whole.
  bounds AS (
    SELECT a.agent,
           coalesce((SELECT max(c.ts) FROM wmn_cycles c
                      WHERE c.agent = a.agent AND NOT c.down AND c.ts < p_from), '-infinity') AS lo,
           coalesce((SELECT min(c.ts) FROM wmn_cycles c
                      WHERE c.agent = a.agent AND NOT c.down AND c.ts >= p_to), 'infinity') AS hi
      FROM agents a
  ),
  d AS (
    SELECT c.agent, c.probe_id, c.ts, c.interval_s, c.errors,
           lag(c.ts) OVER (PARTITION BY c.agent ORDER BY c.ts) AS prev_ts,
           lag(c.probe_id) OVER (PARTITION BY c.agent ORDER BY c.ts) AS prev_probe_id
      FROM bounds b JOIN wmn_cycles c ON c.agent = b.agent AND c.down AND c.ts > b.lo AND c.ts < b.hi
  ),
  -- A DOWN cycle starts an outage unless the DOWN cycle before it is the tick just before it (probe_id
  -- is the tick's unix second: no cycle fits between) or no UP cycle came between them. Materialized:
  -- `starts` is read twice below, and inlined its lookup ran twice per DOWN cycle.
  marked AS MATERIALIZED (
    SELECT d.*,
           (d.prev_ts IS NULL OR (d.prev_probe_id <> d.probe_id - 1
                                  AND EXISTS (SELECT 1 FROM wmn_cycles u
                                               WHERE u.agent = d.agent AND NOT u.down
                                                 AND u.ts > d.prev_ts AND u.ts < d.ts))) AS starts
      FROM d
  ),
  islands AS (
    SELECT m.*, count(*) FILTER (WHERE m.starts) OVER (PARTITION BY m.agent ORDER BY m.ts) AS island
      FROM marked m
  ),
  classes AS (
    SELECT i.agent, i.island, array_agg(DISTINCT e ORDER BY e) AS errors
      FROM islands i, unnest(i.errors) AS e GROUP BY 1, 2
  ),
  o AS (
    SELECT i.agent, min(i.ts) AS started_at,
           max(i.ts + make_interval(secs => i.interval_s)) AS ended_at,
           count(*)::bigint AS cycles, sum(i.interval_s) AS down_s, coalesce(min(k.errors), '{}') AS errors
      FROM islands i LEFT JOIN classes k USING (agent, island)
     GROUP BY i.agent, i.island
  )
  SELECT o.agent, o.started_at, o.ended_at, extract(epoch FROM o.ended_at - o.started_at)::float8,
         o.cycles, extract(epoch FROM o.ended_at - o.started_at)::float8 - o.down_s, o.errors,
         NOT EXISTS (SELECT 1 FROM wmn_cycles u WHERE u.agent = o.agent AND NOT u.down AND u.ts > o.started_at),
         wmn_duration_bucket(extract(epoch FROM o.ended_at - o.started_at)::float8)
    FROM o
   WHERE o.ended_at > p_from AND o.started_at < p_to
   ORDER BY o.agent, o.started_at
$$;

-- An upgraded database: its days, from the hours it already has.
INSERT INTO wmn_agent_day
SELECT agent, date_trunc('day', bucket, 'UTC'), sum(cycles)::int, sum(down_cycles)::int, sum(covered_s),
       sum(down_s)
  FROM wmn_agent_hour GROUP BY 1, 2;
SELECT wmn_recompute_source_days(ARRAY(SELECT DISTINCT date_trunc('day', bucket, 'UTC') FROM wmn_source_hour));
