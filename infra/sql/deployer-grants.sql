-- What one deploy needs in one target database, and nothing more.
--
-- Run connected to the target database, as its owner or the server's admin
-- user, after the cloud file has created the login role:
--
--   psql "host=… dbname=app" -v deployer=pgmi_deployer -v database=app -f infra/sql/deployer-grants.sql
--
-- The cloud files (aws-rds-iam.sql, gcp-cloudsql-iam.sql, azure-entra.sql)
-- include this file; run it on its own for each further database a route
-- deploys to.
--
-- Variables: deployer (the login role), database (the target database),
-- ledger_schema (optional; the schema of PGMI_LEDGER_TABLE, default
-- pgmi_ledger).

\set ON_ERROR_STOP on
\if :{?ledger_schema}
\else
\set ledger_schema pgmi_ledger
\endif

-- Every deploy: open the session, and the temporary tables the engine's
-- session objects live in.
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"deployer";

-- Every deploy: the ledger. The deployer creates its table on first use, in
-- a schema it owns; creating the schema here spares it CREATE on the
-- database when deploy.sql itself creates no schema.
CREATE SCHEMA IF NOT EXISTS :"ledger_schema" AUTHORIZATION :"deployer";

-- When deploy.sql creates schemas of its own: CREATE on the database.
-- Uncomment, or run by hand.
-- GRANT CREATE ON DATABASE :"database" TO :"deployer";

-- When deploy.sql changes objects that already exist: PostgreSQL lets only an
-- object's owner ALTER or DROP it, so the deployer must own the application
-- schemas and what is in them. For a schema "app" created before pgmi:
-- ALTER SCHEMA app OWNER TO :"deployer";
-- and for each existing table, view, function and sequence in it, e.g.
-- ALTER TABLE app.orders OWNER TO :"deployer";

-- PostgreSQL 15 and later no longer let every role create objects in the
-- public schema. Only if deploy.sql creates objects there:
-- GRANT CREATE ON SCHEMA public TO :"deployer";

-- Refuse to finish when the role can do more than deploy: a role that is a
-- superuser, creates roles, bypasses row security or belongs to the
-- platform's admin role would turn every uploaded bundle into full control of
-- the server.
SELECT set_config('pgmi.check_role', :'deployer', false);
DO $check$
DECLARE
    r pg_roles%ROWTYPE;
    admin text;
BEGIN
    SELECT * INTO r FROM pg_roles WHERE rolname = current_setting('pgmi.check_role');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % does not exist', current_setting('pgmi.check_role');
    END IF;
    IF r.rolsuper OR r.rolcreaterole OR r.rolbypassrls OR r.rolreplication THEN
        RAISE EXCEPTION 'role % has SUPERUSER, CREATEROLE, BYPASSRLS or REPLICATION: a deployer needs none of them', r.rolname;
    END IF;
    SELECT string_agg(a.rolname, ', ') INTO admin
    FROM pg_roles a
    WHERE a.rolname IN ('rds_superuser', 'azure_pg_admin', 'cloudsqlsuperuser', 'pg_write_server_files', 'pg_execute_server_program', 'pg_read_server_files')
      AND pg_has_role(r.oid, a.oid, 'MEMBER');
    IF admin IS NOT NULL THEN
        RAISE EXCEPTION 'role % is a member of %: a deployer must not be', r.rolname, admin;
    END IF;
END
$check$;
