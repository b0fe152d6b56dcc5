package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/metadata/golden")

const metadataFixtures = "testdata/metadata"

// golden compares got with testdata/metadata/golden/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join(metadataFixtures, "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// copyTree copies a fixture project into a temporary directory.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// planOf is the execution plan (--execution-order) of a project.
func planOf(t *testing.T, args ...string) executionJSON {
	t.Helper()
	code, stdout, stderr := cli{}.run(t, append([]string{"metadata", "plan", "--execution-order", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("metadata plan %v: exit %d\n%s", args, code, stderr)
	}
	var p executionJSON
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("plan output is not JSON: %v\n%s", err, stdout)
	}
	return p
}

func TestMetadataPlanGolden(t *testing.T) {
	for _, fixture := range []string{"ordering", "plain"} {
		t.Run(fixture, func(t *testing.T) {
			dir := filepath.Join(metadataFixtures, fixture)
			code, stdout, stderr := cli{}.run(t, "metadata", "plan", dir, "--json")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			golden(t, fixture+".plan.json", stdout)
			code, stdout, stderr = cli{}.run(t, "metadata", "plan", dir)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			golden(t, fixture+".plan.txt", stdout)
			code, stdout, stderr = cli{}.run(t, "metadata", "plan", dir, "--execution-order", "--json")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			golden(t, fixture+".execution.json", stdout)
			code, stdout, stderr = cli{}.run(t, "metadata", "plan", dir, "--execution-order")
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			golden(t, fixture+".execution.txt", stdout)
		})
	}
}

// plan --json is pgmi's document: every scanned file in scan order (test and
// non-SQL files too), a file without metadata under pgmi's fallback (its
// path's stable id, idempotent, its name as sort key), exactly pgmi's keys.
func TestMetadataPlanIsPgmisDocument(t *testing.T) {
	dir := filepath.Join(metadataFixtures, "ordering")
	code, stdout, stderr := cli{}.run(t, "metadata", "plan", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil || len(doc) != 2 || doc["plan"] == nil || doc["total_files"] == nil {
		t.Fatalf("keys of %s: %v", stdout, err)
	}
	if !strings.HasPrefix(stdout, "{\n  \"plan\": [") {
		t.Errorf("keys not in pgmi's order:\n%s", stdout[:min(len(stdout), 80)])
	}
	var entries []map[string]any
	if err := json.Unmarshal(doc["plan"], &entries); err != nil {
		t.Fatal(err)
	}
	var total int
	_ = json.Unmarshal(doc["total_files"], &total)
	var paths []string
	for _, e := range entries {
		if len(e) != 5 {
			t.Errorf("entry %v: want exactly path, id, idempotent, sort_keys, description", e)
		}
		paths = append(paths, e["path"].(string))
		if e["path"] == "./Makefile" && (e["id"] != engine.FallbackID("./Makefile") || e["idempotent"] != true ||
			e["description"] != "No metadata (fallback)" || fmt.Sprint(e["sort_keys"]) != "[Makefile]") {
			t.Errorf("a file without metadata: %v", e)
		}
	}
	if total != len(entries) {
		t.Errorf("total_files %d, %d entries", total, len(entries))
	}
	var sawTest bool
	for _, p := range paths {
		sawTest = sawTest || strings.Contains(p, "/__test__/")
	}
	if !sawTest {
		t.Errorf("test files missing from pgmi's plan: %v", paths)
	}
}

// The ordering fixture exercises every rule of the view's ORDER BY; these
// are the consequences spelled out, independent of the golden file.
func TestMetadataPlanOrderingRules(t *testing.T) {
	p := planOf(t, filepath.Join(metadataFixtures, "ordering"))
	var seq []string
	for _, e := range p.Plan {
		seq = append(seq, e.Path+"@"+e.SortKey)
	}
	index := func(path, key string) int {
		for i, s := range seq {
			if s == path+"@"+key {
				return i
			}
		}
		t.Fatalf("no plan entry %s under key %q in\n%s", path, key, strings.Join(seq, "\n"))
		return -1
	}
	before := func(a, b [2]string, why string) {
		if index(a[0], a[1]) >= index(b[0], b[1]) {
			t.Errorf("%s: %v should run before %v", why, a, b)
		}
	}
	k := func(path, key string) [2]string { return [2]string{path, key} }
	before(k("./misc/padded.sql", "  050/padded  "), k("./!early.sql", "./!early.sql"), "leading spaces of a key are kept and sort first")
	before(k("./!early.sql", "./!early.sql"), k("./Makefile", "./Makefile"), "'!' sorts before letters")
	before(k("./lib/Upper.sql", "./lib/Upper.sql"), k("./lib/helpers.sql", "./lib/helpers.sql"), "C collation: upper case before lower case")
	before(k("./sub/deploy.sql", "./sub/deploy.sql"), k("./schema/010_tables.sql", "010/tables"), "path fallbacks (./…) sort before digit keys")
	before(k("./data/seed.sql", "020/views"), k("./schema/020_views.sql", "020/views"), "ties on a key are broken by path")
	before(k("./misc/tie_a.sql", "040/tie"), k("./misc/tie_b.sql", "040/tie"), "ties on a key are broken by path, not walk order")
	before(k("./schema/020_views.sql", "900/refresh-views"), k("./é/accents.sql", "Zebra"), "digits before letters")
	before(k("./é/accents.sql", "Zebra"), k("./é/accents.sql", "éclair"), "UTF-8 bytes: é after every ASCII letter")
	before(k("./sub/deploy.sql", "./sub/deploy.sql"), k("./日本/テスト.sql", "./日本/テスト.sql"), "unicode paths after ASCII")
	if n := strings.Count(strings.Join(seq, "\n"), "./schema/020_views.sql@"); n != 2 {
		t.Errorf("a file with two sort keys has %d plan entries, want 2", n)
	}
	if n := strings.Count(strings.Join(seq, "\n"), "./misc/dupkey.sql@030/x"); n != 2 {
		t.Errorf("a key listed twice gives %d entries, want 2 (one per array element, as unnest does)", n)
	}
	index("./misc/emptykeys.sql", "./misc/emptykeys.sql") // empty sortKeys: the path
	index("./misc/nokeys.PGSQL", "./misc/nokeys.PGSQL")
	for _, s := range seq {
		if strings.Contains(s, "__test") || strings.Contains(s, ".hidden") || strings.HasPrefix(s, "./deploy.sql@") {
			t.Errorf("%s must not be in the plan", s)
		}
	}
	for _, e := range p.Plan {
		switch e.Path {
		case "./é/accents.sql":
			if e.ID == nil || *e.ID != "44444444-4444-4444-8444-44444444abcd" || e.Idempotent || e.Description != "  padded description  " {
				t.Errorf("accents entry = %+v", e)
			}
		case "./misc/meta_in_dollar.sql", "./misc/meta.txt", "./README.md":
			if e.ID != nil || !e.Idempotent || len(e.SortKeys) != 0 {
				t.Errorf("%s has no metadata but its entry is %+v", e.Path, e)
			}
		case "./schema/010_tables.sql":
			if e.Idempotent {
				t.Errorf("idempotent=\"false\" gave %+v", e)
			}
		}
	}
	if p.TotalFiles != 21 {
		t.Errorf("total_files = %d, want 21", p.TotalFiles)
	}
}

// The offline plan is the session's plan: deploy each fixture with a
// deploy.sql that saves pg_temp.pgmi_plan_view, and compare row by row.
func TestMetadataPlanEqualsSessionPlanView(t *testing.T) {
	testpg.Require(t, clusterErr)
	for _, fixture := range []string{"ordering", "plain"} {
		t.Run(fixture, func(t *testing.T) {
			dir := copyTree(t, filepath.Join(metadataFixtures, fixture))
			capture := "CREATE TABLE public.captured_plan AS\n" +
				"SELECT execution_order, path, id::text AS id, idempotent, description, sort_key FROM pg_temp.pgmi_plan_view;\n"
			if err := os.WriteFile(filepath.Join(dir, "deploy.sql"), []byte(capture), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, "pgmi.yaml")); err == nil {
				// The fixture's connection block names a made-up server.
				if err := os.WriteFile(filepath.Join(dir, "pgmi.yaml"), []byte("params:\n  env: fixture\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			offline := planOf(t, dir)
			db := freshName(t)
			dropAfter(t, db)
			code, _, stderr := cli{}.run(t, "deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db)
			if code != 0 {
				t.Fatalf("deploy: exit %d\n%s", code, stderr)
			}
			conn := cluster.Connect(t, db)
			rows, err := conn.Query(context.Background(),
				"SELECT execution_order, path, id, idempotent, description, sort_key FROM public.captured_plan ORDER BY execution_order")
			if err != nil {
				t.Fatal(err)
			}
			var session []executionJSONEntry
			for rows.Next() {
				var e executionJSONEntry
				var order int64
				if err := rows.Scan(&order, &e.Path, &e.ID, &e.Idempotent, &e.Description, &e.SortKey); err != nil {
					t.Fatal(err)
				}
				e.ExecutionOrder = int(order)
				session = append(session, e)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			var got []executionJSONEntry
			for _, e := range offline.Plan {
				e.SortKeys = nil // not a column of the view
				got = append(got, e)
			}
			if !reflect.DeepEqual(got, session) {
				t.Errorf("offline plan differs from pgmi_plan_view\n--- offline\n%s\n--- session\n%s", dumpPlan(got), dumpPlan(session))
			}
		})
	}
}

func dumpPlan(p []executionJSONEntry) string {
	var b strings.Builder
	for _, e := range p {
		id := "NULL"
		if e.ID != nil {
			id = *e.ID
		}
		b.WriteString(strings.Join([]string{e.Path, e.SortKey, id, e.Description}, " | ") + "\n")
	}
	return b.String()
}

func TestMetadataPlanRejectsInvalidMetadata(t *testing.T) {
	code, stdout, stderr := cli{}.run(t, "metadata", "plan", filepath.Join(metadataFixtures, "invalid"), "--json")
	if code != 10 || stdout != "" || !strings.Contains(stderr, "pgmi: error:") {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 10 and an error", code, stdout, stderr)
	}
	if code, _, stderr := (cli{}).run(t, "metadata", "plan", t.TempDir()); code != 14 {
		t.Errorf("a directory without deploy.sql: exit %d, want 14\n%s", code, stderr)
	}
	if code, _, _ := (cli{}).run(t, "metadata", "plan", "a", "b"); code != 2 {
		t.Errorf("two arguments: exit %d, want 2", code)
	}
}

func TestMetadataValidate(t *testing.T) {
	for _, c := range []struct {
		fixture string
		code    int
	}{{"ordering", 0}, {"plain", 0}, {"invalid", 10}} {
		t.Run(c.fixture, func(t *testing.T) {
			dir := filepath.Join(metadataFixtures, c.fixture)
			code, stdout, stderr := cli{}.run(t, "metadata", "validate", dir, "--json")
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s", code, c.code, stderr)
			}
			golden(t, c.fixture+".validate.json", stdout)
			code, stdout, _ = cli{}.run(t, "metadata", "validate", dir)
			if code != c.code {
				t.Fatalf("human: exit %d, want %d", code, c.code)
			}
			golden(t, c.fixture+".validate.txt", stdout)
		})
	}
}

func TestMetadataValidateNamesEveryProblem(t *testing.T) {
	// --json behaves as pgmi: the first block that cannot be parsed fails the
	// command, before any document.
	code, stdout, stderr := cli{}.run(t, "metadata", "validate", filepath.Join(metadataFixtures, "invalid"), "--json")
	if code != 10 || stdout != "" || !strings.Contains(stderr, "pgmi: error:") {
		t.Fatalf("exit %d, stdout %q\n%s", code, stdout, stderr)
	}
	// The human output names every problem.
	code, human, _ := cli{}.run(t, "metadata", "validate", filepath.Join(metadataFixtures, "invalid"))
	if code != 10 {
		t.Fatalf("human: exit %d", code)
	}
	for _, want := range []string{"./bad_id.sql", `"nope"`, "./two.sql", "Multiple metadata blocks", "./a.sql", "./b.sql",
		"./no_idempotent.sql", "./old.sql", "./blank_key.sql"} {
		if !strings.Contains(human, want) {
			t.Errorf("human output lacks %q:\n%s", want, human)
		}
	}
	if strings.Contains(human, "ERROR ./good.sql") || strings.Contains(human, "ERROR ./plain.sql") {
		t.Errorf("a valid file was reported:\n%s", human)
	}
	// Duplicate ids alone: pgmi's document, validation_passed false, exit 10.
	dir := t.TempDir()
	meta := func(id string) string {
		return "/* <pgmi-meta id=\"" + id + "\" idempotent=\"true\"></pgmi-meta> */\nSELECT 1;\n"
	}
	for name, data := range map[string]string{"deploy.sql": "SELECT 1;", "a.sql": meta("f0f0f0f0-f0f0-4f0f-8f0f-f0f0f0f0f0f0"),
		"b.sql": meta("f0f0f0f0-f0f0-4f0f-8f0f-f0f0f0f0f0f0"), "c.sql": meta("f0f0f0f0-f0f0-4f0f-8f0f-f0f0f0f0f0f0"), "notes.txt": "x"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr = cli{}.run(t, "metadata", "validate", dir, "--json")
	var r validateJSON
	if err := json.Unmarshal([]byte(stdout), &r); code != 10 || err != nil {
		t.Fatalf("exit %d %v\n%s%s", code, err, stdout, stderr)
	}
	want := validateJSON{TotalFiles: 4, FilesWithMetadata: 3, FilesWithoutMetadata: 1, DuplicateIDs: []string{
		"  Duplicate ID f0f0f0f0-f0f0-4f0f-8f0f-f0f0f0f0f0f0:\n    - ./a.sql\n    - ./b.sql",
		"  Duplicate ID f0f0f0f0-f0f0-4f0f-8f0f-f0f0f0f0f0f0:\n    - ./a.sql\n    - ./c.sql"}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("validate --json = %+v, want %+v", r, want)
	}
	if !strings.HasPrefix(stdout, "{\n  \"duplicate_ids\": [") {
		t.Errorf("keys not in pgmi's order:\n%s", stdout)
	}
}

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(data)
		}
		return nil
	})
	return out
}

func TestMetadataScaffold(t *testing.T) {
	dir := copyTree(t, filepath.Join(metadataFixtures, "plain"))
	before := readTree(t, dir)
	planBefore := planOf(t, dir)

	code, stdout, stderr := cli{}.run(t, "metadata", "scaffold", dir)
	if code != 0 {
		t.Fatalf("scaffold: exit %d\n%s", code, stderr)
	}
	if !reflect.DeepEqual(readTree(t, dir), before) {
		t.Error("scaffold without --write changed files")
	}
	if strings.Count(stdout, "<pgmi-meta ") != 2 || !strings.Contains(stdout, "<key>./schema/tables.sql</key>") ||
		!strings.Contains(stdout, `id="`+engine.FallbackID("./schema/tables.sql")+`"`) ||
		!strings.Contains(stdout, `idempotent="true"`) || strings.Contains(stdout, "has_meta") || strings.Contains(stdout, "__test__") {
		t.Errorf("scaffold output:\n%s", stdout)
	}

	if code, stdout, _ := (cli{}).run(t, "metadata", "scaffold", dir, "--idempotent=false"); !strings.Contains(stdout, `idempotent="false"`) || code != 0 {
		t.Errorf("--idempotent=false:\n%s", stdout)
	}
	if code, _, stderr := (cli{}).run(t, "metadata", "scaffold", dir, "--write"); code != 0 {
		t.Fatalf("scaffold --write: exit %d\n%s", code, stderr)
	}
	after := readTree(t, dir)
	for _, untouched := range []string{"has_meta.sql", "notes.md", "__test__/test_x.sql", "deploy.sql"} {
		if after[untouched] != before[untouched] {
			t.Errorf("%s was changed", untouched)
		}
	}
	for _, f := range []string{"schema/tables.sql", "schema/views.sql"} {
		if !strings.Contains(after[f], `idempotent="true"`) || !strings.HasSuffix(after[f], before[f][strings.Index(before[f], "C"):]) {
			t.Errorf("%s after --write:\n%s", f, after[f])
		}
	}
	if !strings.HasPrefix(after["schema/views.sql"], "\ufeff/*\n<pgmi-meta") {
		t.Errorf("the block must follow the BOM:\n%q", after["schema/views.sql"])
	}
	// Every SQL file has metadata now; notes.md and the test file have none.
	if code, stdout, _ := (cli{}).run(t, "metadata", "validate", dir, "--json"); code != 0 || !strings.Contains(stdout, `"files_with_metadata": 3`) {
		t.Errorf("validate after scaffold: exit %d\n%s", code, stdout)
	}
	// Keys are the paths, so the order is unchanged.
	planAfter := planOf(t, dir)
	var pb, pa []string
	for _, e := range planBefore.Plan {
		pb = append(pb, e.Path)
	}
	for _, e := range planAfter.Plan {
		pa = append(pa, e.Path)
	}
	if !reflect.DeepEqual(pa, pb) {
		t.Errorf("scaffolding changed the plan order:\n%v\n%v", pb, pa)
	}

	// Idempotent on rerun.
	code, stdout, _ = cli{}.run(t, "metadata", "scaffold", dir, "--write")
	if code != 0 || !reflect.DeepEqual(readTree(t, dir), after) || !strings.Contains(stdout, "already has") {
		t.Errorf("second --write: exit %d, changed=%v\n%s", code, !reflect.DeepEqual(readTree(t, dir), after), stdout)
	}
}

// plan and validate read bundles (files and URLs) the way deploy does.
func TestMetadataPlanOnBundleEqualsDirectory(t *testing.T) {
	src := filepath.Join(metadataFixtures, "ordering")
	keys := t.TempDir()
	key, allowed := signingKey(t, keys, "release")
	out := filepath.Join(t.TempDir(), "ordering.tgz")
	c := cli{env: map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}}
	if code, _, stderr := c.run(t, "bundle", src, "-o", out, "--sign-key", key, "--version", "2.0.0"); code != 0 {
		t.Fatalf("bundle: exit %d\n%s", code, stderr)
	}
	_, dirPlan, _ := cli{}.run(t, "metadata", "plan", src, "--json")
	if code, _, stderr := (cli{}).run(t, "metadata", "plan", out, "--json"); code != 10 || !strings.Contains(stderr, "--trusted-signers") {
		t.Errorf("a bundle without trust: exit %d\n%s", code, stderr)
	}
	for _, args := range [][]string{{out, "--trusted-signers", allowed}, {out, "--allow-unsigned"}, {"file://" + filepath.ToSlash(mustAbs(t, out)), "--allow-unsigned"}} {
		code, stdout, stderr := cli{}.run(t, append([]string{"metadata", "plan", "--json"}, args...)...)
		if code != 0 {
			t.Errorf("plan %v: exit %d\n%s", args, code, stderr)
			continue
		}
		if stdout != dirPlan {
			t.Errorf("plan %v differs from the directory's plan:\n%s\n---\n%s", args, stdout, dirPlan)
		}
	}
	code, stdout, stderr := cli{}.run(t, "metadata", "validate", out, "--allow-unsigned", "--json")
	_, dirValidate, _ := cli{}.run(t, "metadata", "validate", src, "--json")
	if code != 0 || stdout != dirValidate {
		t.Errorf("validate on the bundle: exit %d\n%s%s", code, stdout, stderr)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
