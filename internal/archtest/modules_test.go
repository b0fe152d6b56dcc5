package archtest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/modules/*.txt from what the shipped binaries link")

const regenerate = "go test ./internal/archtest -run TestModules -update"

// TestModules diffs the modules each shipped binary links against the list
// checked in under testdata/modules/, so that a new dependency, and what it
// drags in, is a decision a reviewer sees in the diff.
func TestModules(t *testing.T) {
	for _, b := range shipped {
		t.Run(b.name, func(t *testing.T) {
			file := filepath.Join("testdata", "modules", b.name+".txt")
			got := shippedModules(t, b)
			if *update {
				writeModules(t, file, b, got)
				return
			}
			want := readModules(t, file)
			added, removed := diff(want, got), diff(got, want)
			if len(added) == 0 && len(removed) == 0 {
				return
			}
			var msg strings.Builder
			fmt.Fprintf(&msg, "%s links modules other than %s lists:\n", b.pkg, file)
			for _, m := range added {
				fmt.Fprintf(&msg, "  + %s\n", m)
			}
			for _, m := range removed {
				fmt.Fprintf(&msg, "  - %s\n", m)
			}
			fmt.Fprintf(&msg, "If the change is intended (and the binary stays within its budget), regenerate the lists with\n  %s\nand commit them.", regenerate)
			t.Error(msg.String())
		})
	}
}

// diff is what is in b and not in a; both sorted.
func diff(a, b []string) []string {
	var out []string
	for _, m := range b {
		if _, found := slices.BinarySearch(a, m); !found {
			out = append(out, m)
		}
	}
	return out
}

func readModules(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v: create it with\n  %s", err, regenerate)
	}
	var mods []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			mods = append(mods, l)
		}
	}
	slices.Sort(mods)
	return mods
}

func writeModules(t *testing.T, file string, b binary, mods []string) {
	t.Helper()
	var buf strings.Builder
	fmt.Fprintf(&buf, "# Modules linked by ./%s (GOOS=linux GOARCH=amd64 CGO_ENABLED=0, -tags %s),\n", b.pkg, b.tags)
	fmt.Fprintf(&buf, "# the main module left out. Checked by TestModules; regenerate with\n#   %s\n", regenerate)
	for _, m := range mods {
		buf.WriteString(m + "\n")
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(buf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d modules)", file, len(mods))
}
