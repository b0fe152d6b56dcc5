-- Amazon RDS / Aurora PostgreSQL with IAM database authentication: the login
-- role of the pgmi Lambda function.
--
-- Prerequisites: IAM database authentication enabled on the instance or
-- cluster; infra/aws applied (it grants rds-db:connect on exactly
-- dbuser:<resource id>/<deployer> to the function's role).
--
-- Run as the master user, connected to the target database:
--
--   psql "host=<endpoint> dbname=app user=postgres sslmode=verify-full sslrootcert=global-bundle.pem" \
--        -v deployer=pgmi_deployer -v database=app -f infra/sql/aws-rds-iam.sql
--
-- deployer must equal the module's db_user (PGUSER), case included.

\set ON_ERROR_STOP on

-- A login role without a password: it can only log in with an IAM token.
SELECT format('CREATE ROLE %I LOGIN', :'deployer')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'deployer')
\gexec

-- rds_iam makes RDS check the login against IAM instead of a password. It
-- grants nothing inside the database.
GRANT rds_iam TO :"deployer";

\ir deployer-grants.sql
