-- The smallest pgmi project: deploy.sql is the whole plan.
-- Every other file of the project is loaded into pg_temp.pgmi_source_view,
-- and parameters arrive as pgmi.<key> session settings.
CREATE TABLE IF NOT EXISTS greeting (
    id      serial PRIMARY KEY,
    message text NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);

INSERT INTO greeting (message)
SELECT format('hello from %s (%s files in the session)',
              COALESCE(NULLIF(current_setting('pgmi.greeter', true), ''), 'pgmi'),
              (SELECT count(*) FROM pg_temp.pgmi_source_view));

DO $$
BEGIN
    RAISE NOTICE 'greeting table now has % row(s)', (SELECT count(*) FROM greeting);
END
$$;
