package pgserver

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int // sign
	}{
		{"15", "9.6", 1},
		{"9.6", "9.10", -1},
		{"16", "16", 0},
		{"17", "16", 1},
		{"devel", "9.6", -1},
	} {
		got := compareVersions(tc.a, tc.b)
		if (got > 0) != (tc.want > 0) || (got < 0) != (tc.want < 0) {
			t.Errorf("compareVersions(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNewestBinDirSkipsIncompleteVersions(t *testing.T) {
	root := t.TempDir()
	mk := func(version string, names ...string) {
		bin := filepath.Join(root, version, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(bin, n), nil, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("9.6", "initdb", "postgres")
	mk("15", "initdb", "postgres")
	mk("17", "psql") // client only
	if got, want := newestBinDir(root), filepath.Join(root, "15", "bin"); got != want {
		t.Fatalf("newestBinDir = %q, want %q", got, want)
	}
	if got := newestBinDir(filepath.Join(root, "missing")); got != "" {
		t.Fatalf("newestBinDir of a missing root = %q", got)
	}
}
