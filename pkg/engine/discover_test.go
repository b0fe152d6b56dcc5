package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

func mapFS(kv ...string) fstest.MapFS {
	m := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return m
}

func TestScanDiscovery(t *testing.T) {
	p, err := Scan(mapFS(
		"deploy.sql", "SELECT 1;",
		"Deploy.Sql", "dropped: root deploy.sql in any case",
		"sub/deploy.sql", "SELECT 2;",
		".env", "PGPASSWORD=x",
		".git/config", "x",
		"sub/.hidden.sql", "x",
		"node_modules/a.sql", "x",
		"lib/__pycache__/x.pyc", "x",
		"README.md", "# readme",
		"pgmi.yaml", "params: {}",
		"notes.txt~", "n",
		"__test__/_setup.sql", "SELECT 1;",
		"__test__/README.md", "tests",
		"__test__/sub/deep/t.sql", "SELECT 1;",
		"lib/__tests__/x.SQL", "SELECT 1;",
		"lib/__init__.py", "",
	), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sources []string
	for _, f := range p.Sources {
		sources = append(sources, f.Path)
	}
	wantSources := "./README.md ./lib/__init__.py ./notes.txt~ ./pgmi.yaml ./sub/deploy.sql"
	if got := strings.Join(sources, " "); got != wantSources {
		t.Errorf("sources = %s\nwant      %s", got, wantSources)
	}
	var tests []string
	for _, f := range p.Tests {
		tests = append(tests, fmt.Sprintf("%s(%s,fixture=%v)", f.Path, f.Directory, f.Fixture))
	}
	wantTests := "./__test__/_setup.sql(./__test__/,fixture=true) ./__test__/sub/deep/t.sql(./__test__/sub/deep/,fixture=false) ./lib/__tests__/x.SQL(./lib/__tests__/,fixture=false)"
	if got := strings.Join(tests, " "); got != wantTests {
		t.Errorf("tests = %s\nwant    %s", got, wantTests)
	}
	var dirs []string
	for _, d := range p.TestDirs {
		dirs = append(dirs, fmt.Sprintf("%s<%s>%d", d.Path, d.Parent, d.Depth))
	}
	// Intermediate levels that hold no file are skipped; independent roots stay apart.
	wantDirs := "./__test__/<>0 ./lib/__tests__/<>0 ./__test__/sub/deep/<./__test__/>2"
	if got := strings.Join(dirs, " "); got != wantDirs {
		t.Errorf("test dirs = %s\nwant        %s", got, wantDirs)
	}
	if p.Scanned != 9 {
		t.Errorf("scanned = %d, want 9 (5 sources + 4 files under test dirs)", p.Scanned)
	}
}

func TestNearestAncestor(t *testing.T) {
	set := map[string]bool{"./__test__/": true, "./__test__/orders/": true, "./__test__/orders/deep/x/": true}
	for dir, want := range map[string]string{
		"./__test__/":               "",
		"./__test__/orders/":        "./__test__/",
		"./__test__/orders/deep/x/": "./__test__/orders/",
	} {
		if got := nearestAncestor(dir, set); got != want {
			t.Errorf("nearestAncestor(%s) = %q, want %q", dir, got, want)
		}
	}
}

func TestScanRejections(t *testing.T) {
	big := strings.Repeat("x", 101)
	cases := []struct {
		name string
		fsys fstest.MapFS
		kind fault.Kind
		want string
	}{
		{"no deploy.sql", mapFS("a.sql", "x"), fault.DeploySQLMissing, "deploy.sql not found"},
		{"upper-case only", mapFS("DEPLOY.SQL", "x"), fault.DeploySQLMissing, "deploy.sql not found"},
		{"deploy.sql dir", fstest.MapFS{"deploy.sql/x": {Data: []byte("x")}}, fault.Config, "is a directory"},
		{"NUL byte", mapFS("deploy.sql", "x", "a.bin", "a\x00b"), fault.Config, "./a.bin contains a NUL byte"},
		{"invalid UTF-8", mapFS("deploy.sql", "x", "a.sql", "caf\xe9"), fault.Config, "./a.sql is not valid UTF-8"},
		{"deploy.sql invalid UTF-8", mapFS("deploy.sql", "\xff"), fault.Config, "./deploy.sql is not valid UTF-8"},
		{"oversize", mapFS("deploy.sql", "x", "big.txt", big), fault.Config, "over the 100-byte limit"},
		{"dunder", mapFS("deploy.sql", "x", "__foo__/a.sql", "x"), fault.Config, `unsupported directory "__foo__"`},
		{"symlink", fstest.MapFS{"deploy.sql": {Data: []byte("x")}, "link.sql": {Mode: fs.ModeSymlink}}, fault.Config, "refusing to read symlink ./link.sql"},
		{"duplicate id", mapFS("deploy.sql", "x",
			"a.sql", `/* <pgmi-meta id="6f1c1f0e-2b61-4a57-9c53-0d6b8f3c1a01" idempotent="true"></pgmi-meta> */`,
			"b.sql", `/* <pgmi-meta id="6F1C1F0E-2B61-4A57-9C53-0D6B8F3C1A01" idempotent="false"></pgmi-meta> */`),
			fault.Config, "6f1c1f0e-2b61-4a57-9c53-0d6b8f3c1a01: ./a.sql, ./b.sql"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Scan(tc.fsys, ScanOptions{MaxFileSize: 100})
			var e *fault.Error
			if !errors.As(err, &e) || e.Kind != tc.kind || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (kind %v), want %v containing %q", err, fault.KindOf(err), tc.kind, tc.want)
			}
		})
	}
}

func TestFileExtension(t *testing.T) {
	for name, want := range map[string]string{
		"a.SQL": ".SQL", "a.sql.bak": ".bak", "notes.txt~": "", "Makefile": "", "trailingdot.": "", ".env": ".env", "x.tar.gz": ".gz",
	} {
		if got := fileExtension(name); got != want {
			t.Errorf("fileExtension(%q) = %q, want %q", name, got, want)
		}
	}
}
