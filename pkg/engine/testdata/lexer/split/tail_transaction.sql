-- deploy.sql
BEGIN;
DO $$
DECLARE v RECORD;
BEGIN
  FOR v IN SELECT path, content FROM pg_temp.pgmi_plan_view ORDER BY execution_order LOOP
    EXECUTE v.content;
  END LOOP;
END $$;
COMMIT;

CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name ON users (name);

BEGIN;
UPDATE users SET name = lower(name);
COMMIT;
