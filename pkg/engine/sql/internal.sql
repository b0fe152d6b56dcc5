-- pgmi session API: internal objects. Sent as one simple-query message, so the
-- whole script runs in one implicit transaction. Everything lives in pg_temp
-- and disappears with the session.

-- A session that deployed before keeps its temp schema: start clean. A fresh
-- session has no temp schema yet, and touching pg_temp would only make noise.
DO $pgmi$
BEGIN
  IF pg_my_temp_schema() <> 0 THEN
    DROP TABLE IF EXISTS pg_temp._pgmi_source_metadata, pg_temp._pgmi_test_source,
      pg_temp._pgmi_test_directory, pg_temp._pgmi_source, pg_temp._pgmi_parameter CASCADE;
    DROP TYPE IF EXISTS pg_temp.pgmi_test_event CASCADE;
  END IF;
END
$pgmi$;

-- Constraint and index names are pgmi's: one CHECK per rule, so a failing
-- row names the rule it broke.
CREATE TEMP TABLE _pgmi_parameter (
  key text PRIMARY KEY,
  value text,
  type text NOT NULL DEFAULT 'text',
  required boolean NOT NULL DEFAULT false,
  default_value text,
  description text,
  CONSTRAINT chk_key_format CHECK (key ~ '^\w+$'),
  CONSTRAINT chk_type_valid CHECK (type IN (
    'text', 'int', 'integer', 'bigint', 'numeric', 'boolean', 'bool', 'uuid', 'timestamp', 'timestamptz', 'name'))
);

CREATE TEMP TABLE _pgmi_source (
  path text PRIMARY KEY,
  name text NOT NULL,
  directory text NOT NULL,
  extension text NOT NULL,
  depth integer NOT NULL,
  content text NOT NULL,
  size_bytes bigint NOT NULL,
  checksum text NOT NULL,
  pgmi_checksum text NOT NULL,
  path_parts text[] NOT NULL,
  is_sql_file boolean NOT NULL,
  is_test_file boolean NOT NULL,
  parent_folder_name text,
  CONSTRAINT chk_path_format CHECK (path LIKE './%'),
  CONSTRAINT chk_path_no_backslash CHECK (position('\' IN path) = 0),
  CONSTRAINT chk_path_no_double_slash CHECK (position('//' IN path) = 0),
  CONSTRAINT chk_path_directory_match CHECK (path = directory || name),
  CONSTRAINT chk_path_is_not_test CHECK (path !~ '/__tests?__/'),
  CONSTRAINT chk_name_format CHECK (position('/' IN name) = 0),
  CONSTRAINT chk_name_no_whitespace_only CHECK (btrim(name) <> ''),
  CONSTRAINT chk_directory_format CHECK (directory ~ '^\./(?:[^/]+/)*$'),
  CONSTRAINT chk_directory_no_backslash CHECK (position('\' IN directory) = 0),
  CONSTRAINT chk_extension_format CHECK (extension ~ '^(\.[a-zA-Z0-9]+)?$'),
  CONSTRAINT chk_depth CHECK (depth >= 0),
  CONSTRAINT chk_depth_reasonable CHECK (depth <= 100),
  CONSTRAINT chk_depth_path_parts CHECK (array_length(path_parts, 1) = depth + 2),
  CONSTRAINT chk_size_bytes CHECK (size_bytes >= 0),
  CONSTRAINT chk_content_size_match CHECK (octet_length(content) = size_bytes),
  CONSTRAINT chk_checksum_format CHECK (checksum ~ '^[a-fA-F0-9]{32,64}$'),
  CONSTRAINT chk_pgmi_checksum_format CHECK (pgmi_checksum ~ '^[a-fA-F0-9]{32,64}$'),
  CONSTRAINT chk_path_parts_not_empty CHECK (cardinality(path_parts) > 0),
  CONSTRAINT chk_path_parts_first_element CHECK (path_parts[1] = '.'),
  CONSTRAINT chk_path_parts_last_element CHECK (path_parts[array_length(path_parts, 1)] = name),
  CONSTRAINT chk_path_parts_no_empty_strings CHECK (NOT ('' = ANY (path_parts))),
  CONSTRAINT chk_parent_folder_depth CHECK ((parent_folder_name IS NULL) = (depth = 0)),
  CONSTRAINT chk_parent_folder_no_slash CHECK (position('/' IN parent_folder_name) = 0)
);

CREATE TEMP TABLE _pgmi_source_metadata (
  path text PRIMARY KEY REFERENCES pg_temp._pgmi_source (path),
  id uuid NOT NULL,
  idempotent boolean NOT NULL,
  sort_keys text[] NOT NULL DEFAULT '{}',
  description text
);
CREATE INDEX ix_pgmi_source_metadata_sort_keys ON pg_temp._pgmi_source_metadata USING gin (sort_keys);

CREATE TEMP TABLE _pgmi_test_directory (
  path text PRIMARY KEY,
  parent_path text,
  depth integer NOT NULL DEFAULT 0,
  CONSTRAINT chk_test_dir_path_format CHECK (path LIKE './%' AND path ~ '/__tests?__/'),
  CONSTRAINT chk_test_dir_ends_slash CHECK (path LIKE '%/')
);
CREATE INDEX ix_pgmi_test_directory_parent ON pg_temp._pgmi_test_directory (parent_path);

CREATE TEMP TABLE _pgmi_test_source (
  path text PRIMARY KEY,
  directory text NOT NULL,
  filename text NOT NULL,
  content text NOT NULL,
  is_fixture boolean NOT NULL DEFAULT false,
  CONSTRAINT chk_test_source_path_format CHECK (path LIKE './%'),
  CONSTRAINT fk_test_source_directory FOREIGN KEY (directory) REFERENCES pg_temp._pgmi_test_directory (path)
);
CREATE INDEX ix_pgmi_test_source_directory ON pg_temp._pgmi_test_source (directory);

GRANT SELECT ON pg_temp._pgmi_parameter, pg_temp._pgmi_source, pg_temp._pgmi_source_metadata,
  pg_temp._pgmi_test_directory, pg_temp._pgmi_test_source TO PUBLIC;

CREATE TYPE pg_temp.pgmi_test_event AS (
  event text,
  path text,
  directory text,
  depth integer,
  ordinal integer,
  context jsonb
);

-- Runs one test or fixture file. A failure keeps its SQLSTATE and DETAIL and
-- names the file, so the client can report which test failed.
CREATE OR REPLACE FUNCTION pg_temp.pgmi_run_test_source(p_path text) RETURNS void
LANGUAGE plpgsql AS $pgmi$
DECLARE
  v_content text;
  v_state text;
  v_message text;
  v_detail text;
BEGIN
  SELECT s.content INTO v_content FROM pg_temp._pgmi_test_source s WHERE s.path = p_path;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'test source % is not loaded in this session', p_path USING ERRCODE = 'undefined_object';
  END IF;
  EXECUTE v_content;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_message = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
  IF v_detail <> '' THEN
    RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = format('Failed in %s: %s', p_path, v_message), DETAIL = v_detail;
  END IF;
  RAISE EXCEPTION USING ERRCODE = v_state, MESSAGE = format('Failed in %s: %s', p_path, v_message);
END
$pgmi$;

-- The default test reporter.
CREATE OR REPLACE FUNCTION pg_temp.pgmi_test_callback(e pg_temp.pgmi_test_event) RETURNS void
LANGUAGE plpgsql AS $pgmi$
BEGIN
  CASE e.event
    WHEN 'suite_start' THEN RAISE NOTICE '[pgmi] Test suite started';
    WHEN 'suite_end' THEN RAISE NOTICE '[pgmi] Test suite completed (% steps)', e.ordinal;
    WHEN 'fixture_start' THEN RAISE NOTICE '[pgmi] Fixture: %', e.path;
    WHEN 'test_start' THEN RAISE NOTICE '[pgmi] Test: %', e.path;
    WHEN 'rollback' THEN RAISE DEBUG '[pgmi] Rollback: %', COALESCE(e.path, e.directory);
    WHEN 'teardown_start' THEN RAISE DEBUG '[pgmi] Teardown: %', e.directory;
    ELSE NULL;
  END CASE;
END
$pgmi$;

CREATE OR REPLACE FUNCTION pg_temp.pgmi_validate_pattern(p_pattern text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $pgmi$
BEGIN
  IF p_pattern IS NULL THEN
    RETURN NULL;
  END IF;
  BEGIN
    PERFORM '' ~ p_pattern;
  EXCEPTION WHEN invalid_regular_expression THEN
    RAISE EXCEPTION 'Invalid regex pattern: %', p_pattern
      USING HINT = 'Pattern must be a valid PostgreSQL POSIX regular expression';
  END;
  RETURN p_pattern;
END
$pgmi$;

-- Does the directory, or any directory below it, hold a test the pattern selects?
CREATE OR REPLACE FUNCTION pg_temp.pgmi_has_tests(p_directory text, p_pattern text DEFAULT NULL) RETURNS boolean
LANGUAGE sql STABLE AS $pgmi$
  WITH RECURSIVE subtree(path) AS (
    SELECT d.path FROM pg_temp._pgmi_test_directory d WHERE d.path = p_directory
    UNION ALL
    SELECT d.path FROM pg_temp._pgmi_test_directory d JOIN subtree ON d.parent_path = subtree.path
  )
  SELECT EXISTS (
    SELECT 1 FROM pg_temp._pgmi_test_source s JOIN subtree ON s.directory = subtree.path
    WHERE NOT s.is_fixture AND (p_pattern IS NULL OR s.path ~ p_pattern)
  )
$pgmi$;

-- The test plan: a depth-first walk over the directories that hold selected
-- tests. Each step gets a sort key (the chain of directories from its root,
-- then a marker): '!' fixtures and '#' tests sort before the './' paths of
-- child directories, and '~' teardowns after them, all in byte order.
CREATE OR REPLACE FUNCTION pg_temp.pgmi_test_plan(p_pattern text DEFAULT NULL)
RETURNS TABLE (ordinal integer, step_type text, script_path text, directory text, depth integer)
LANGUAGE sql STABLE AS $pgmi$
  SELECT pg_temp.pgmi_validate_pattern(p_pattern);
  WITH RECURSIVE relevant AS (
    SELECT d.path, d.parent_path, d.depth FROM pg_temp._pgmi_test_directory d
    WHERE pg_temp.pgmi_has_tests(d.path, p_pattern)
  ), chain(path, depth, keys) AS (
    SELECT r.path, r.depth, ARRAY[r.path] FROM relevant r WHERE r.parent_path IS NULL
    UNION ALL
    SELECT r.path, r.depth, c.keys || r.path FROM relevant r JOIN chain c ON r.parent_path = c.path
  ), steps(step_type, script_path, directory, depth, sort_key) AS (
    SELECT CASE WHEN s.is_fixture THEN 'fixture' ELSE 'test' END, s.path, c.path, c.depth,
           c.keys || (CASE WHEN s.is_fixture THEN '!' ELSE '#' END || s.filename)
    FROM chain c JOIN pg_temp._pgmi_test_source s ON s.directory = c.path
    WHERE s.is_fixture OR p_pattern IS NULL OR s.path ~ p_pattern
    UNION ALL
    SELECT 'teardown', NULL, c.path, c.depth, c.keys || '~'::text FROM chain c
  )
  SELECT (row_number() OVER (ORDER BY st.sort_key COLLATE "C"))::integer,
         st.step_type, st.script_path, st.directory, st.depth
  FROM steps st
  ORDER BY 1
$pgmi$;

CREATE OR REPLACE FUNCTION pg_temp.pgmi_is_sql_file(filename text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $pgmi$
  SELECT filename ~* '\.(sql|ddl|dml|dql|dcl|psql|pgsql|plpgsql)$'
$pgmi$;

-- Registers one file, deriving every column from the path the way the loader
-- does; kept for projects that add files from SQL.
CREATE OR REPLACE FUNCTION pg_temp.pgmi_register_file(in_path text, in_content text, in_checksum text, in_pgmi_checksum text)
RETURNS pg_temp._pgmi_source
LANGUAGE plpgsql AS $pgmi$
DECLARE
  v_path text := replace(btrim(in_path, ' '), '\', '/');
  v_parts text[];
  v_depth integer;
  v_row pg_temp._pgmi_source;
BEGIN
  IF left(v_path, 2) <> './' THEN
    v_path := './' || regexp_replace(v_path, '^(\./|/)+', '');
  END IF;
  v_path := regexp_replace(v_path, '//+', '/', 'g');
  v_parts := string_to_array(v_path, '/');
  v_depth := array_length(v_parts, 1) - 2;
  INSERT INTO pg_temp._pgmi_source (path, name, directory, extension, depth, content, size_bytes, checksum,
    pgmi_checksum, path_parts, is_sql_file, is_test_file, parent_folder_name)
  VALUES (
    v_path,
    v_parts[v_depth + 2],
    CASE WHEN v_depth = 0 THEN './' ELSE array_to_string(v_parts[1:v_depth + 1], '/') || '/' END,
    COALESCE(substring(v_parts[v_depth + 2] FROM '\.[A-Za-z0-9]+$'), ''),
    v_depth,
    in_content,
    octet_length(in_content),
    in_checksum,
    in_pgmi_checksum,
    v_parts,
    pg_temp.pgmi_is_sql_file(v_path),
    v_path ~ '(^|/)__tests?__/',
    CASE WHEN v_depth = 0 THEN NULL ELSE v_parts[v_depth + 1] END
  )
  RETURNING * INTO v_row;
  RETURN v_row;
END
$pgmi$;

CREATE OR REPLACE FUNCTION pg_temp.pgmi_persist_test_plan(target_schema text, p_pattern text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $pgmi$
BEGIN
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I.pgmi_test_plan (ordinal integer PRIMARY KEY, step_type text NOT NULL, '
    'script_path text, directory text NOT NULL, depth integer NOT NULL)', target_schema);
  EXECUTE format('TRUNCATE %I.pgmi_test_plan', target_schema);
  EXECUTE format('INSERT INTO %I.pgmi_test_plan (ordinal, step_type, script_path, directory, depth) '
    'SELECT ordinal, step_type, script_path, directory, depth FROM pg_temp.pgmi_test_plan($1)', target_schema)
    USING p_pattern;
END
$pgmi$;
