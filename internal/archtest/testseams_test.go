package archtest

import (
	"go/build/constraint"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShippedBinariesLinkNoTestCode: a shipped binary links neither the
// testing package nor the module's test helpers (internal/testpg,
// internal/testfakes/…). Tests run those binaries as built for release, so
// test code in them would be code that only tests use, shipped. Tags that
// only trim dependencies (grpcnotrace …) cannot add a package, so the
// binaries are listed here with the tags they need to build.
func TestShippedBinariesLinkNoTestCode(t *testing.T) {
	for _, b := range []struct{ pkg, tags string }{
		{module + "/cmd/pgmi", ""},
		{module + "/functions/aws", "lambda.norpc"},
		{module + "/functions/gcp", ""},
		{module + "/functions/azure", ""},
	} {
		out, err := exec.Command("go", "list", "-deps", "-tags", b.tags, b.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps -tags %q %s: %v", b.tags, b.pkg, err)
		}
		for _, d := range strings.Fields(string(out)) {
			if d == "testing" || strings.HasPrefix(d, module+"/internal/test") {
				t.Errorf("%s links %s: test helpers stay out of shipped binaries (pgmi local's PostgreSQL comes from internal/pgserver)", b.pkg, d)
			}
		}
	}
}

// TestNoBuildTaggedHooks: no non-test file under cmd/, functions/ or pkg/
// is compiled in or out by a build tag other than an operating system, an
// architecture, "unix" or lambda.norpc, so there is no second, tagged build
// of a shipped package for tests to run instead of the real one.
func TestNoBuildTaggedHooks(t *testing.T) {
	allowed := platformTags(t)
	allowed["unix"], allowed["lambda.norpc"] = true, true
	for _, dir := range []string{"cmd", "functions", "pkg"} {
		root := filepath.Join("..", "..", dir)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			for _, tag := range buildTags(t, p) {
				if !allowed[tag] {
					t.Errorf("%s: //go:build names %q: a build-tagged variant of shipped code is a test seam; make it configuration", p, tag)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// platformTags are every GOOS and GOARCH the toolchain knows.
func platformTags(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "tool", "dist", "list").Output()
	if err != nil {
		t.Fatalf("go tool dist list: %v", err)
	}
	tags := map[string]bool{}
	for _, pair := range strings.Fields(string(out)) {
		goos, goarch, _ := strings.Cut(pair, "/")
		tags[goos], tags[goarch] = true, true
	}
	return tags
}

// buildTags lists the tags the //go:build line of file p names, if any.
func buildTags(t *testing.T, p string) []string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "package ") {
			break
		}
		if !constraint.IsGoBuild(line) {
			continue
		}
		expr, err := constraint.Parse(line)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		expr.Eval(func(tag string) bool { tags = append(tags, tag); return true })
	}
	return tags
}
