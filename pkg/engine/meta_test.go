package engine

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

const metaPath = "./migrations/001.sql"

// metaBlock wraps attributes and inner XML in a <pgmi-meta> comment.
func metaBlock(attrs, inner string) string {
	return "/*\n<pgmi-meta " + attrs + ">" + inner + "</pgmi-meta>\n*/\nSELECT 1;\n"
}

const validID = `id="6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83"`

func TestExtractMetadata(t *testing.T) {
	const canon = "6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83"
	tests := []struct {
		name    string
		content string
		want    *Metadata
	}{
		{"no comment", "SELECT 1;", nil},
		{"comment without block", "/* just a note */ SELECT 1;", nil},
		{"minimal", metaBlock(validID+` idempotent="true"`, ""), &Metadata{ID: canon, Idempotent: true}},
		{"upper-case id is lowered",
			metaBlock(`id="6F1C2A4E-8D3B-4C7A-9E21-5B0D4F6A7C83" idempotent="false"`, ""), &Metadata{ID: canon}},
		{"braced id", metaBlock(`id="{6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83}" idempotent="0"`, ""), &Metadata{ID: canon}},
		{"urn id", metaBlock(`id="URN:UUID:6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83" idempotent="1"`, ""),
			&Metadata{ID: canon, Idempotent: true}},
		{"32 hex digits", metaBlock(`id="6f1c2a4e8d3b4c7a9e215b0d4f6a7c83" idempotent="T"`, ""),
			&Metadata{ID: canon, Idempotent: true}},
		{"idempotent is trimmed", metaBlock(validID+` idempotent="  True "`, ""), &Metadata{ID: canon, Idempotent: true}},
		{"description and sort keys verbatim",
			metaBlock(validID+` idempotent="false" extra="ignored"`,
				"<description>  padded  </description><sortKeys><key>  050/x  </key><key>10-a</key></sortKeys><unknown/>"),
			&Metadata{ID: canon, SortKeys: []string{"  050/x  ", "10-a"}, Description: "  padded  "}},
		{"empty sortKeys", metaBlock(validID+` idempotent="false"`, "<sortKeys></sortKeys>"), &Metadata{ID: canon}},
		{"text before the element is skipped",
			"/* Metadata for this file:\n<pgmi-meta " + validID + ` idempotent="true"/>` + " */", &Metadata{ID: canon, Idempotent: true}},
		{"found after a line comment and another block comment",
			"-- header\n/* licence */\nSELECT 1;\n" + metaBlock(validID+` idempotent="true"`, ""), &Metadata{ID: canon, Idempotent: true}},
		{"nested comment belongs to the outer one",
			"/* <pgmi-meta " + validID + ` idempotent="true"><description>a /* b */ c</description></pgmi-meta> */`,
			&Metadata{ID: canon, Idempotent: true, Description: "a /* b */ c"}},
		{"unterminated comment runs to the end",
			"SELECT 1; /* <pgmi-meta " + validID + ` idempotent="true"></pgmi-meta>`, &Metadata{ID: canon, Idempotent: true}},
		{"block inside a dollar body is ignored",
			"DO $$ /* <pgmi-meta " + validID + ` idempotent="true"></pgmi-meta> */ $$;`, nil},
		{"block inside a string is ignored",
			"SELECT '/* <pgmi-meta " + validID + ` idempotent="true"></pgmi-meta> */';`, nil},
		{"a comment inside a line comment is no comment",
			"-- /* <pgmi-meta " + validID + ` idempotent="true"></pgmi-meta> */` + "\nSELECT 1;", nil},
		{"self-closing without attributes is not a block", "/* <pgmi-meta/> */", nil},
		{"in a string inside a block found once",
			metaBlock(validID+` idempotent="true"`, "") + "SELECT '<pgmi-meta >';", &Metadata{ID: canon, Idempotent: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExtractMetadata(metaPath, []byte(tt.content))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestExtractMetadataErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string // substrings, in order
	}{
		{"missing id", metaBlock(`idempotent="true"`, ""),
			[]string{"invalid PGMI metadata in ./migrations/001.sql:\n  1. the id attribute is missing"}},
		{"nil id", metaBlock(`id="00000000-0000-0000-0000-000000000000" idempotent="true"`, ""),
			[]string{"invalid PGMI metadata in", "1. id must not be the nil UUID"}},
		{"malformed id", metaBlock(`id="6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c8" idempotent="true"`, ""),
			[]string{"1. id \"6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c8\" is not a UUID"}},
		{"missing idempotent", metaBlock(validID, ""), []string{"1. the idempotent attribute is missing"}},
		{"idempotent not boolean", metaBlock(validID+` idempotent="yes"`, ""), []string{`1. idempotent "yes" is not a boolean`}},
		{"whitespace description", metaBlock(validID+` idempotent="true"`, "<description> \n\t</description>"),
			[]string{"1. the description holds only whitespace"}},
		{"whitespace key", metaBlock(validID+` idempotent="true"`, "<sortKeys><key>a</key><key>  </key><key></key></sortKeys>"),
			[]string{"1. sort key 2 is empty or whitespace-only", "2. sort key 3 is empty or whitespace-only"}},
		{"every problem listed", metaBlock(`id="nope"`, "<description> </description><sortKeys><key> </key></sortKeys>"),
			[]string{"1. id \"nope\" is not a UUID", "2. the idempotent attribute is missing", "3. the description", "4. sort key 1"}},
		{"two blocks", metaBlock(validID+` idempotent="true"`, "") + metaBlock(validID+` idempotent="true"`, ""),
			[]string{"metadata error in ./migrations/001.sql: Multiple metadata blocks found"}},
		{"old namespaced form", "/* <pgmi:meta id=\"x\"></pgmi:meta> */", []string{"metadata error in ./migrations/001.sql:", "<pgmi:meta>"}},
		{"too large", metaBlock(validID+` idempotent="true"`, "<description>"+strings.Repeat("x", 10240)+"</description>"),
			[]string{"metadata error in ./migrations/001.sql:", "more than the limit of 10240"}},
		{"XML syntax error", metaBlock(validID+` idempotent="true"`, "<description>unclosed"),
			[]string{"metadata error in ./migrations/001.sql: XML syntax error"}},
		{"unquoted attribute", "/* <pgmi-meta id=1 idempotent=\"true\"></pgmi-meta> */", []string{"metadata error in", "XML syntax error"}},
		{"another element first", "/* <other/> <pgmi-meta " + validID + ` idempotent="true"></pgmi-meta> */`,
			[]string{"metadata error in", "expected element type <pgmi-meta> but have <other>"}},
		{"whitespace after <", "/* < pgmi-meta " + validID + ` idempotent="true"></pgmi-meta> */`, []string{"metadata error in"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExtractMetadata(metaPath, []byte(tt.content))
			if err == nil {
				t.Fatalf("no error; got %+v", got)
			}
			var e *fault.Error
			if !errors.As(err, &e) || e.Kind != fault.Config || exitcode.Of(err) != 10 {
				t.Fatalf("want a fault.Config *fault.Error (exit 10), got %T %v", err, err)
			}
			msg, rest := err.Error(), err.Error()
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q lacks %q (in order)", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestExtractMetadataSizeLimitIsOnTrimmedBody(t *testing.T) {
	head := "<pgmi-meta " + validID + ` idempotent="true"><description>`
	tail := "</description></pgmi-meta>"
	fill := strings.Repeat("x", 10240-len(head)-len(tail))
	content := "/*   \n" + head + fill + tail + "\n\n  */"
	if _, err := ExtractMetadata(metaPath, []byte(content)); err != nil {
		t.Fatalf("a 10240-byte body must pass: %v", err)
	}
	content = "/*" + head + fill + "x" + tail + "*/"
	if _, err := ExtractMetadata(metaPath, []byte(content)); err == nil {
		t.Fatal("a 10241-byte body must fail")
	}
}

func TestCanonicalUUID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83", "6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83", true},
		{"6F1C2A4E-8D3B-4C7A-9E21-5B0D4F6A7C83", "6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83", true},
		{"{6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83}", "6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83", true},
		{"urn:uuid:6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83", "6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83", true},
		{"Urn:Uuid:6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83", "6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83", true},
		{"6f1c2a4e8d3b4c7a9e215b0d4f6a7c83", "6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83", true},
		{"00000000-0000-0000-0000-000000000000", nilUUID, true}, // parses; the nil check is the caller's
		{"", "", false},
		{"6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c8g", "", false},
		{"6f1c2a4e+8d3b-4c7a-9e21-5b0d4f6a7c83", "", false},
		{"(6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83)", "", false},
		{"{6f1c2a4e8d3b4c7a9e215b0d4f6a7c83}", "", false},
		{"urn:uuid:6f1c2a4e8d3b4c7a9e215b0d4f6a7c83", "", false},
		{" 6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83", "", false},
		{"6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83-", "", false},
	}
	for _, tt := range tests {
		got, ok := canonicalUUID(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("canonicalUUID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMetaIdempotentValues(t *testing.T) {
	for _, v := range []string{"1", "t", "T", "TRUE", "true", "True", " true\n"} {
		if got, problem := metaIdempotent(&v); !got || problem != "" {
			t.Errorf("%q: got %v %q", v, got, problem)
		}
	}
	for _, v := range []string{"0", "f", "F", "FALSE", "false", "False"} {
		if got, problem := metaIdempotent(&v); got || problem != "" {
			t.Errorf("%q: got %v %q", v, got, problem)
		}
	}
	for _, v := range []string{"", "yes", "no", "tRUE", "2"} {
		if _, problem := metaIdempotent(&v); problem == "" {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestIsSQLExtension(t *testing.T) {
	yes := []string{"a.sql", "A.SQL", "x.Ddl", "x.dml", "x.dql", "x.dcl", "x.psql", "x.pgsql", "x.PLPGSQL",
		"./dir/b.sql", "archive.tar.sql", ".sql"}
	no := []string{"", "sql", "a.sql.bak", "a.sqlx", "notes.txt~", "trailingdot.", "Makefile", "dir.sql/readme", "a.sql ", "a.txt"}
	for _, n := range yes {
		if !IsSQLExtension(n) {
			t.Errorf("IsSQLExtension(%q) = false", n)
		}
	}
	for _, n := range no {
		if IsSQLExtension(n) {
			t.Errorf("IsSQLExtension(%q) = true", n)
		}
	}
}

func TestMetaGolden(t *testing.T) {
	goldenCase(t, "meta", ".sql", func(t *testing.T, in []byte) string {
		m, err := ExtractMetadata("./golden.sql", in)
		switch {
		case err != nil:
			return "error: " + err.Error() + "\n"
		case m == nil:
			return "no metadata\n"
		}
		return fmt.Sprintf("id: %s\nidempotent: %v\nsortKeys: %q\ndescription: %q\n", m.ID, m.Idempotent, m.SortKeys, m.Description)
	})
}

// FuzzExtractMetadata: never panics; errors are always fault.Config.
func FuzzExtractMetadata(f *testing.F) {
	for _, s := range []string{
		metaBlock(validID+` idempotent="true"`, "<description>d</description><sortKeys><key>k</key></sortKeys>"),
		metaBlock(`idempotent="x"`, "<sortKeys><key> </key></sortKeys>"),
		"/* <pgmi-meta id=\"{6f1c2a4e-8d3b-4c7a-9e21-5b0d4f6a7c83}\" idempotent=\"t\"/> */",
		"/* <pgmi:meta> */", "/* /* <pgmi-meta > */", "$$ /* <pgmi-meta > */ $$", "/* <pgmi-meta >&bad;</pgmi-meta> */",
		"/*<pgmi-meta\n>", "",
	} {
		f.Add([]byte(s))
	}
	for _, s := range goldenInputs(f, "meta", ".sql") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		m, err := ExtractMetadata("./f.sql", content)
		if err != nil {
			if m != nil || fault.KindOf(err) != fault.Config {
				t.Fatalf("error %v with result %+v", err, m)
			}
			return
		}
		if m != nil {
			if _, ok := canonicalUUID(m.ID); !ok || m.ID == nilUUID || strings.ToLower(m.ID) != m.ID {
				t.Fatalf("bad id %q", m.ID)
			}
		}
	})
}
