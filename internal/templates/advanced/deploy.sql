-- deploy.sql: the one script pgmi runs for this project.
--
-- pgmi loads every file of the project into this session before the script
-- starts. Each deployable file carries a <pgmi-meta> block (an id, whether it
-- is idempotent, and one or more sort keys); pg_temp.pgmi_plan_view lists the
-- files in sort-key order, which is the order they run in below.
--
-- The script has two parts:
--   * the head, up to the first COMMIT: one transaction that runs the plan and
--     then the tests. A failing file or test rolls all of it back.
--   * the tail, after that COMMIT: statements that cannot run inside a
--     transaction, each executed on its own (as psql would).

BEGIN;

DO $hello$
BEGIN
  RAISE NOTICE 'Deploying to % (environment: %)', current_database(),
    COALESCE(NULLIF(current_setting('pgmi.environment', true), ''), 'unset');
END
$hello$;

-- What ran here before: one row per file id, with the checksum it last ran
-- with (pgmi's checksum ignores comments, case and whitespace outside strings).
CREATE SCHEMA IF NOT EXISTS deploy_log;

CREATE TABLE IF NOT EXISTS deploy_log.script_run (
  id          uuid PRIMARY KEY,
  path        text NOT NULL,
  checksum    text NOT NULL,
  idempotent  boolean NOT NULL,
  first_run   timestamptz NOT NULL DEFAULT now(),
  last_run    timestamptz NOT NULL DEFAULT now()
);

DO $plan$
DECLARE
  step     record;
  previous deploy_log.script_run;
  stray    text;
BEGIN
  -- An SQL file without <pgmi-meta> is not part of the plan: say so rather
  -- than skip it silently (pgmi metadata scaffold writes the block for you).
  FOR stray IN
    SELECT s.path
      FROM pg_temp.pgmi_source_view AS s
      LEFT JOIN pg_temp.pgmi_source_metadata_view AS m USING (path)
     WHERE s.is_sql_file AND m.id IS NULL
     ORDER BY s.path
  LOOP
    RAISE WARNING '% has no <pgmi-meta> block and was not deployed', stray;
  END LOOP;

  FOR step IN
    SELECT p.path, p.content, p.checksum, p.id, p.idempotent, p.sort_key
      FROM pg_temp.pgmi_plan_view AS p
     WHERE p.id IS NOT NULL
     ORDER BY p.execution_order
  LOOP
    SELECT * INTO previous FROM deploy_log.script_run AS r WHERE r.id = step.id;

    IF step.idempotent THEN
      -- Safe to repeat: runs on every deployment.
      RAISE NOTICE 'Running % (%)', step.path, step.sort_key;
      EXECUTE step.content;
    ELSIF previous.id IS NULL THEN
      -- A one-time change that has not run here yet. (A one-time file with
      -- several sort keys therefore runs at its first key only.)
      RAISE NOTICE 'Running % once (%)', step.path, step.sort_key;
      EXECUTE step.content;
    ELSIF previous.checksum <> step.checksum THEN
      RAISE EXCEPTION '% (id %) changed after it ran on this database', step.path, step.id
        USING HINT = 'One-time changes are history: add a new file with a new id instead of editing this one.';
    ELSE
      CONTINUE;
    END IF;

    INSERT INTO deploy_log.script_run AS r (id, path, checksum, idempotent)
    VALUES (step.id, step.path, step.checksum, step.idempotent)
    ON CONFLICT (id) DO UPDATE
      SET path = excluded.path, checksum = excluded.checksum,
          idempotent = excluded.idempotent, last_run = now();
  END LOOP;
END
$plan$;

-- The gate: every test under __test__/ runs here, against the new schema,
-- inside the same transaction. Each test is rolled back after it runs; if one
-- fails, the deployment stops and nothing above is committed.
CALL pgmi_test();

COMMIT;

-- Tail: from here on every statement commits on its own. Keep it to work that
-- is safe to repeat and must not hold the head's locks, such as building
-- indexes without blocking writers and refreshing planner statistics.
CREATE INDEX CONCURRENTLY IF NOT EXISTS order_line_product_idx
  ON app.order_line (product_id);

ANALYZE app.product;
ANALYZE app.order_line;
