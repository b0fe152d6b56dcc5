package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// The demo is the README's first command: it must keep working. This runs
// the whole story against a freshly built pgmi; run returns an error when a
// step's result object does not say what the story expects.
func TestDemoStory(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	pgmi := filepath.Join(t.TempDir(), "pgmi")
	build := exec.Command("go", "build", "-o", pgmi, "./cmd/pgmi")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pgmi: %v\n%s", err, out)
	}
	t.Chdir(root) // the demo bundles examples/ by relative path
	if err := run(pgmi, filepath.Join(t.TempDir(), "demo")); err != nil {
		if errors.Is(err, pgserver.ErrNotInstalled) {
			testpg.Require(t, err) // skipped, or failed under CI
		}
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "demo")); err == nil {
		t.Log("note: a demo/ folder from an earlier make demo exists; this test used a temporary one")
	}
}
