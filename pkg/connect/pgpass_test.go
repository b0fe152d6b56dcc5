package connect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPassfileLookup(t *testing.T) {
	p := ParsePassfile([]byte(strings.Join([]string{
		"# comment",
		"",
		"db.example.com:5432:app:deployer:first",
		"db.example.com:5432:app:deployer:second (never reached)",
		"db.example.com:*:*:deployer:any-port",
		`h\:x:5432:d\\b:u:pa\:ss\\word`,
		"localhost:5433:*:sock:via-socket",
		"windows:5432:db:u:crlf\r",
		"*:*:*:*:fallback:with:colons",
		"too:few:fields",
	}, "\n")))
	cases := []struct {
		host     string
		port     uint16
		db, user string
		want     string
	}{
		{"db.example.com", 5432, "app", "deployer", "first"},
		{"db.example.com", 6000, "other", "deployer", "any-port"},
		{"h:x", 5432, `d\b`, "u", `pa:ss\word`},
		{"/var/run/postgresql", 5433, "x", "sock", "via-socket"},
		{"", 5433, "x", "sock", "via-socket"},
		{"elsewhere", 1, "x", "y", "fallback:with:colons"},
		{"windows", 5432, "db", "u", "crlf"},
	}
	for _, tc := range cases {
		if got, ok := p.Lookup(tc.host, tc.port, tc.db, tc.user); !ok || got != tc.want {
			t.Errorf("Lookup(%s,%d,%s,%s) = %q,%v; want %q", tc.host, tc.port, tc.db, tc.user, got, ok, tc.want)
		}
	}
	if p.Len() != 7 {
		t.Errorf("Len = %d, want 7", p.Len())
	}
	if _, ok := ParsePassfile([]byte("h:1:d:u:p")).Lookup("h", 2, "d", "u"); ok {
		t.Error("a port mismatch matched")
	}
	var nilFile *Passfile
	if _, ok := nilFile.Lookup("h", 1, "d", "u"); ok {
		t.Error("nil passfile matched")
	}
}

// libpq's rule: a password file others can read is ignored, with a warning.
func TestReadPassfilePermissions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pgpass")
	if err := os.WriteFile(path, []byte("*:*:*:*:pw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	warn := warnLog(&warnings)
	if p := ReadPassfile(path, warn); p != nil {
		t.Error("a world-readable password file was used")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "group or world access") || !strings.Contains(warnings[0], "chmod 0600") {
		t.Errorf("warnings = %q", warnings)
	}
	if strings.Contains(strings.Join(warnings, ""), ":pw") {
		t.Error("the warning quotes the file")
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	warnings = nil
	if p := ReadPassfile(path, warn); p.Len() != 1 || len(warnings) != 0 {
		t.Errorf("0600 file: %v, warnings %q", p, warnings)
	}
	if p := ReadPassfile(filepath.Join(dir, "missing"), warn); p != nil || len(warnings) != 0 {
		t.Errorf("missing file: %v %q", p, warnings)
	}
	if p := ReadPassfile(dir, warn); p != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "not a plain file") {
		t.Errorf("directory: %v %q", p, warnings)
	}
}

func TestDefaultPassfile(t *testing.T) {
	if got := DefaultPassfile(envOf("HOME", "/home/x")); got != filepath.Join("/home/x", ".pgpass") {
		t.Errorf("DefaultPassfile = %q", got)
	}
	if got := DefaultPassfile(envOf()); got != "" {
		t.Errorf("no home: %q", got)
	}
}
