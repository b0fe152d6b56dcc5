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
-- pgmi_ledger), profile (optional; what else deploy.sql may do, see
-- README.md, the grant profiles under "What a deploy needs"):
--
--   least    (default) the session and the ledger; deploy.sql works in
--            schemas the deployer owns or was granted
--   objects  least, plus CREATE on the database (new schemas) and on the
--            public schema (objects in public)
--   roles    objects, plus CREATEROLE (deploy.sql creates its own roles);
--            PostgreSQL 16 or later only
--
-- Running the file again with a smaller profile does not revoke what a
-- larger one granted; README.md says how.

\set ON_ERROR_STOP on
\if :{?ledger_schema}
\else
\set ledger_schema pgmi_ledger
\endif
\if :{?profile}
\else
\set profile least
\endif

SELECT set_config('pgmi.profile', :'profile', false);
DO $profile$
BEGIN
    IF current_setting('pgmi.profile') NOT IN ('least', 'objects', 'roles') THEN
        RAISE EXCEPTION 'unknown grant profile "%": use least (the default), objects or roles', current_setting('pgmi.profile');
    END IF;
    IF current_setting('pgmi.profile') = 'roles' AND current_setting('server_version_num')::int < 160000 THEN
        RAISE EXCEPTION 'grant profile roles needs PostgreSQL 16 or later: before 16, CREATEROLE lets a role alter any non-superuser role and grant itself any of them, pg_execute_server_program included, which is control of the server; create the roles deploy.sql needs by hand instead and use profile objects';
    END IF;
END
$profile$;
SELECT :'profile' IN ('objects', 'roles') AS pgmi_profile_objects, :'profile' = 'roles' AS pgmi_profile_roles \gset

-- Every deploy: open the session, and the temporary tables the engine's
-- session objects live in.
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"deployer";

-- Every deploy: the ledger. The deployer creates its table on first use, in
-- a schema it owns; creating the schema here spares it CREATE on the
-- database when deploy.sql itself creates no schema.
CREATE SCHEMA IF NOT EXISTS :"ledger_schema" AUTHORIZATION :"deployer";

-- Profiles objects and roles: deploy.sql creates schemas (CREATE on the
-- database) and objects in public (PostgreSQL 15 and later no longer let
-- every role create there).
\if :pgmi_profile_objects
GRANT CREATE ON DATABASE :"database" TO :"deployer";
GRANT CREATE ON SCHEMA public TO :"deployer";
\endif

-- Profile roles: deploy.sql creates roles. From PostgreSQL 16 a CREATEROLE
-- role administers only the roles it created, and cannot grant what it
-- does not hold itself.
\if :pgmi_profile_roles
ALTER ROLE :"deployer" CREATEROLE;
\endif

-- Any profile: when deploy.sql changes objects that already exist,
-- PostgreSQL lets only an object's owner ALTER or DROP it, so the deployer
-- must own the application schemas and what is in them. For a schema "app"
-- created before pgmi:
-- ALTER SCHEMA app OWNER TO :"deployer";
-- and for each existing table, view, function and sequence in it, e.g.
-- ALTER TABLE app.orders OWNER TO :"deployer";

-- Refuse to finish when the role can do more than deploy: a role that is a
-- superuser, bypasses row security, belongs to the platform's admin role or
-- (outside profile roles) creates roles would turn every uploaded bundle into
-- more control of the server than its profile says.
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
    IF r.rolsuper OR r.rolbypassrls OR r.rolreplication THEN
        RAISE EXCEPTION 'role % has SUPERUSER, BYPASSRLS or REPLICATION: a deployer needs none of them', r.rolname;
    END IF;
    IF r.rolcreaterole AND current_setting('pgmi.profile') <> 'roles' THEN
        RAISE EXCEPTION 'role % has CREATEROLE, which only grant profile roles gives a deployer (-v profile=roles): a deployer needs none of them otherwise', r.rolname;
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
