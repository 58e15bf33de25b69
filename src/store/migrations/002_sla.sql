-- The SLA answers, defined once (DESIGN.md, "Data contract"): cycles, outages, coverage, uptime, loss,
-- latency percentiles, and the rollups long ranges read. Grafana, `wmn report`, the web dashboard and
-- alerts all call these; none of them restates a definition.
--
-- Definitions
--   cycle     one scheduled tick of one agent: the rows sharing (agent, probe_id)
--   DOWN      a cycle in which every source failed (no response at all: `disconnected`); UP otherwise
--   outage    a maximal run of DOWN cycles of one agent with no UP cycle between them; cycles missing
--             inside the run (agent stopped, host asleep) do not end it but are reported as unknown_s
--   coverage  seconds covered by recorded cycles (each covers its agent's interval) / seconds in range;
--             missing cycles are unknown, never up and never down
--   uptime %  UP cycles / recorded cycles;   loss %  failed probes / probes
--
-- Rollups are maintained synchronously by a statement trigger on favicon_metrics, whoever inserts (wmn,
-- the original Rust agent, a bulk load), so they are never behind the raw rows and need no scheduler:
--   wmn_cycles                  one row per cycle (kept after raw rows are deleted: outages need it)
--   wmn_agent_minute/_hour      per agent and bucket: cycles, DOWN cycles, seconds covered and down
--   wmn_source_minute/_hour     per agent, source and bucket: probes, failures, error classes, phase
--                               count/sum/min/max, and a latency histogram for percentiles
-- Buckets are UTC minutes and hours. Queries over [from, to) read hours where whole hours fit, minutes
-- at the edges and single cycles/rows for the partial minutes (wmn_spans), so every answer is exact at
-- any boundary. Percentiles from histograms are within 4.5 % of the exact value (bins 2^(1/8) wide).

-- Agents register their interval (and what they probe) when they start; the trigger uses the interval
-- as the time each cycle covers. Rows from writers that never registered count 1 s per cycle.
CREATE TABLE wmn_agents (
    agent       TEXT PRIMARY KEY,
    interval_s  DOUBLE PRECISION NOT NULL CHECK (interval_s > 0),
    sources     TEXT[] NOT NULL DEFAULT '{}',
    version     TEXT,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE wmn_cycles (
    agent       TEXT NOT NULL,
    probe_id    BIGINT NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,
    interval_s  DOUBLE PRECISION NOT NULL,
    sources     INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    down        BOOLEAN GENERATED ALWAYS AS (failed = sources) STORED,
    -- Failure classes seen among the cycle's rows (distinct, sorted).
    errors      TEXT[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (agent, probe_id)
);
CREATE INDEX wmn_cycles_agent_ts_idx ON wmn_cycles (agent, ts);
CREATE INDEX wmn_cycles_down_idx ON wmn_cycles (agent, ts) WHERE down;
CREATE INDEX wmn_cycles_ts_idx ON wmn_cycles (ts);

CREATE TABLE wmn_agent_minute (
    agent        TEXT NOT NULL,
    bucket       TIMESTAMPTZ NOT NULL,
    cycles       INTEGER NOT NULL,
    down_cycles  INTEGER NOT NULL,
    covered_s    DOUBLE PRECISION NOT NULL,
    down_s       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (agent, bucket)
);
CREATE INDEX wmn_agent_minute_bucket_idx ON wmn_agent_minute (bucket);
CREATE TABLE wmn_agent_hour (LIKE wmn_agent_minute INCLUDING ALL);

-- `hist` is a sparse histogram of every phase: pairs [key, count, key, count, ...] sorted by key, where
-- key = phase * 1000 + bin (phases 0 dns, 1 connect, 2 tls, 3 ttfb, 4 total; see wmn_hist_bin).
CREATE TABLE wmn_source_minute (
    agent        TEXT NOT NULL,
    source       TEXT NOT NULL,
    bucket       TIMESTAMPTZ NOT NULL,
    probes       INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    errors       JSONB NOT NULL DEFAULT '{}',
    dns_n        INTEGER NOT NULL, dns_sum     DOUBLE PRECISION, dns_min     DOUBLE PRECISION, dns_max     DOUBLE PRECISION,
    connect_n    INTEGER NOT NULL, connect_sum DOUBLE PRECISION, connect_min DOUBLE PRECISION, connect_max DOUBLE PRECISION,
    tls_n        INTEGER NOT NULL, tls_sum     DOUBLE PRECISION, tls_min     DOUBLE PRECISION, tls_max     DOUBLE PRECISION,
    ttfb_n       INTEGER NOT NULL, ttfb_sum    DOUBLE PRECISION, ttfb_min    DOUBLE PRECISION, ttfb_max    DOUBLE PRECISION,
    total_n      INTEGER NOT NULL, total_sum   DOUBLE PRECISION, total_min   DOUBLE PRECISION, total_max   DOUBLE PRECISION,
    hist         INTEGER[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (agent, source, bucket)
) WITH (fillfactor = 70);
CREATE INDEX wmn_source_minute_bucket_idx ON wmn_source_minute (bucket);
CREATE TABLE wmn_source_hour (LIKE wmn_source_minute INCLUDING ALL) WITH (fillfactor = 70);

-- ---------------------------------------------------------------------------------------------------
-- Histograms

-- Bin of a duration: 0 below 0.01 ms, then 8 bins per doubling up to bin 999 (far beyond any timeout).
-- These small functions are not STRICT, so PostgreSQL inlines them (a STRICT one is called row by row:
-- 8x slower over a rollup's rows); each handles NULL itself.
CREATE FUNCTION wmn_hist_bin(ms DOUBLE PRECISION) RETURNS INTEGER
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN ms IS NULL THEN NULL WHEN ms < 0.01 THEN 0 ELSE least(999, 1 + floor(8 * ln(ms / 0.01) / ln(2.0::float8))::int) END;

-- The value a bin stands for: the geometric middle of its bounds.
CREATE FUNCTION wmn_hist_value(bin INTEGER) RETURNS DOUBLE PRECISION
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN bin = 0 THEN 0.005 ELSE 0.01 * power(2.0, (bin - 0.5) / 8.0) END;

-- Upper bound of a bin (for heatmaps: the "le" of a bucket).
CREATE FUNCTION wmn_hist_upper(bin INTEGER) RETURNS DOUBLE PRECISION
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 0.01 * power(2.0, bin / 8.0);

CREATE FUNCTION wmn_hist_pairs(h INTEGER[]) RETURNS TABLE (k INTEGER, c BIGINT)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT h[i], h[i + 1]::bigint FROM generate_series(1, coalesce(array_length(h, 1), 0), 2) AS i $$;

CREATE FUNCTION wmn_hist_merge(a INTEGER[], b INTEGER[]) RETURNS INTEGER[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT coalesce(array_agg(v ORDER BY m.k, o), '{}')
    FROM (SELECT p.k, sum(p.c)::int AS c
            FROM (SELECT * FROM wmn_hist_pairs(a) UNION ALL SELECT * FROM wmn_hist_pairs(b)) AS p
           GROUP BY p.k) AS m,
         LATERAL (VALUES (1, m.k), (2, m.c)) AS x(o, v)
$$;

CREATE FUNCTION wmn_phase_name(phase INTEGER) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (ARRAY['dns', 'connect', 'tls', 'ttfb', 'total'])[phase + 1];

-- ---------------------------------------------------------------------------------------------------
-- Rollup maintenance

-- The wmn_source_* row of each (agent, source, bucket) of a set of raw rows. The trigger adds these for
-- the rows just inserted; the rebuild writes them for all rows of an hour. `grain`: 'minute' or 'hour'.
CREATE FUNCTION wmn_source_rollup_of(raw favicon_metrics[], grain TEXT) RETURNS SETOF wmn_source_minute
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  WITH b AS (
    SELECT r.*, date_trunc(grain, r.ts, 'UTC') AS bucket FROM unnest(raw) AS r
  ), phases AS (
    SELECT b.agent, b.source, b.bucket, p.phase * 1000 + wmn_hist_bin(p.ms) AS k, count(*)::int AS c
      FROM b, LATERAL (VALUES (0, b.dns_ms), (1, b.connect_ms), (2, b.tls_ms), (3, b.ttfb_ms), (4, b.total_ms))
           AS p(phase, ms)
     WHERE p.ms IS NOT NULL
     GROUP BY 1, 2, 3, 4
  ), hists AS (
    SELECT agent, source, bucket, array_agg(v ORDER BY k, o) AS hist
      FROM phases, LATERAL (VALUES (1, k), (2, c)) AS x(o, v)
     GROUP BY 1, 2, 3
  ), errs AS (
    SELECT agent, source, bucket, jsonb_object_agg(error, n) AS errors
      FROM (SELECT agent, source, bucket, error, count(*) AS n FROM b WHERE error IS NOT NULL GROUP BY 1, 2, 3, 4) e
     GROUP BY 1, 2, 3
  )
  SELECT b.agent, b.source, b.bucket, count(*)::int, (count(*) FILTER (WHERE b.disconnected))::int,
         coalesce(min(e.errors::text)::jsonb, '{}'),
         count(b.dns_ms)::int, sum(b.dns_ms), min(b.dns_ms), max(b.dns_ms),
         count(b.connect_ms)::int, sum(b.connect_ms), min(b.connect_ms), max(b.connect_ms),
         count(b.tls_ms)::int, sum(b.tls_ms), min(b.tls_ms), max(b.tls_ms),
         count(b.ttfb_ms)::int, sum(b.ttfb_ms), min(b.ttfb_ms), max(b.ttfb_ms),
         count(b.total_ms)::int, sum(b.total_ms), min(b.total_ms), max(b.total_ms),
         coalesce(min(h.hist), '{}')
    FROM b
    LEFT JOIN hists h USING (agent, source, bucket)
    LEFT JOIN errs e USING (agent, source, bucket)
   GROUP BY b.agent, b.source, b.bucket
$$;

-- The wmn_cycles rows of a set of raw rows (interval: the agent's registered one, else 1 s).
CREATE FUNCTION wmn_cycles_of(raw favicon_metrics[])
RETURNS TABLE (
  agent TEXT, probe_id BIGINT, ts TIMESTAMPTZ, interval_s DOUBLE PRECISION, sources INTEGER, failed INTEGER,
  errors TEXT[]
)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT r.agent, r.probe_id, min(r.ts), coalesce(min(a.interval_s), 1), count(*)::int,
         (count(*) FILTER (WHERE r.disconnected))::int,
         coalesce(array_agg(DISTINCT r.error ORDER BY r.error) FILTER (WHERE r.error IS NOT NULL), '{}')
    FROM unnest(raw) AS r
    LEFT JOIN wmn_agents a ON a.agent = r.agent
   GROUP BY r.agent, r.probe_id
$$;

-- Adds source rollup rows into a wmn_source_* table (counts and sums add, extremes widen, histograms
-- merge). Additive is exact: raw rows are only ever inserted (ON CONFLICT DO NOTHING reports only the
-- rows really inserted), never updated.
CREATE FUNCTION wmn_add_source_rollup(tbl REGCLASS, raw favicon_metrics[], grain TEXT) RETURNS VOID
LANGUAGE plpgsql
AS $$
DECLARE
  -- Computed here, not inside the dynamic statement: a raw-row array passed to EXECUTE as a parameter
  -- made the aggregation 8x slower (PostgreSQL 15).
  additions wmn_source_minute[] := ARRAY(SELECT a FROM wmn_source_rollup_of(raw, grain) AS a);
BEGIN
  EXECUTE format($q$
    INSERT INTO %s AS t SELECT * FROM unnest($1)
    ON CONFLICT (agent, source, bucket) DO UPDATE SET
      probes = t.probes + excluded.probes,
      failed = t.failed + excluded.failed,
      errors = (SELECT coalesce(jsonb_object_agg(key, n), '{}')
                  FROM (SELECT key, sum(value::bigint) AS n
                          FROM (SELECT * FROM jsonb_each_text(t.errors)
                                UNION ALL SELECT * FROM jsonb_each_text(excluded.errors)) AS e
                         GROUP BY key) AS s),
      dns_n = t.dns_n + excluded.dns_n, dns_sum = coalesce(t.dns_sum + excluded.dns_sum, t.dns_sum, excluded.dns_sum),
      dns_min = least(t.dns_min, excluded.dns_min), dns_max = greatest(t.dns_max, excluded.dns_max),
      connect_n = t.connect_n + excluded.connect_n,
      connect_sum = coalesce(t.connect_sum + excluded.connect_sum, t.connect_sum, excluded.connect_sum),
      connect_min = least(t.connect_min, excluded.connect_min), connect_max = greatest(t.connect_max, excluded.connect_max),
      tls_n = t.tls_n + excluded.tls_n, tls_sum = coalesce(t.tls_sum + excluded.tls_sum, t.tls_sum, excluded.tls_sum),
      tls_min = least(t.tls_min, excluded.tls_min), tls_max = greatest(t.tls_max, excluded.tls_max),
      ttfb_n = t.ttfb_n + excluded.ttfb_n, ttfb_sum = coalesce(t.ttfb_sum + excluded.ttfb_sum, t.ttfb_sum, excluded.ttfb_sum),
      ttfb_min = least(t.ttfb_min, excluded.ttfb_min), ttfb_max = greatest(t.ttfb_max, excluded.ttfb_max),
      total_n = t.total_n + excluded.total_n,
      total_sum = coalesce(t.total_sum + excluded.total_sum, t.total_sum, excluded.total_sum),
      total_min = least(t.total_min, excluded.total_min), total_max = greatest(t.total_max, excluded.total_max),
      hist = wmn_hist_merge(t.hist, excluded.hist)
  $q$, tbl) USING additions;
END
$$;

-- Recomputes the agent rollups of the given (agent, minute) pairs from wmn_cycles, then their hours
-- from the minutes. Recomputed rather than added: a cycle's DOWN state can change if its rows arrive in
-- more than one statement.
CREATE FUNCTION wmn_refresh_agent_rollups(agents TEXT[], minutes TIMESTAMPTZ[]) RETURNS VOID
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
$$;

-- Folds a set of newly inserted raw rows into every rollup.
CREATE FUNCTION wmn_rollup_rows(raw favicon_metrics[]) RETURNS VOID
LANGUAGE plpgsql
AS $$
DECLARE
  agents  TEXT[];
  minutes TIMESTAMPTZ[];
BEGIN
  IF coalesce(cardinality(raw), 0) = 0 THEN
    RETURN;
  END IF;
  INSERT INTO wmn_cycles AS t (agent, probe_id, ts, interval_s, sources, failed, errors)
  SELECT * FROM wmn_cycles_of(raw)
  ON CONFLICT (agent, probe_id) DO UPDATE SET
    sources = t.sources + excluded.sources,
    failed = t.failed + excluded.failed,
    errors = ARRAY(SELECT DISTINCT e FROM unnest(t.errors || excluded.errors) AS e ORDER BY e);
  PERFORM wmn_add_source_rollup('wmn_source_minute', raw, 'minute');
  PERFORM wmn_add_source_rollup('wmn_source_hour', raw, 'hour');
  SELECT array_agg(agent), array_agg(minute) INTO agents, minutes
    FROM (SELECT DISTINCT r.agent, date_trunc('minute', r.ts, 'UTC') AS minute FROM unnest(raw) AS r) AS k;
  PERFORM wmn_refresh_agent_rollups(agents, minutes);
END
$$;

-- Runs as the schema's owner, so an agent with only INSERT on favicon_metrics (deploy/sql/roles.sql)
-- still keeps the rollups current.
CREATE FUNCTION wmn_on_insert() RETURNS TRIGGER
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
  PERFORM wmn_rollup_rows((SELECT array_agg(n::favicon_metrics) FROM new_rows AS n));
  RETURN NULL;
END
$$;

CREATE TRIGGER wmn_rollup AFTER INSERT ON favicon_metrics
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION wmn_on_insert();

-- Rebuilds every rollup of the UTC hours [p_from, p_to) touches from the raw rows. Hours without raw
-- rows (deleted by retention) keep their rollups: they are the only record left. Returns the hours
-- rebuilt. Inserts wait meanwhile (a rebuild must not miss or double-count rows arriving during it), so
-- `wmn rollup --rebuild` calls it one hour per transaction.
CREATE FUNCTION wmn_rebuild_rollups(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ) RETURNS INTEGER
LANGUAGE plpgsql
AS $$
DECLARE
  hour    TIMESTAMPTZ;
  raw     favicon_metrics[];
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
    rebuilt := rebuilt + 1;
  END LOOP;
  RETURN rebuilt;
END
$$;

-- Deletes raw rows older than p_keep, at most p_limit per call (call again until it returns less), and
-- only rows whose minute is rolled up; returns the raw rows deleted. UP cycles older than p_keep go from wmn_cycles too, except the
-- first UP after a DOWN: that one still separates two outages (the rollups hold uptime and coverage).
CREATE FUNCTION wmn_apply_retention(p_keep INTERVAL, p_limit INTEGER DEFAULT 50000) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  cutoff  TIMESTAMPTZ := now() - p_keep;
  deleted BIGINT;
BEGIN
  IF p_keep < interval '1 day' THEN
    RAISE EXCEPTION 'raw retention of % is too short: keep at least a day', p_keep;
  END IF;
  DELETE FROM favicon_metrics WHERE ctid = ANY (ARRAY(
    SELECT f.ctid FROM favicon_metrics f
     WHERE f.ts < cutoff
       AND EXISTS (SELECT 1 FROM wmn_source_minute m
                    WHERE m.agent = f.agent AND m.source = f.source AND m.bucket = date_trunc('minute', f.ts, 'UTC'))
     LIMIT p_limit));
  GET DIAGNOSTICS deleted = ROW_COUNT;
  DELETE FROM wmn_cycles WHERE ctid = ANY (ARRAY(
    SELECT c.ctid FROM (
      SELECT ctid, down, lag(down) OVER (PARTITION BY agent ORDER BY probe_id) AS after_down
        FROM wmn_cycles WHERE ts < cutoff) AS c
     WHERE NOT c.down AND c.after_down IS DISTINCT FROM true));
  RETURN deleted;
END
$$;

DO $$
BEGIN
  -- SECURITY DEFINER functions must not resolve names through the caller's search_path.
  EXECUTE format('ALTER FUNCTION wmn_on_insert() SET search_path = %I, pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION wmn_apply_retention(INTERVAL, INTEGER) SET search_path = %I, pg_temp',
                 current_schema());
END
$$;

-- Deleting rows is for the agent's role only (deploy/sql/roles.sql grants it), not every role.
REVOKE EXECUTE ON FUNCTION wmn_apply_retention(INTERVAL, INTEGER) FROM PUBLIC;

-- Raw rows written before this migration (an upgraded database) are folded in once, here.
DO $$
DECLARE
  first_ts TIMESTAMPTZ;
BEGIN
  SELECT min(ts) INTO first_ts FROM favicon_metrics;
  IF first_ts IS NOT NULL THEN
    PERFORM wmn_rebuild_rollups(first_ts, 'infinity');
  END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------------
-- Reading: every function takes a half-open range [p_from, p_to) and an optional list of agents (NULL:
-- all). Grafana passes ARRAY[$agent]::text[]. JIT is off for them: PostgreSQL's JIT compiles these
-- plans for longer than they run (the 90-day percentiles took 860 ms with it, 240 ms without).

-- The pieces [p_from, p_to) is read from: whole UTC hours from the hour rollups, whole minutes at the
-- edges from the minute rollups, and the partial minutes at the very edges from cycles and raw rows.
-- ROWS 3: at most five pieces. Left at the default estimate (1000), the planner joins the pieces to the
-- rollup tables by scanning them whole (the 90-day SLA query took 970 ms instead of ~100 ms).
CREATE FUNCTION wmn_spans(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ)
RETURNS TABLE (grain TEXT, lo TIMESTAMPTZ, hi TIMESTAMPTZ)
LANGUAGE plpgsql STABLE ROWS 3
AS $$
DECLARE
  m1 TIMESTAMPTZ := date_trunc('minute', p_from, 'UTC');
  m2 TIMESTAMPTZ := date_trunc('minute', p_to, 'UTC');
  h1 TIMESTAMPTZ;
  h2 TIMESTAMPTZ;
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
  RETURN QUERY
    SELECT * FROM (VALUES ('raw', p_from, m1), ('minute', m1, h1), ('hour', h1, h2),
                          ('minute', h2, m2), ('raw', m2, p_to)) AS v(grain, lo, hi)
     WHERE v.lo < v.hi;
END
$$;

-- Per agent: coverage, cycles, uptime and downtime in [p_from, p_to).
CREATE FUNCTION wmn_agent_summary(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_agents TEXT[] DEFAULT NULL)
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

-- The source rollup rows that make up [p_from, p_to): rollups for whole minutes and hours, the raw rows
-- of the partial minutes folded into the same shape.
CREATE FUNCTION wmn_source_parts(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_agents TEXT[] DEFAULT NULL)
RETURNS SETOF wmn_source_minute
LANGUAGE sql STABLE
AS $$
  WITH s AS (SELECT * FROM wmn_spans(p_from, p_to))
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

-- Per agent and source: probes, failures, loss and the failure classes seen in [p_from, p_to).
CREATE FUNCTION wmn_source_summary(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_agents TEXT[] DEFAULT NULL)
RETURNS TABLE (agent TEXT, source TEXT, probes BIGINT, failed BIGINT, loss_pct DOUBLE PRECISION, errors JSONB)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH p AS (SELECT * FROM wmn_source_parts(p_from, p_to, p_agents)),
  e AS (
    SELECT p.agent, p.source, jsonb_object_agg(x.key, x.n) AS errors
      FROM (SELECT p.agent, p.source, j.key, sum(j.value::bigint) AS n
              FROM p, jsonb_each_text(p.errors) AS j GROUP BY 1, 2, 3) AS x
      JOIN (SELECT DISTINCT agent, source FROM p) AS p USING (agent, source)
     GROUP BY p.agent, p.source
  )
  SELECT p.agent, p.source, sum(p.probes)::bigint, sum(p.failed)::bigint,
         100 * sum(p.failed)::float8 / nullif(sum(p.probes), 0), coalesce(min(e.errors::text)::jsonb, '{}')
    FROM p LEFT JOIN e USING (agent, source)
   GROUP BY p.agent, p.source
$$;

-- Per agent, source and phase: samples, mean, extremes and percentiles (p50/p95/p99 from histograms:
-- the nearest-rank percentile's bin, its value clamped to the extremes).
CREATE FUNCTION wmn_phase_summary(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_agents TEXT[] DEFAULT NULL)
RETURNS TABLE (
  agent TEXT, source TEXT, phase TEXT, samples BIGINT, avg_ms DOUBLE PRECISION, min_ms DOUBLE PRECISION,
  max_ms DOUBLE PRECISION, p50_ms DOUBLE PRECISION, p95_ms DOUBLE PRECISION, p99_ms DOUBLE PRECISION
)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH p AS (SELECT * FROM wmn_source_parts(p_from, p_to, p_agents)),
  stats AS (
    SELECT p.agent, p.source, x.phase, sum(x.n)::bigint AS n, sum(x.total) AS total,
           min(x.lo) AS lo, max(x.hi) AS hi
      FROM p, LATERAL (VALUES
        (0, p.dns_n, p.dns_sum, p.dns_min, p.dns_max),
        (1, p.connect_n, p.connect_sum, p.connect_min, p.connect_max),
        (2, p.tls_n, p.tls_sum, p.tls_min, p.tls_max),
        (3, p.ttfb_n, p.ttfb_sum, p.ttfb_min, p.ttfb_max),
        (4, p.total_n, p.total_sum, p.total_min, p.total_max)) AS x(phase, n, total, lo, hi)
     GROUP BY 1, 2, 3
  ),
  bins AS (
    SELECT p.agent, p.source, h.k / 1000 AS phase, h.k % 1000 AS bin, sum(h.c) AS c
      FROM p, wmn_hist_pairs(p.hist) AS h
     GROUP BY 1, 2, 3, 4
  ),
  cum AS (
    SELECT b.*, sum(b.c) OVER (PARTITION BY b.agent, b.source, b.phase ORDER BY b.bin) AS below,
           sum(b.c) OVER (PARTITION BY b.agent, b.source, b.phase) AS n
      FROM bins b
  ),
  q AS (
    SELECT agent, source, phase,
           min(bin) FILTER (WHERE below >= 0.50 * n) AS b50,
           min(bin) FILTER (WHERE below >= 0.95 * n) AS b95,
           min(bin) FILTER (WHERE below >= 0.99 * n) AS b99
      FROM cum GROUP BY 1, 2, 3
  )
  SELECT s.agent, s.source, wmn_phase_name(s.phase), s.n, s.total / s.n, s.lo, s.hi,
         least(s.hi, greatest(s.lo, wmn_hist_value(q.b50))),
         least(s.hi, greatest(s.lo, wmn_hist_value(q.b95))),
         least(s.hi, greatest(s.lo, wmn_hist_value(q.b99)))
    FROM stats s JOIN q USING (agent, source, phase)
   WHERE s.n > 0
$$;

-- The duration classes outages are counted in (durations are whole cycles, so at least 1 s).
CREATE FUNCTION wmn_duration_bucket(duration_s DOUBLE PRECISION) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN duration_s IS NULL THEN NULL WHEN duration_s < 5 THEN '1-5 s' WHEN duration_s < 30 THEN '5-30 s'
            WHEN duration_s < 300 THEN '30 s-5 min' ELSE '> 5 min' END;

-- Outages overlapping [p_from, p_to), each whole (its true start and end, even outside the range).
-- ongoing: no UP cycle has followed it yet (the agent is down, or stopped while down).
CREATE FUNCTION wmn_outages(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_agents TEXT[] DEFAULT NULL)
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
           lag(c.ts) OVER (PARTITION BY c.agent ORDER BY c.ts) AS prev_ts
      FROM bounds b JOIN wmn_cycles c ON c.agent = b.agent AND c.down AND c.ts > b.lo AND c.ts < b.hi
  ),
  marked AS (
    SELECT d.*,
           (d.prev_ts IS NULL OR EXISTS (SELECT 1 FROM wmn_cycles u
                                          WHERE u.agent = d.agent AND NOT u.down
                                            AND u.ts > d.prev_ts AND u.ts < d.ts)) AS starts
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

-- Per agent: outage count, downtime, MTTR (mean outage duration), MTBF (seconds up per outage), the
-- longest outage, and the count in each duration class, for the outages overlapping [p_from, p_to).
CREATE FUNCTION wmn_outage_summary(p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_agents TEXT[] DEFAULT NULL)
RETURNS TABLE (
  agent TEXT, outages BIGINT, down_s DOUBLE PRECISION, mttr_s DOUBLE PRECISION, mtbf_s DOUBLE PRECISION,
  longest_s DOUBLE PRECISION, longest_started_at TIMESTAMPTZ,
  "1-5 s" BIGINT, "5-30 s" BIGINT, "30 s-5 min" BIGINT, "> 5 min" BIGINT
)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH s AS (SELECT * FROM wmn_agent_summary(p_from, p_to, p_agents)),
  o AS (SELECT * FROM wmn_outages(p_from, p_to, p_agents))
  SELECT s.agent, count(o.agent), s.down_s, avg(o.duration_s),
         (s.covered_s - s.down_s) / nullif(count(o.agent), 0), max(o.duration_s),
         (array_agg(o.started_at ORDER BY o.duration_s DESC, o.started_at))[1],
         count(*) FILTER (WHERE o.bucket = '1-5 s'), count(*) FILTER (WHERE o.bucket = '5-30 s'),
         count(*) FILTER (WHERE o.bucket = '30 s-5 min'), count(*) FILTER (WHERE o.bucket = '> 5 min')
    FROM s LEFT JOIN o USING (agent)
   GROUP BY s.agent, s.down_s, s.covered_s
$$;

-- The contracted availability target p_target_pct (in %, above 0 and at most 100) applied to each agent
-- of wmn_agent_summary: met when availability (uptime_pct) − target ≥ −1e-9 percentage points (the
-- tolerance absorbs binary floating point: an exact hit is not a miss); margin_pp = availability −
-- target; allowed_down_s = the DOWN seconds the target allows within the measured time, (100 − target)
-- % of covered_s, rounded to the microsecond (100 − 99.9 is 0.09999999999999432 in binary); down_s =
-- the DOWN seconds measured; budget_left_s = allowed − down (negative: over the budget). An agent with
-- no cycle in the range has NULL availability, met and margin: nothing was measured. Any other target
-- raises invalid_parameter_value (hence plpgsql: plain SQL cannot raise).
CREATE FUNCTION wmn_sla_verdict(
  p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_target_pct DOUBLE PRECISION, p_agents TEXT[] DEFAULT NULL
)
RETURNS TABLE (
  agent TEXT, availability_pct DOUBLE PRECISION, target_pct DOUBLE PRECISION, met BOOLEAN,
  margin_pp DOUBLE PRECISION, allowed_down_s DOUBLE PRECISION, down_s DOUBLE PRECISION,
  budget_left_s DOUBLE PRECISION, coverage_pct DOUBLE PRECISION, unknown_s DOUBLE PRECISION
)
LANGUAGE plpgsql STABLE
SET jit = off
AS $$
BEGIN
  IF p_target_pct IS NULL OR NOT (p_target_pct > 0 AND p_target_pct <= 100) THEN
    RAISE EXCEPTION 'SLA target % is not a percentage above 0 and at most 100', coalesce(p_target_pct::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT s.agent, s.uptime_pct, p_target_pct, s.uptime_pct - p_target_pct >= -1e-9,
           s.uptime_pct - p_target_pct, b.allowed_s, s.down_s, b.allowed_s - s.down_s, s.coverage_pct,
           s.unknown_s
      FROM wmn_agent_summary(p_from, p_to, p_agents) AS s
     CROSS JOIN LATERAL (SELECT round((100 - p_target_pct) / 100 * s.covered_s * 1e6) / 1e6 AS allowed_s) AS b;
END
$$;

-- The rollup grain a chart step can use: cycles below a minute, minutes below an hour, else hours.
CREATE FUNCTION wmn_grain(p_step INTERVAL) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN p_step IS NULL THEN NULL WHEN p_step >= interval '1 hour' THEN 'hour' WHEN p_step >= interval '1 minute' THEN 'minute'
            ELSE 'raw' END;

-- Per agent and time step: cycles, DOWN cycles, uptime and coverage, for charts. The step is rounded
-- to whole seconds (at least 1 s); Grafana passes its $__interval.
CREATE FUNCTION wmn_agent_series(
  p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_step INTERVAL, p_agents TEXT[] DEFAULT NULL
)
RETURNS TABLE (
  agent TEXT, "time" TIMESTAMPTZ, cycles BIGINT, down_cycles BIGINT, uptime_pct DOUBLE PRECISION,
  coverage_pct DOUBLE PRECISION, down_s DOUBLE PRECISION
)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH st AS (SELECT greatest(interval '1 second', date_trunc('second', p_step)) AS step),
  parts AS (
    SELECT a.agent, a.bucket AS ts, a.cycles, a.down_cycles, a.covered_s, a.down_s FROM wmn_agent_hour a
     WHERE wmn_grain(p_step) = 'hour' AND a.bucket >= date_trunc('hour', p_from, 'UTC') AND a.bucket < p_to
    UNION ALL
    SELECT a.agent, a.bucket, a.cycles, a.down_cycles, a.covered_s, a.down_s FROM wmn_agent_minute a
     WHERE wmn_grain(p_step) = 'minute' AND a.bucket >= date_trunc('minute', p_from, 'UTC') AND a.bucket < p_to
    UNION ALL
    SELECT c.agent, c.ts, 1, c.down::int, c.interval_s, CASE WHEN c.down THEN c.interval_s ELSE 0 END
      FROM wmn_cycles c
     WHERE wmn_grain(p_step) = 'raw' AND c.ts >= p_from AND c.ts < p_to
  )
  SELECT p.agent, date_bin(st.step, p.ts, timestamptz '2000-01-01 00:00:00+00') AS t,
         sum(p.cycles)::bigint, sum(p.down_cycles)::bigint,
         100 * (sum(p.cycles) - sum(p.down_cycles))::float8 / nullif(sum(p.cycles), 0),
         -- Coverage of the part of each step inside [p_from, p_to): the edge steps are partial.
         least(100, 100 * sum(p.covered_s)
                    / extract(epoch FROM least(date_bin(st.step, p.ts, timestamptz '2000-01-01 00:00:00+00') + st.step, p_to)
                                          - greatest(date_bin(st.step, p.ts, timestamptz '2000-01-01 00:00:00+00'),
                                                     p_from))), sum(p.down_s)
    FROM parts p CROSS JOIN st
   WHERE p_agents IS NULL OR p.agent = ANY (p_agents)
   GROUP BY p.agent, t, st.step
   ORDER BY t, p.agent
$$;

-- Per agent, source and time step: probes, loss and mean phase durations, for charts.
CREATE FUNCTION wmn_source_series(
  p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_step INTERVAL, p_agents TEXT[] DEFAULT NULL,
  p_sources TEXT[] DEFAULT NULL
)
RETURNS TABLE (
  agent TEXT, source TEXT, "time" TIMESTAMPTZ, probes BIGINT, failed BIGINT, loss_pct DOUBLE PRECISION,
  dns_ms DOUBLE PRECISION, connect_ms DOUBLE PRECISION, tls_ms DOUBLE PRECISION, ttfb_ms DOUBLE PRECISION,
  total_ms DOUBLE PRECISION, total_max_ms DOUBLE PRECISION
)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH st AS (SELECT greatest(interval '1 second', date_trunc('second', p_step)) AS step),
  parts AS (
    SELECT r.agent, r.source, r.bucket AS ts, r.probes, r.failed, r.dns_n, r.dns_sum, r.connect_n,
           r.connect_sum, r.tls_n, r.tls_sum, r.ttfb_n, r.ttfb_sum, r.total_n, r.total_sum, r.total_max
      FROM wmn_source_hour r
     WHERE wmn_grain(p_step) = 'hour' AND r.bucket >= date_trunc('hour', p_from, 'UTC') AND r.bucket < p_to
    UNION ALL
    SELECT r.agent, r.source, r.bucket, r.probes, r.failed, r.dns_n, r.dns_sum, r.connect_n,
           r.connect_sum, r.tls_n, r.tls_sum, r.ttfb_n, r.ttfb_sum, r.total_n, r.total_sum, r.total_max
      FROM wmn_source_minute r
     WHERE wmn_grain(p_step) = 'minute' AND r.bucket >= date_trunc('minute', p_from, 'UTC') AND r.bucket < p_to
    UNION ALL
    SELECT f.agent, f.source, f.ts, 1, f.disconnected::int, (f.dns_ms IS NOT NULL)::int, f.dns_ms,
           (f.connect_ms IS NOT NULL)::int, f.connect_ms, (f.tls_ms IS NOT NULL)::int, f.tls_ms,
           (f.ttfb_ms IS NOT NULL)::int, f.ttfb_ms, (f.total_ms IS NOT NULL)::int, f.total_ms, f.total_ms
      FROM favicon_metrics f
     WHERE wmn_grain(p_step) = 'raw' AND f.ts >= p_from AND f.ts < p_to
  )
  SELECT p.agent, p.source, date_bin(st.step, p.ts, timestamptz '2000-01-01 00:00:00+00') AS t,
         sum(p.probes)::bigint, sum(p.failed)::bigint,
         100 * sum(p.failed)::float8 / nullif(sum(p.probes), 0),
         sum(p.dns_sum) / nullif(sum(p.dns_n), 0), sum(p.connect_sum) / nullif(sum(p.connect_n), 0),
         sum(p.tls_sum) / nullif(sum(p.tls_n), 0), sum(p.ttfb_sum) / nullif(sum(p.ttfb_n), 0),
         sum(p.total_sum) / nullif(sum(p.total_n), 0), max(p.total_max)
    FROM parts p CROSS JOIN st
   WHERE (p_agents IS NULL OR p.agent = ANY (p_agents)) AND (p_sources IS NULL OR p.source = ANY (p_sources))
   GROUP BY p.agent, p.source, t, st.step
   ORDER BY t, p.agent, p.source
$$;

-- The latency distribution of one phase per time step ("smoke" / heatmap): one row per non-empty
-- histogram bin, `le_ms` its upper bound, for Grafana's heatmap panel.
CREATE FUNCTION wmn_latency_heatmap(
  p_from TIMESTAMPTZ, p_to TIMESTAMPTZ, p_step INTERVAL, p_phase TEXT DEFAULT 'total',
  p_agents TEXT[] DEFAULT NULL, p_sources TEXT[] DEFAULT NULL
)
RETURNS TABLE ("time" TIMESTAMPTZ, le_ms DOUBLE PRECISION, count BIGINT)
LANGUAGE sql STABLE
SET jit = off
AS $$
  WITH st AS (SELECT greatest(interval '1 second', date_trunc('second', p_step)) AS step),
  ph AS (SELECT array_position(ARRAY['dns', 'connect', 'tls', 'ttfb', 'total'], p_phase) - 1 AS phase),
  parts AS (
    SELECT r.bucket AS ts, h.k % 1000 AS bin, h.c
      FROM wmn_source_hour r, wmn_hist_pairs(r.hist) AS h, ph
     WHERE wmn_grain(p_step) = 'hour' AND r.bucket >= date_trunc('hour', p_from, 'UTC') AND r.bucket < p_to
       AND (p_agents IS NULL OR r.agent = ANY (p_agents)) AND (p_sources IS NULL OR r.source = ANY (p_sources))
       AND h.k / 1000 = ph.phase
    UNION ALL
    SELECT r.bucket, h.k % 1000, h.c
      FROM wmn_source_minute r, wmn_hist_pairs(r.hist) AS h, ph
     WHERE wmn_grain(p_step) = 'minute' AND r.bucket >= date_trunc('minute', p_from, 'UTC') AND r.bucket < p_to
       AND (p_agents IS NULL OR r.agent = ANY (p_agents)) AND (p_sources IS NULL OR r.source = ANY (p_sources))
       AND h.k / 1000 = ph.phase
    UNION ALL
    SELECT f.ts, wmn_hist_bin(x.ms), 1
      FROM favicon_metrics f, ph,
           LATERAL (VALUES (0, f.dns_ms), (1, f.connect_ms), (2, f.tls_ms), (3, f.ttfb_ms), (4, f.total_ms))
             AS x(phase, ms)
     WHERE wmn_grain(p_step) = 'raw' AND f.ts >= p_from AND f.ts < p_to
       AND (p_agents IS NULL OR f.agent = ANY (p_agents)) AND (p_sources IS NULL OR f.source = ANY (p_sources))
       AND x.phase = ph.phase AND x.ms IS NOT NULL
  )
  SELECT date_bin(st.step, p.ts, timestamptz '2000-01-01 00:00:00+00') AS t, wmn_hist_upper(p.bin),
         sum(p.c)::bigint
    FROM parts p CROSS JOIN st
   GROUP BY t, p.bin
   ORDER BY t, p.bin
$$;

-- Each agent's state now: UP or DOWN as of its latest cycle and since when (the start of the current
-- run of UP or DOWN cycles), or STALE when its latest cycle is older than three intervals (10 s at least).
CREATE VIEW wmn_agent_state AS
  SELECT a.agent, l.ts AS last_cycle_at, l.interval_s,
         CASE WHEN l.ts + greatest(interval '10 seconds', 3 * make_interval(secs => l.interval_s)) < now()
              THEN 'STALE' WHEN l.down THEN 'DOWN' ELSE 'UP' END AS state,
         coalesce((SELECT min(c.ts) FROM wmn_cycles c
                    WHERE c.agent = a.agent AND c.down = l.down
                      AND c.ts > coalesce((SELECT max(o.ts) FROM wmn_cycles o
                                            WHERE o.agent = a.agent AND o.down <> l.down), '-infinity')),
                  l.ts) AS since,
         l.down AS last_cycle_down
    FROM (SELECT DISTINCT agent FROM wmn_agent_hour) AS a
    CROSS JOIN LATERAL (SELECT c.ts, c.down, c.interval_s FROM wmn_cycles c
                         WHERE c.agent = a.agent ORDER BY c.ts DESC LIMIT 1) AS l;
