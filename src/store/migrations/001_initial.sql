-- The seed's measurement table with wmn's additions (DESIGN.md, "Data contract").
--
-- Two starting points end in the same schema:
--   * an empty database: the CREATE TABLE below, exactly as the data contract;
--   * a database the original (Rust) wmn wrote to: its table is kept, with its rows, and upgraded in
--     place. Existing rows get the name of the agent running this migration, which the migrator puts in
--     the transaction-local setting `wmn.agent`.

DO $$
DECLARE
  agent_name text := nullif(current_setting('wmn.agent', true), '');
  seed_pkey  text;
BEGIN
  -- Nothing to upgrade: no table yet, or it already has wmn's columns.
  IF to_regclass('favicon_metrics') IS NULL OR EXISTS (
    SELECT 1 FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = 'favicon_metrics' AND column_name = 'agent'
  ) THEN
    RETURN;
  END IF;

  IF agent_name IS NULL THEN
    RAISE EXCEPTION 'upgrading the original favicon_metrics table needs the agent name for its rows'
      USING HINT = 'run `wmn migrate`, or SET wmn.agent = ''<name>'' before running this file by hand';
  END IF;

  ALTER TABLE favicon_metrics
    ADD COLUMN agent TEXT,
    ADD COLUMN error TEXT,
    ADD COLUMN remote_ip INET;
  UPDATE favicon_metrics SET agent = agent_name;
  ALTER TABLE favicon_metrics ALTER COLUMN agent SET NOT NULL;

  -- The seed declared its key inline, so its name is PostgreSQL's choice: look it up rather than guess.
  SELECT conname INTO seed_pkey
    FROM pg_constraint
   WHERE conrelid = 'favicon_metrics'::regclass AND contype = 'p';
  IF seed_pkey IS NOT NULL THEN
    EXECUTE format('ALTER TABLE favicon_metrics DROP CONSTRAINT %I', seed_pkey);
  END IF;
  ALTER TABLE favicon_metrics ADD PRIMARY KEY (agent, probe_id, source);
END
$$;

CREATE TABLE IF NOT EXISTS favicon_metrics (
    ts           TIMESTAMPTZ NOT NULL DEFAULT now(),
    probe_id     BIGINT NOT NULL,
    source       TEXT NOT NULL,
    dns_ms       DOUBLE PRECISION,
    connect_ms   DOUBLE PRECISION,
    tls_ms       DOUBLE PRECISION,
    ttfb_ms      DOUBLE PRECISION,
    total_ms     DOUBLE PRECISION,
    status       INTEGER,
    disconnected BOOLEAN NOT NULL,
    agent        TEXT NOT NULL,
    error        TEXT,
    remote_ip    INET,
    PRIMARY KEY (agent, probe_id, source)
);

-- The first two names are the ones PostgreSQL gave the seed's unnamed indexes, so an upgraded
-- database keeps its indexes instead of gaining duplicates.
CREATE INDEX IF NOT EXISTS favicon_metrics_ts_idx ON favicon_metrics (ts);
CREATE INDEX IF NOT EXISTS favicon_metrics_source_ts_idx ON favicon_metrics (source, ts);
CREATE INDEX IF NOT EXISTS favicon_metrics_agent_ts_idx ON favicon_metrics (agent, ts);
