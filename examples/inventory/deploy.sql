-- inventory: migrations applied in plan order, gated by tests, then
-- online index builds that cannot run inside a transaction.
--
-- The head (everything up to the first top-level COMMIT) is one
-- transaction: if a migration or a test fails, nothing is left behind.
BEGIN;

-- A ledger of applied migrations, so a re-deploy applies only new files.
CREATE TABLE IF NOT EXISTS schema_migration (
    id         uuid PRIMARY KEY,
    path       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE
    step record;
BEGIN
    -- pgmi_plan_view lists every file once per sort key, in byte order.
    -- Files with <pgmi-meta> carry their own id and sort keys.
    FOR step IN
        SELECT p.path, p.content, p.checksum, COALESCE(p.id, p.generic_id) AS id, p.idempotent
        FROM pg_temp.pgmi_plan_view p
        WHERE p.path ~ '^\./(migrations|functions)/.*\.sql$'
        ORDER BY p.execution_order
    LOOP
        IF NOT step.idempotent AND EXISTS (SELECT 1 FROM schema_migration m WHERE m.id = step.id) THEN
            CONTINUE;  -- a one-shot migration that already ran
        END IF;
        IF step.idempotent AND EXISTS (SELECT 1 FROM schema_migration m
                                       WHERE m.id = step.id AND m.checksum = step.checksum) THEN
            CONTINUE;  -- a re-runnable file that has not changed
        END IF;
        RAISE NOTICE 'applying %', step.path;
        EXECUTE step.content;
        INSERT INTO schema_migration (id, path, checksum) VALUES (step.id, step.path, step.checksum)
        ON CONFLICT (id) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now();
    END LOOP;
END
$$;

-- Run every test under __test__/ inside savepoints: fixtures first, each test
-- rolled back afterwards. A failing test aborts the whole head.
CALL pgmi_test();

COMMIT;

-- The tail: each statement below runs and commits on its own, like psql.
CREATE INDEX CONCURRENTLY IF NOT EXISTS order_line_product_idx ON order_line (product_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS product_sku_lower_idx ON product (lower(sku));
