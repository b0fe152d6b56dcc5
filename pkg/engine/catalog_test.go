package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// The session objects must match pgmi's session API v1 exactly: these
// expectations are written from ENGINE-REFERENCE.md §3, not from our SQL.
var wantColumns = map[string]string{
	"_pgmi_parameter": "key text NOT NULL; value text; type text NOT NULL DEFAULT 'text'::text; " +
		"required boolean NOT NULL DEFAULT false; default_value text; description text",
	"_pgmi_source": "path text NOT NULL; name text NOT NULL; directory text NOT NULL; extension text NOT NULL; " +
		"depth integer NOT NULL; content text NOT NULL; size_bytes bigint NOT NULL; checksum text NOT NULL; " +
		"pgmi_checksum text NOT NULL; path_parts text[] NOT NULL; is_sql_file boolean NOT NULL; " +
		"is_test_file boolean NOT NULL; parent_folder_name text",
	"_pgmi_source_metadata": "path text NOT NULL; id uuid NOT NULL; idempotent boolean NOT NULL; " +
		"sort_keys text[] NOT NULL DEFAULT '{}'::text[]; description text",
	"_pgmi_test_directory": "path text NOT NULL; parent_path text; depth integer NOT NULL DEFAULT 0",
	"_pgmi_test_source": "path text NOT NULL; directory text NOT NULL; filename text NOT NULL; content text NOT NULL; " +
		"is_fixture boolean NOT NULL DEFAULT false",
	"pgmi_test_event": "event text; path text; directory text; depth integer; ordinal integer; context jsonb",
	"pgmi_plan_view": "path text; content text; checksum text; generic_id uuid; id uuid; idempotent boolean; " +
		"description text; sort_key text; execution_order bigint",
}

var wantFunctions = []string{
	"pgmi_has_tests(p_directory text, p_pattern text DEFAULT NULL::text) boolean sql s",
	"pgmi_is_sql_file(filename text) boolean sql i",
	"pgmi_persist_test_plan(target_schema text, p_pattern text DEFAULT NULL::text) void plpgsql v",
	"pgmi_register_file(in_path text, in_content text, in_checksum text, in_pgmi_checksum text) _pgmi_source plpgsql v",
	"pgmi_run_test_source(p_path text) void plpgsql v",
	"pgmi_test_callback(e pgmi_test_event) void plpgsql v",
	"pgmi_test_generate(p_pattern text DEFAULT NULL::text, p_callback text DEFAULT 'pg_temp.pgmi_test_callback'::text) text plpgsql v",
	"pgmi_test_plan(p_pattern text DEFAULT NULL::text) TABLE(ordinal integer, step_type text, script_path text, directory text, depth integer) sql s",
	"pgmi_validate_pattern(p_pattern text) text plpgsql i",
}

// pgmi's constraint names per table (c = CHECK, p = primary key, f = foreign
// key): one CHECK per rule, primary keys and the metadata foreign key under
// PostgreSQL's default names.
var wantConstraints = map[string][]string{
	"_pgmi_parameter": {"_pgmi_parameter_pkey p", "chk_key_format c", "chk_type_valid c"},
	"_pgmi_source": {"_pgmi_source_pkey p", "chk_checksum_format c", "chk_content_size_match c", "chk_depth c",
		"chk_depth_path_parts c", "chk_depth_reasonable c", "chk_directory_format c", "chk_directory_no_backslash c",
		"chk_extension_format c", "chk_name_format c", "chk_name_no_whitespace_only c", "chk_parent_folder_depth c",
		"chk_parent_folder_no_slash c", "chk_path_directory_match c", "chk_path_format c", "chk_path_is_not_test c",
		"chk_path_no_backslash c", "chk_path_no_double_slash c", "chk_path_parts_first_element c",
		"chk_path_parts_last_element c", "chk_path_parts_no_empty_strings c", "chk_path_parts_not_empty c",
		"chk_pgmi_checksum_format c", "chk_size_bytes c"},
	"_pgmi_source_metadata": {"_pgmi_source_metadata_path_fkey f", "_pgmi_source_metadata_pkey p"},
	"_pgmi_test_directory":  {"_pgmi_test_directory_pkey p", "chk_test_dir_ends_slash c", "chk_test_dir_path_format c"},
	"_pgmi_test_source":     {"_pgmi_test_source_pkey p", "chk_test_source_path_format c", "fk_test_source_directory f"},
}

// pgmi's index names per table (primary keys' indexes included).
var wantIndexes = map[string][]string{
	"_pgmi_parameter":       {"_pgmi_parameter_pkey"},
	"_pgmi_source":          {"_pgmi_source_pkey"},
	"_pgmi_source_metadata": {"_pgmi_source_metadata_pkey", "ix_pgmi_source_metadata_sort_keys gin"},
	"_pgmi_test_directory":  {"_pgmi_test_directory_pkey", "ix_pgmi_test_directory_parent"},
	"_pgmi_test_source":     {"_pgmi_test_source_pkey", "ix_pgmi_test_source_directory"},
}

func TestSessionConstraintAndIndexNamesMatchPgmi(t *testing.T) {
	s := newSession(t)
	if _, err := s.deploy(t, files("deploy.sql", "SELECT 1;"), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	for rel, want := range wantConstraints {
		got := names(t, s.conn, `SELECT c.conname || ' ' || c.contype::text FROM pg_constraint c
		  WHERE c.conrelid = ('pg_temp.' || $1)::regclass AND c.contype <> 'n' ORDER BY c.conname COLLATE "C"`, rel)
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("%s constraints:\n got  %s\n want %s", rel, strings.Join(got, ", "), strings.Join(want, ", "))
		}
	}
	for rel, want := range wantIndexes {
		got := names(t, s.conn, `SELECT i.relname || CASE WHEN am.amname <> 'btree' THEN ' ' || am.amname ELSE '' END
		  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
		  WHERE x.indrelid = ('pg_temp.' || $1)::regclass ORDER BY i.relname COLLATE "C"`, rel)
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("%s indexes:\n got  %s\n want %s", rel, strings.Join(got, ", "), strings.Join(want, ", "))
		}
	}
}

// Each CHECK rejects a row that breaks its rule, and only that rule: the
// error names the constraint.
func TestSessionChecksEnforceTheirRule(t *testing.T) {
	s := newSession(t)
	if _, err := s.deploy(t, files("deploy.sql", "SELECT 1;"), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	const sum = "'0123456789abcdef0123456789abcdef'"
	// A valid _pgmi_source row at depth 1, with one column overridden.
	src := func(col, val string) string {
		cols := map[string]string{
			"path": "'./a/x.sql'", "name": "'x.sql'", "directory": "'./a/'", "extension": "'.sql'", "depth": "1",
			"content": "'ab'", "size_bytes": "2", "checksum": sum, "pgmi_checksum": sum,
			"path_parts": "ARRAY['.','a','x.sql']", "is_sql_file": "true", "is_test_file": "false",
			"parent_folder_name": "'a'",
		}
		cols[col] = val
		order := []string{"path", "name", "directory", "extension", "depth", "content", "size_bytes", "checksum",
			"pgmi_checksum", "path_parts", "is_sql_file", "is_test_file", "parent_folder_name"}
		vals := make([]string, len(order))
		for i, c := range order {
			vals[i] = cols[c]
		}
		return "INSERT INTO pg_temp._pgmi_source VALUES (" + strings.Join(vals, ", ") + ")"
	}
	cases := []struct{ constraint, sql string }{
		{"chk_key_format", "INSERT INTO pg_temp._pgmi_parameter (key) VALUES ('a-b')"},
		{"chk_type_valid", "INSERT INTO pg_temp._pgmi_parameter (key, type) VALUES ('k', 'json')"},
		{"chk_path_format", src("path", "'a/x.sql'")},
		{"chk_path_no_backslash", src("path", `'./a\x.sql'`)},
		{"chk_path_no_double_slash", src("path", "'./a//x.sql'")},
		{"chk_path_directory_match", src("path", "'./b/x.sql'")},
		{"chk_path_is_not_test", src("path", "'./a/__test__/x.sql'")},
		{"chk_name_format", src("name", "'a/x.sql'")},
		{"chk_name_no_whitespace_only", src("name", "'  '")},
		{"chk_directory_format", src("directory", "'./a'")},
		{"chk_directory_no_backslash", src("directory", `'./a\b/'`)},
		{"chk_extension_format", src("extension", "'sql'")},
		{"chk_depth", src("depth", "-1")},
		{"chk_depth_reasonable", src("depth", "101")},
		{"chk_depth_path_parts", src("depth", "2")},
		{"chk_size_bytes", src("size_bytes", "-1")},
		{"chk_content_size_match", src("size_bytes", "3")},
		{"chk_checksum_format", src("checksum", "'xyz'")},
		{"chk_pgmi_checksum_format", src("pgmi_checksum", "'xyz'")},
		{"chk_path_parts_not_empty", src("path_parts", "'{}'")},
		{"chk_path_parts_first_element", src("path_parts", "ARRAY['a','a','x.sql']")},
		{"chk_path_parts_last_element", src("path_parts", "ARRAY['.','a','y.sql']")},
		{"chk_path_parts_no_empty_strings", src("path_parts", "ARRAY['.','','x.sql']")},
		{"chk_parent_folder_depth", src("parent_folder_name", "NULL")},
		{"chk_parent_folder_no_slash", src("parent_folder_name", "'a/b'")},
		{"chk_test_dir_path_format", "INSERT INTO pg_temp._pgmi_test_directory (path) VALUES ('./a/')"},
		{"chk_test_dir_ends_slash", "INSERT INTO pg_temp._pgmi_test_directory (path) VALUES ('./__test__/x')"},
		{"chk_test_source_path_format", "INSERT INTO pg_temp._pgmi_test_directory (path) VALUES ('./__test__/');" +
			"INSERT INTO pg_temp._pgmi_test_source (path, directory, filename, content) VALUES ('__test__/t.sql', './__test__/', 't.sql', '')"},
		{"fk_test_source_directory", "INSERT INTO pg_temp._pgmi_test_source (path, directory, filename, content) VALUES ('./__tests__/t.sql', './__tests__/', 't.sql', '')"},
	}
	ctx := context.Background()
	for _, c := range cases {
		tx, err := s.conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Only this rule stays: a row breaking one rule may break others
		// that are checked first.
		_, err = tx.Exec(ctx, fmt.Sprintf(`DO $$DECLARE r record; BEGIN
		  FOR r IN SELECT conrelid::regclass AS rel, conname FROM pg_constraint
		    WHERE connamespace = pg_my_temp_schema() AND contype = 'c' AND conname <> '%s'
		  LOOP EXECUTE format('ALTER TABLE %%s DROP CONSTRAINT %%I', r.rel, r.conname); END LOOP; END$$`, c.constraint))
		if err == nil {
			_, err = tx.Exec(ctx, c.sql)
		}
		_ = tx.Rollback(ctx)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.ConstraintName != c.constraint {
			t.Errorf("%s: got %v, want a violation of %s", c.sql, err, c.constraint)
		}
	}
	// The valid row passes every check.
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, src("path", "'./a/x.sql'")); err != nil {
		t.Errorf("valid row rejected: %v", err)
	}
}

func names(t *testing.T, conn *pgx.Conn, query, rel string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), query, rel)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return got
}

func TestSessionObjectsMatchAPIv1(t *testing.T) {
	s := newSession(t)
	if _, err := s.deploy(t, files("deploy.sql", "SELECT 1;"), engine.Options{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for rel, want := range wantColumns {
		if got := columns(t, s.conn, rel); got != want {
			t.Errorf("%s columns:\n got  %s\n want %s", rel, got, want)
		}
	}
	for _, view := range []string{"source", "parameter", "test_source", "test_directory", "source_metadata"} {
		got, want := columns(t, s.conn, "pgmi_"+view+"_view"), stripConstraints(wantColumns["_pgmi_"+view])
		if got != want {
			t.Errorf("pgmi_%s_view columns:\n got  %s\n want %s", view, got, want)
		}
	}
	rows, _ := s.conn.Query(ctx, `SELECT p.proname || '(' || pg_get_function_arguments(p.oid) || ') ' ||
	    pg_get_function_result(p.oid) || ' ' || l.lanname || ' ' || p.provolatile::text
	  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	  WHERE p.pronamespace = pg_my_temp_schema() ORDER BY p.proname`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(wantFunctions, "\n") {
		t.Errorf("functions:\n got\n%s\n want\n%s", strings.Join(got, "\n"), strings.Join(wantFunctions, "\n"))
	}
	var grants int
	_ = s.conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c WHERE c.relnamespace = pg_my_temp_schema()
	  AND c.relkind IN ('r', 'v') AND NOT has_table_privilege('public', c.oid, 'SELECT')`).Scan(&grants)
	if grants != 0 {
		t.Errorf("%d tables or views lack SELECT for PUBLIC", grants)
	}
}

// columns renders a relation's columns as "name type [NOT NULL] [DEFAULT x]".
func columns(t *testing.T, conn *pgx.Conn, rel string) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `
	  SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	         || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
	         || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
	  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	  WHERE a.attrelid = ('pg_temp.' || $1)::regclass AND a.attnum > 0 AND NOT a.attisdropped
	  ORDER BY a.attnum`, rel)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return strings.Join(cols, "; ")
}

// stripConstraints turns table columns into the columns of a SELECT * view.
func stripConstraints(cols string) string {
	parts := strings.Split(cols, "; ")
	for i, p := range parts {
		p = strings.Replace(p, " NOT NULL", "", 1)
		if j := strings.Index(p, " DEFAULT "); j >= 0 {
			p = p[:j]
		}
		parts[i] = p
	}
	return strings.Join(parts, "; ")
}

// Each loaded row must equal what pgmi_register_file derives for the same
// file: the Go loader and the SQL function must never disagree.
func TestLoaderAgreesWithRegisterFile(t *testing.T) {
	s := newSession(t)
	project := files(
		"deploy.sql", "SELECT 1;",
		"root.sql", "\xEF\xBB\xBFSELECT 1;\n",
		"README.md", "# readme\r\n\ttabs and \\ backslashes\n",
		"a/b/c.SQL", "select 'x';",
		"a/b/notes.txt~", "n",
		"a/Makefile", "all:",
		"a/trailingdot.", "t",
		"a/x.sql.bak", "bak",
		"sub/deploy.sql", "SELECT 2;",
		"q/we\"ird {name},x.sql", "SELECT 3;",
	)
	if _, err := s.deploy(t, project, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	var mismatches []string
	rows, err := s.conn.Query(context.Background(), `
	  WITH loaded AS (SELECT * FROM pg_temp._pgmi_source)
	  SELECT path FROM loaded ORDER BY path`)
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	if len(paths) != 9 {
		t.Errorf("loaded %d files (%v), want 9", len(paths), paths)
	}
	for _, p := range paths {
		same, err := registerMatches(s.conn, p)
		if err != nil || !same {
			mismatches = append(mismatches, p)
			t.Logf("%s: err=%v", p, err)
		}
	}
	if len(mismatches) > 0 {
		t.Errorf("loader and pgmi_register_file disagree on %v", mismatches)
	}
	var size int64
	var sum string
	_ = s.conn.QueryRow(context.Background(), "SELECT size_bytes, checksum FROM pg_temp._pgmi_source WHERE path = './root.sql'").Scan(&size, &sum)
	if size != 10 || sum != "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd" {
		t.Errorf("BOM file: size %d checksum %s, want 10 and the checksum of SELECT 1;\\n", size, sum)
	}
}

// registerMatches deletes a loaded row, registers the same file through
// pgmi_register_file, compares the two rows and rolls everything back.
func registerMatches(conn *pgx.Conn, path string) (bool, error) {
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE loaded_row ON COMMIT DROP AS SELECT * FROM pg_temp._pgmi_source WHERE path = $1", path); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, "DELETE FROM pg_temp._pgmi_source WHERE path = $1", path); err != nil {
		return false, err
	}
	var same bool
	err = tx.QueryRow(ctx, `SELECT (SELECT row(l.*)::text FROM loaded_row l) =
	  (SELECT row(r.*)::text FROM loaded_row l, pg_temp.pgmi_register_file(l.path, l.content, l.checksum, l.pgmi_checksum) r)`).Scan(&same)
	return same, err
}
