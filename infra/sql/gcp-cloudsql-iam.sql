-- Cloud SQL for PostgreSQL with IAM database authentication: what the pgmi
-- function's service account may do once it has logged in.
--
-- infra/gcp creates the IAM database user (google_sql_user, type
-- CLOUD_IAM_SERVICE_ACCOUNT) and grants roles/cloudsql.client and
-- roles/cloudsql.instanceUser on this instance only. A new IAM user has no
-- privileges in PostgreSQL; this file grants what a deploy needs.
--
-- Prerequisite: the instance flag cloudsql.iam_authentication=on.
--
-- Run as the postgres user (or another member of cloudsqlsuperuser),
-- connected to the target database, for example through the Cloud SQL Auth
-- Proxy:
--
--   psql "host=127.0.0.1 dbname=app user=postgres" \
--        -v deployer=pgmi-deployer@my-project.iam -v database=app -f infra/sql/gcp-cloudsql-iam.sql
--
-- deployer is the service account's e-mail without ".gserviceaccount.com"
-- (terraform output db_user).

\set ON_ERROR_STOP on

-- Terraform created the user; stop here if it did not.
SELECT 1 / count(*) AS iam_user_exists FROM pg_roles WHERE rolname = :'deployer';

\ir deployer-grants.sql
