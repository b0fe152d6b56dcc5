-- Only for servers where scheduled resets are allowed (PGMI_RESET_ALLOW):
-- a reset drops the database and creates it again, so the deployer must be
-- able to create databases and must own the one it resets. Never run this
-- against a production database.
--
-- Run as the server's admin user, connected to the maintenance database:
--
--   psql "host=… dbname=postgres user=<admin>" -v deployer=pgmi_deployer -v reset_database=app_test \
--        -f infra/sql/reset-grants.sql
--
-- Then run the cloud file (or deployer-grants.sql) for reset_database too.

\set ON_ERROR_STOP on

-- Create (and so recreate) databases. CREATEDB creates databases only; it
-- does not reach into databases owned by other roles.
ALTER ROLE :"deployer" CREATEDB;

-- Resets connect to the maintenance database to drop and create the target.
GRANT CONNECT ON DATABASE postgres TO :"deployer";

-- DROP DATABASE needs ownership. On managed servers the admin user is not a
-- superuser, and PostgreSQL 16+ lets it hand ownership only to roles it may
-- SET ROLE to; being a member of the deployer role gives the admin nothing
-- it did not have, so grant that first.
GRANT :"deployer" TO CURRENT_USER;
SELECT format('ALTER DATABASE %I OWNER TO %I', :'reset_database', :'deployer')
WHERE EXISTS (SELECT 1 FROM pg_database WHERE datname = :'reset_database')
\gexec
