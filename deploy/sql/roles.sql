-- Least-privilege roles for wmn on a PostgreSQL server (docs/security.md explains each grant).
--
--   wmn_writer  the agent: appends rows to favicon_metrics, reads them, registers itself; cannot
--               delete (but through retention), update, alter or drop anything, nor create tables
--   wmn_reader  Grafana and reports: SELECT only
--
-- Run it with psql, connected to wmn's database as the role that ran `wmn migrate` (the tables' owner)
-- or a superuser, after `wmn migrate` and again after every upgrade that adds a migration:
--
--   psql "postgres://admin@db.example.com/wmn" -f deploy/sql/roles.sql
--
-- It is idempotent. Role names can be changed with psql variables, e.g. -v writer=wmn_writer_home
-- (also: reader, schema, and owner: the role whose future tables and views the reader may read).
-- The roles get no password here: set one with psql's \password (it sends only a hash, so the
-- password appears in no log and no shell history).

\set ON_ERROR_STOP on

\if :{?writer}
\else
  \set writer wmn_writer
\endif
\if :{?reader}
\else
  \set reader wmn_reader
\endif
\if :{?schema}
\else
  \set schema public
\endif
\if :{?owner}
\else
  \set owner :USER
\endif

-- Roles are created only if missing (CREATE ROLE has no IF NOT EXISTS); LOGIN, nothing else.
SELECT format('CREATE ROLE %I LOGIN', :'writer')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'writer') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'reader')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \gexec

-- PostgreSQL before 15 lets every role create tables in the public schema: no one but the owner may.
REVOKE CREATE ON SCHEMA :"schema" FROM PUBLIC;

GRANT CONNECT ON DATABASE :"DBNAME" TO :"writer", :"reader";
GRANT USAGE ON SCHEMA :"schema" TO :"writer", :"reader";

-- The agent: one INSERT ... ON CONFLICT DO NOTHING per cycle; SELECT to read back what it wrote and
-- to check at start that the schema is current (the migration ledger).
GRANT SELECT, INSERT ON :"schema".favicon_metrics TO :"writer";
GRANT SELECT ON :"schema".wmn_schema_migrations TO :"writer";
-- Its interval and sources (the rollups, kept by a trigger that runs as the owner, read the interval),
-- and `retention.raw`: a function that deletes only raw rows already rolled up, older than a day.
GRANT SELECT, INSERT, UPDATE ON :"schema".wmn_agents TO :"writer";
GRANT EXECUTE ON FUNCTION :"schema".wmn_apply_retention(interval, integer) TO :"writer";

-- Grafana: read everything there is, and whatever later migrations (views, rollups) create.
GRANT SELECT ON ALL TABLES IN SCHEMA :"schema" TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"schema" GRANT SELECT ON TABLES TO :"reader";
