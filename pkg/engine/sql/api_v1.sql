-- pgmi session API v1: the views and the test generator deploy.sql uses.
-- Sent as one simple-query message after files and parameters are loaded.

CREATE OR REPLACE TEMP VIEW pgmi_source_view AS SELECT * FROM pg_temp._pgmi_source;
CREATE OR REPLACE TEMP VIEW pgmi_parameter_view AS SELECT * FROM pg_temp._pgmi_parameter;
CREATE OR REPLACE TEMP VIEW pgmi_test_source_view AS SELECT * FROM pg_temp._pgmi_test_source;
CREATE OR REPLACE TEMP VIEW pgmi_test_directory_view AS SELECT * FROM pg_temp._pgmi_test_directory;
CREATE OR REPLACE TEMP VIEW pgmi_source_metadata_view AS SELECT * FROM pg_temp._pgmi_source_metadata;

-- Every loaded file, once per sort key (its path when it declares none), in
-- byte order of the key and then of the path.
CREATE OR REPLACE TEMP VIEW pgmi_plan_view AS
SELECT s.path,
       s.content,
       s.pgmi_checksum AS checksum,
       md5(s.path::bytea)::uuid AS generic_id,
       m.id,
       COALESCE(m.idempotent, true) AS idempotent,
       COALESCE(m.description, '') AS description,
       k.sort_key,
       row_number() OVER (ORDER BY k.sort_key COLLATE "C", s.path COLLATE "C") AS execution_order
FROM pg_temp._pgmi_source s
LEFT JOIN pg_temp._pgmi_source_metadata m ON m.path = s.path
CROSS JOIN LATERAL unnest(COALESCE(NULLIF(m.sort_keys, '{}'::text[]), ARRAY[s.path])) AS k(sort_key);

GRANT SELECT ON pg_temp.pgmi_source_view, pg_temp.pgmi_parameter_view, pg_temp.pgmi_test_source_view,
  pg_temp.pgmi_test_directory_view, pg_temp.pgmi_source_metadata_view, pg_temp.pgmi_plan_view TO PUBLIC;

-- The text CALL pgmi_test(pattern, callback) expands to: every step of the
-- plan as plain statements, each test inside a savepoint that is rolled back,
-- each directory's fixtures inside a savepoint released at its teardown.
CREATE OR REPLACE FUNCTION pg_temp.pgmi_test_generate(p_pattern text DEFAULT NULL,
                                           p_callback text DEFAULT 'pg_temp.pgmi_test_callback') RETURNS text
LANGUAGE plpgsql AS $pgmi$
DECLARE
  v_cb text := COALESCE(p_callback, 'pg_temp.pgmi_test_callback');
  v_lines text[] := ARRAY[]::text[];
  v_counter integer := 0;
  v_dir_sp jsonb := '{}';
  v_test_sp jsonb := '{}';
  v_last integer := 0;
  v_step record;
BEGIN
  IF v_cb !~ '^[a-zA-Z_][a-zA-Z0-9_]*([.][a-zA-Z_][a-zA-Z0-9_]*)?$' THEN
    RAISE EXCEPTION 'Invalid callback name: %', v_cb USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pg_temp.pgmi_validate_pattern(p_pattern);
  FOR v_step IN SELECT * FROM pg_temp.pgmi_test_plan(p_pattern) ORDER BY ordinal LOOP
    IF v_lines = ARRAY[]::text[] THEN
      v_lines := v_lines || format('SELECT %s(ROW(%L, NULL, %L, 0, 0, NULL)::pg_temp.pgmi_test_event);', v_cb, 'suite_start', '');
    END IF;
    v_last := v_step.ordinal;
    IF v_step.step_type = 'fixture' THEN
      v_counter := v_counter + 1;
      v_dir_sp := v_dir_sp || jsonb_build_object(v_step.directory, format('__pgmi_d%s__', v_counter));
      v_lines := v_lines || format('SAVEPOINT %s;', v_dir_sp ->> v_step.directory);
      v_lines := v_lines || format('SELECT %s(ROW(%L, %L, %L, %s, %s, NULL)::pg_temp.pgmi_test_event);',
        v_cb, 'fixture_start', v_step.script_path, v_step.directory, v_step.depth, v_step.ordinal);
      v_lines := v_lines || format('SELECT pg_temp.pgmi_run_test_source(%L);', v_step.script_path);
      v_lines := v_lines || format('SELECT %s(ROW(%L, %L, %L, %s, %s, NULL)::pg_temp.pgmi_test_event);',
        v_cb, 'fixture_end', v_step.script_path, v_step.directory, v_step.depth, v_step.ordinal);
    ELSIF v_step.step_type = 'test' THEN
      IF NOT v_dir_sp ? v_step.directory THEN
        v_counter := v_counter + 1;
        v_dir_sp := v_dir_sp || jsonb_build_object(v_step.directory, format('__pgmi_d%s__', v_counter));
        v_lines := v_lines || format('SAVEPOINT %s;', v_dir_sp ->> v_step.directory);
      END IF;
      IF NOT v_test_sp ? v_step.directory THEN
        v_counter := v_counter + 1;
        v_test_sp := v_test_sp || jsonb_build_object(v_step.directory, format('__pgmi_t%s__', v_counter));
        v_lines := v_lines || format('SAVEPOINT %s;', v_test_sp ->> v_step.directory);
      END IF;
      v_lines := v_lines || format('SELECT %s(ROW(%L, %L, %L, %s, %s, NULL)::pg_temp.pgmi_test_event);',
        v_cb, 'test_start', v_step.script_path, v_step.directory, v_step.depth, v_step.ordinal);
      v_lines := v_lines || format('SELECT pg_temp.pgmi_run_test_source(%L);', v_step.script_path);
      v_lines := v_lines || format('SELECT %s(ROW(%L, %L, %L, %s, %s, NULL)::pg_temp.pgmi_test_event);',
        v_cb, 'test_end', v_step.script_path, v_step.directory, v_step.depth, v_step.ordinal);
      v_lines := v_lines || format('SELECT %s(ROW(%L, %L, %L, %s, %s, NULL)::pg_temp.pgmi_test_event);',
        v_cb, 'rollback', v_step.script_path, v_step.directory, v_step.depth, v_step.ordinal);
      v_lines := v_lines || format('ROLLBACK TO SAVEPOINT %s;', v_test_sp ->> v_step.directory);
    ELSE
      v_lines := v_lines || format('SELECT %s(ROW(%L, NULL, %L, %s, %s, NULL)::pg_temp.pgmi_test_event);',
        v_cb, 'teardown_start', v_step.directory, v_step.depth, v_step.ordinal);
      IF v_dir_sp ? v_step.directory THEN
        v_lines := v_lines || format('ROLLBACK TO SAVEPOINT %s;', v_dir_sp ->> v_step.directory);
        v_lines := v_lines || format('RELEASE SAVEPOINT %s;', v_dir_sp ->> v_step.directory);
      END IF;
      v_lines := v_lines || format('SELECT %s(ROW(%L, NULL, %L, %s, %s, NULL)::pg_temp.pgmi_test_event);',
        v_cb, 'teardown_end', v_step.directory, v_step.depth, v_step.ordinal);
    END IF;
  END LOOP;
  IF v_lines = ARRAY[]::text[] THEN
    IF p_pattern IS NULL THEN
      RETURN 'DO $__pgmi_no_tests__$ BEGIN RAISE EXCEPTION ''pgmi: no tests were discovered'' USING HINT = '
        '''pgmi_test() ran nothing. Tests are *.sql files under a __test__/ directory; remove the call if this project has none.'', '
        'ERRCODE = ''no_data_found''; END $__pgmi_no_tests__$;';
    END IF;
    RETURN 'DO $__pgmi_no_tests__$ BEGIN RAISE EXCEPTION ''pgmi: no tests matched the requested pattern'' USING HINT = '
      '''pgmi_test(pattern) ran nothing. Check the pattern against pg_temp.pgmi_test_source_view.'', '
      'ERRCODE = ''no_data_found''; END $__pgmi_no_tests__$;';
  END IF;
  v_lines := v_lines || format('SELECT %s(ROW(%L, NULL, %L, 0, %s, NULL)::pg_temp.pgmi_test_event);', v_cb, 'suite_end', '', v_last);
  RETURN array_to_string(v_lines, E'\n');
END
$pgmi$;
