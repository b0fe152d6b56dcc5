//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// pgmi bundle writes the archive with the mode any file the user writes
// gets (0666 less the umask); it used to be 0600, the mode of the
// temporary file it renames into place, so another user (a CI step, an
// upload job) could not read it.
func TestBundleFileModeFollowsUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := project(t, "deploy.sql", "SELECT 1;")
	out := filepath.Join(t.TempDir(), "app.tgz")
	if code, _, stderr := (cli{}).run(t, "bundle", dir, "-o", out); code != 0 {
		t.Fatalf("bundle: exit %d\n%s", code, stderr)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o644 {
		t.Fatalf("bundle written with mode %#o, want %#o (0666 less the umask 022)", mode, 0o644)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".pgmi-bundle-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
