package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

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
