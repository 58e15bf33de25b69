-- Probe kinds, layers and the per-cycle diagnosis (fault localisation).
--
-- favicon_metrics gains, all nullable (rows written before stay as they are):
--   layer        where the source sits: lan | isp | dns | internet | service (NULL: written before
--                layers existed, counts as the internet)
--   diagnosis    the cycle's diagnosis, the same on every row of a cycle, like ts:
--                ok | lan | isp | dns | partial | ipv6 | down
--   cert_expiry  https: earliest notAfter of the certificates presented
--   rtt_ms       icmp: every echo's round trip in order, NULL for one lost (loss and jitter per cycle)
-- Adding nullable columns without a default rewrites nothing: instant on a table of any size.
ALTER TABLE favicon_metrics
  ADD COLUMN IF NOT EXISTS layer TEXT,
  ADD COLUMN IF NOT EXISTS diagnosis TEXT,
  ADD COLUMN IF NOT EXISTS cert_expiry TIMESTAMPTZ,
  ADD COLUMN IF NOT EXISTS rtt_ms DOUBLE PRECISION[];

ALTER TABLE wmn_cycles ADD COLUMN IF NOT EXISTS diagnosis TEXT;
-- Cycles that were not ok are few: Grafana's diagnosis timeline reads them without walking every cycle.
CREATE INDEX IF NOT EXISTS wmn_cycles_diagnosis_idx ON wmn_cycles (agent, ts) WHERE diagnosis <> 'ok';

-- Whether a row's source decides UP/DOWN: the gateway or the ISP's edge answering does not make the
-- internet work, so `lan` and `isp` sources are evidence only.
CREATE FUNCTION wmn_is_reach(layer TEXT) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT layer IS NULL OR layer NOT IN ('lan', 'isp') $$;

-- A cycle is DOWN when every source of the internet layers failed; a cycle with no such source (a
-- configuration of only icmp://gateway) is judged on all of its sources. `sources` and `failed` count
-- the deciding rows, so wmn_cycles.down keeps its definition (failed = sources).
DROP FUNCTION wmn_cycles_of(favicon_metrics[]);
CREATE FUNCTION wmn_cycles_of(raw favicon_metrics[])
RETURNS TABLE (
  agent TEXT, probe_id BIGINT, ts TIMESTAMPTZ, interval_s DOUBLE PRECISION, sources INTEGER, failed INTEGER,
  errors TEXT[], diagnosis TEXT
)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT r.agent, r.probe_id, min(r.ts), coalesce(min(a.interval_s), 1),
         CASE WHEN bool_or(wmn_is_reach(r.layer)) THEN count(*) FILTER (WHERE wmn_is_reach(r.layer))
              ELSE count(*) END::int,
         CASE WHEN bool_or(wmn_is_reach(r.layer))
              THEN count(*) FILTER (WHERE wmn_is_reach(r.layer) AND r.disconnected)
              ELSE count(*) FILTER (WHERE r.disconnected) END::int,
         coalesce(array_agg(DISTINCT r.error ORDER BY r.error) FILTER (WHERE r.error IS NOT NULL), '{}'),
         max(r.diagnosis)
    FROM unnest(raw) AS r
    LEFT JOIN wmn_agents a ON a.agent = r.agent
   GROUP BY r.agent, r.probe_id
$$;

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
  SELECT array_agg(agent), array_agg(minute) INTO agents, minutes
    FROM (SELECT DISTINCT r.agent, date_trunc('minute', r.ts, 'UTC') AS minute FROM unnest(raw) AS r) AS k;
  PERFORM wmn_refresh_agent_rollups(agents, minutes);
END
$$;

-- The diagnosis of an outage of one agent over [p_from, p_to): the most frequent among its DOWN cycles
-- (kept after retention deletes the raw rows).
CREATE FUNCTION wmn_outage_diagnosis(p_agent TEXT, p_from TIMESTAMPTZ, p_to TIMESTAMPTZ) RETURNS TEXT
LANGUAGE sql STABLE
SET jit = off
AS $$
  SELECT mode() WITHIN GROUP (ORDER BY c.diagnosis)
    FROM wmn_cycles c
   WHERE c.agent = p_agent AND c.down AND c.ts >= p_from AND c.ts < p_to AND c.diagnosis IS NOT NULL
$$;

-- The evidence behind it, per source over the outage: did it answer at all, its layer, its most frequent
-- failure class. Read from raw rows, so empty once retention has deleted them.
CREATE FUNCTION wmn_outage_evidence(p_agent TEXT, p_from TIMESTAMPTZ, p_to TIMESTAMPTZ)
RETURNS TABLE (source TEXT, layer TEXT, answered BOOLEAN, error TEXT)
LANGUAGE sql STABLE
SET jit = off
AS $$
  SELECT f.source, max(f.layer), bool_or(NOT f.disconnected),
         mode() WITHIN GROUP (ORDER BY f.error)
    FROM favicon_metrics f
   WHERE f.agent = p_agent AND f.ts >= p_from AND f.ts < p_to
   GROUP BY f.source
   ORDER BY f.source
$$;

-- Days until each https source's certificate expires, as of the source's latest row that has one
-- (one index probe per registered source, newest first).
CREATE FUNCTION wmn_cert_expiry(p_agents TEXT[] DEFAULT NULL)
RETURNS TABLE (agent TEXT, source TEXT, cert_expiry TIMESTAMPTZ, days_left DOUBLE PRECISION, seen_at TIMESTAMPTZ)
LANGUAGE sql STABLE
SET jit = off
AS $$
  SELECT a.agent, s.source, l.cert_expiry, extract(epoch FROM l.cert_expiry - now())::float8 / 86400, l.ts
    FROM wmn_agents a
   CROSS JOIN LATERAL unnest(a.sources) AS s(source)
   CROSS JOIN LATERAL (SELECT f.cert_expiry, f.ts FROM favicon_metrics f
                        WHERE f.source = s.source AND f.agent = a.agent AND f.cert_expiry IS NOT NULL
                        ORDER BY f.ts DESC LIMIT 1) AS l
   WHERE s.source LIKE 'https://%' AND (p_agents IS NULL OR a.agent = ANY (p_agents))
   ORDER BY a.agent, s.source
$$;
