-- deploy.sql: the one script pgmi runs for this project.
--
-- Before this script starts, pgmi has loaded every file of the project into
-- temporary views on this session (pg_temp.pgmi_source_view holds the files,
-- pg_temp.pgmi_test_source_view the tests). This script decides what to run.
--
-- Everything up to the first COMMIT runs as one transaction: if a migration or
-- a test fails, nothing of this deployment is kept.

BEGIN;

DO $hello$
BEGIN
  RAISE NOTICE 'Deploying to % (environment: %)', current_database(),
    COALESCE(NULLIF(current_setting('pgmi.environment', true), ''), 'unset');
END
$hello$;

-- Which migrations this database already has, and the (whitespace- and
-- comment-insensitive) checksum each had when it was applied.
CREATE TABLE IF NOT EXISTS public.schema_migration (
  path       text PRIMARY KEY,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);

-- Apply the new files of migrations/ in name order, each exactly once.
DO $migrate$
DECLARE
  m       record;
  applied text;
  fresh   integer := 0;
BEGIN
  FOR m IN
    SELECT s.path, s.content, s.pgmi_checksum
      FROM pg_temp.pgmi_source_view AS s
     WHERE s.directory = './migrations/' AND s.is_sql_file
     ORDER BY s.path COLLATE "C"
  LOOP
    SELECT sm.checksum INTO applied FROM public.schema_migration AS sm WHERE sm.path = m.path;
    IF NOT FOUND THEN
      RAISE NOTICE 'Applying %', m.path;
      EXECUTE m.content;
      INSERT INTO public.schema_migration (path, checksum) VALUES (m.path, m.pgmi_checksum);
      fresh := fresh + 1;
    ELSIF applied <> m.pgmi_checksum THEN
      RAISE EXCEPTION 'Migration % changed after it was applied', m.path
        USING HINT = 'Applied migrations are history: put the change in a new file in migrations/.';
    END IF;
  END LOOP;
  IF fresh = 0 THEN
    RAISE NOTICE 'No new migrations';
  END IF;
END
$migrate$;

-- Run every test in __test__/ against the migrated schema. Each test is rolled
-- back after it runs; a failing test fails the deployment, before the COMMIT.
CALL pgmi_test();

COMMIT;
