-- What fleet rollouts need in the maintenance database, beyond what each
-- target database needs (deployer-grants.sql, run in every database of the
-- fleet).
--
-- Run connected to the maintenance database (postgres), as the server's
-- admin user:
--
--   psql "host=… dbname=postgres" -v deployer=pgmi_deployer -f infra/sql/fleet-grants.sql
--
-- The deployer records each rollout and its targets in schema pgmi_fleet of
-- the maintenance database and creates its tables there on first use, so it
-- owns that schema (no CREATE on the database). A fleet given as a query
-- (PGMI_ROUTES … "databases": "SELECT datname FROM pg_database …") runs that
-- query as the deployer in this database: pg_database is readable by every
-- role; a query reading an application table needs SELECT on it.

\set ON_ERROR_STOP on

GRANT CONNECT ON DATABASE postgres TO :"deployer";
CREATE SCHEMA IF NOT EXISTS pgmi_fleet AUTHORIZATION :"deployer";
ALTER SCHEMA pgmi_fleet OWNER TO :"deployer";
