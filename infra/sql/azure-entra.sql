-- Azure Database for PostgreSQL flexible server with Microsoft Entra ID: map
-- the pgmi function's user-assigned managed identity to a PostgreSQL role,
-- then grant it what a deploy needs.
--
-- Prerequisites: Entra authentication enabled on the server; you are its
-- Entra administrator (infra/azure's entra_admin, or set in the portal),
-- logged in with a token as the password:
--
--   export PGPASSWORD=$(az account get-access-token --resource-type oss-rdbms --query accessToken -o tsv)
--   psql "host=<server>.postgres.database.azure.com dbname=postgres user=<admin name> sslmode=require" \
--        -v deployer=<identity name> -v principal_id=<identity object id> -v database=app \
--        -f infra/sql/azure-entra.sql
--
-- deployer and principal_id are terraform output identity_name and
-- identity_principal_id. The file starts in the postgres database (where
-- Entra principals are created) and then connects to the target database.

\set ON_ERROR_STOP on

-- The role is created from the identity's object id, so a second identity
-- with the same display name cannot take its place. (With a unique name,
-- pgaadauth_create_principal(:'deployer', false, false) does the same.)
-- Not an admin, no MFA: a managed identity cannot do MFA.
SELECT format('SELECT * FROM pgaadauth_create_principal_with_oid(%L, %L, %L, false, false)', :'deployer', :'principal_id', 'service')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'deployer')
\gexec

\connect :"database"
\ir deployer-grants.sql
