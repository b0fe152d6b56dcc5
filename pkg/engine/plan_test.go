package engine

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

func planMeta(id, idempotent string, keys ...string) string {
	s := `/* <pgmi-meta id="` + id + `" idempotent="` + idempotent + `"><sortKeys>`
	for _, k := range keys {
		s += "<key>" + k + "</key>"
	}
	return s + "</sortKeys></pgmi-meta> */\nSELECT 1;\n"
}

func TestPlanOrderMatchesPlanViewRules(t *testing.T) {
	fsys := fstest.MapFS{
		"deploy.sql":          {Data: []byte("SELECT 1;")},
		"b.sql":               {Data: []byte(planMeta("00000000-0000-4000-8000-000000000001", "true", "020", "900"))},
		"a.sql":               {Data: []byte(planMeta("00000000-0000-4000-8000-000000000002", "false", "020"))},
		"z.sql":               {Data: []byte("SELECT 1;")},
		"Y.sql":               {Data: []byte("SELECT 1;")},
		"é.sql":               {Data: []byte(planMeta("00000000-0000-4000-8000-000000000003", "true", "éa", "Zz"))},
		"pad.sql":             {Data: []byte(planMeta("00000000-0000-4000-8000-000000000004", "true", " 999"))},
		"nokeys.sql":          {Data: []byte(planMeta("00000000-0000-4000-8000-000000000005", "false"))},
		"__test__/test_x.sql": {Data: []byte(planMeta("00000000-0000-4000-8000-000000000006", "true", "000"))},
		"notes.txt":           {Data: []byte("x")},
	}
	p, err := Scan(fsys, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, e := range p.Plan() {
		if e.ExecutionOrder != i+1 {
			t.Errorf("entry %d has execution order %d", i, e.ExecutionOrder)
		}
		got = append(got, e.Path+"@"+e.SortKey)
	}
	want := []string{
		"./pad.sql@ 999",
		"./Y.sql@./Y.sql", "./nokeys.sql@./nokeys.sql", "./notes.txt@./notes.txt", "./z.sql@./z.sql",
		"./a.sql@020", "./b.sql@020", "./b.sql@900",
		"./é.sql@Zz", "./é.sql@éa",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range p.Plan() {
		if e.Path == "./z.sql" && (!e.Idempotent || e.ID != "" || e.HasMetadata || len(e.SortKeys) != 0) {
			t.Errorf("a file without metadata gave %+v", e)
		}
		if e.Path == "./a.sql" && (e.Idempotent || e.ID != "00000000-0000-4000-8000-000000000002") {
			t.Errorf("a.sql gave %+v", e)
		}
	}
}

func TestPlanInspectScanCollectsMetadataProblems(t *testing.T) {
	fsys := fstest.MapFS{
		"bad.sql":  {Data: []byte(`/* <pgmi-meta id="nope" idempotent="true"></pgmi-meta> */`)},
		"dup1.sql": {Data: []byte(planMeta("00000000-0000-4000-8000-000000000009", "true"))},
		"dup2.sql": {Data: []byte(planMeta("00000000-0000-4000-8000-000000000009", "true"))},
	}
	if _, err := Scan(fsys, ScanOptions{}); fault.KindOf(err) != fault.DeploySQLMissing {
		t.Errorf("a normal scan must still stop at the missing deploy.sql: %v", err)
	}
	p, err := Scan(fsys, ScanOptions{Inspect: true})
	if err != nil {
		t.Fatal(err)
	}
	if !p.DeploySQLMissing || len(p.Problems) != 1 || p.Problems[0].Path != "./bad.sql" {
		t.Errorf("inspect scan: missing=%v problems=%v", p.DeploySQLMissing, p.Problems)
	}
	d := p.DuplicateIDs()
	if len(d) != 1 || strings.Join(d[0].Paths, ",") != "./dup1.sql,./dup2.sql" {
		t.Errorf("duplicates = %+v", d)
	}
	fsys["deploy.sql"] = &fstest.MapFile{Data: []byte("SELECT 1;")}
	delete(fsys, "bad.sql")
	if _, err := Scan(fsys, ScanOptions{}); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("a normal scan must still refuse duplicate ids: %v", err)
	}
}

// FallbackID is a version 5 UUID of the lower-cased path without "./",
// the same for the same file whatever its case.
func TestFallbackID(t *testing.T) {
	if got := formatUUID(fileIdentitySpace); got == "" || got[14] != '5' {
		t.Fatalf("namespace %s is not a version 5 UUID", got)
	}
	a, b := FallbackID("./migrations/001_users.sql"), FallbackID("./MIGRATIONS/001_Users.SQL")
	if a != b || len(a) != 36 || a[14] != '5' || !strings.ContainsAny(a[19:20], "89ab") {
		t.Fatalf("FallbackID: %s, %s", a, b)
	}
	// The vector is Python's uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL,
	// "pgmi.com/file-identity/v1"), "migrations/001_users.sql").
	if a != "2c3c677b-8759-599b-a981-11994ece23ea" || formatUUID(fileIdentitySpace) != "f0fbfea4-f204-5dc1-aa34-42fb9ce77853" {
		t.Fatalf("FallbackID = %s, namespace %s", a, formatUUID(fileIdentitySpace))
	}
	if FallbackID("./a.sql") == FallbackID("./b.sql") {
		t.Fatal("two paths share a fallback id")
	}
}
