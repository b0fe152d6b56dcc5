package main

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tree writes files (slash paths → content) under a new directory with the
// given mode and modification time, and returns the directory.
func tree(t *testing.T, files map[string]string, mode fs.FileMode, mtime time.Time) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var layout = map[string]string{
	"handler":                   "\x7fELF pretend binary",
	"host.json":                 `{"customHandler":{"description":{"defaultExecutablePath":"handler"}}}`,
	"Reset/function.json":       `{"bindings":[]}`,
	"BlobCreated/function.json": `{"bindings":[]}`,
}

func zipOf(t *testing.T, dir string, execs map[string]bool) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "a.zip")
	mtime, err := modTime("")
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(out, dir, execs, mtime); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestWriteIsDeterministic(t *testing.T) {
	// The same content with different file modes and times on disk must give
	// the same bytes.
	a := tree(t, layout, 0o600, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	b := tree(t, layout, 0o777, time.Date(2031, 1, 2, 3, 4, 5, 0, time.Local))
	execs := map[string]bool{"handler": true}
	za, zb := zipOf(t, a, execs), zipOf(t, b, execs)
	if !bytes.Equal(za, zb) {
		t.Fatalf("two zips of the same files differ (%d and %d bytes)", len(za), len(zb))
	}
}

func TestWriteLayout(t *testing.T) {
	dir := tree(t, layout, 0o644, time.Now())
	data := zipOf(t, dir, map[string]bool{"handler": true})
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"BlobCreated/function.json", "Reset/function.json", "handler", "host.json"}
	if len(zr.File) != len(want) {
		t.Fatalf("entries: got %d, want %v", len(zr.File), want)
	}
	epoch := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, f := range zr.File {
		if f.Name != want[i] {
			t.Errorf("entry %d: got %q, want %q (sorted)", i, f.Name, want[i])
		}
		wantMode := fs.FileMode(0o644)
		if f.Name == "handler" {
			wantMode = 0o755
		}
		if got := f.Mode(); got != wantMode {
			t.Errorf("%s: mode %v, want %v", f.Name, got, wantMode)
		}
		if !f.Modified.Equal(epoch) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, epoch)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(content) != layout[f.Name] {
			t.Errorf("%s: content %q, want %q", f.Name, content, layout[f.Name])
		}
	}
}

func TestWriteRefuses(t *testing.T) {
	mtime, _ := modTime("")
	t.Run("missing executable", func(t *testing.T) {
		dir := tree(t, map[string]string{"bootstrap": "x"}, 0o755, time.Now())
		err := Write(filepath.Join(t.TempDir(), "a.zip"), dir, map[string]bool{"bootstarp": true}, mtime)
		if err == nil || !strings.Contains(err.Error(), "bootstarp") {
			t.Fatalf("got %v, want an error naming the missing -x file", err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		dir := tree(t, map[string]string{"bootstrap": "x"}, 0o755, time.Now())
		if err := os.Symlink("bootstrap", filepath.Join(dir, "link")); err != nil {
			t.Skip("no symlinks here:", err)
		}
		err := Write(filepath.Join(t.TempDir(), "a.zip"), dir, nil, mtime)
		if err == nil || !strings.Contains(err.Error(), "link") {
			t.Fatalf("got %v, want a refusal naming the link", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		err := Write(filepath.Join(t.TempDir(), "a.zip"), t.TempDir(), nil, mtime)
		if err == nil {
			t.Fatal("an empty directory was zipped")
		}
	})
}

func TestRunFlags(t *testing.T) {
	dir := tree(t, map[string]string{"bootstrap": "x"}, 0o644, time.Now())
	out := filepath.Join(t.TempDir(), "b.zip")
	if err := run([]string{"-o", out, "-x", "bootstrap", dir}, "1700000000"); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if got := zr.File[0].Modified.Unix(); got != 1700000000 {
		t.Errorf("SOURCE_DATE_EPOCH: entry time %d, want 1700000000", got)
	}
	if got := zr.File[0].Mode(); got != 0o755 {
		t.Errorf("-x: mode %v, want 0755", got)
	}
	for _, args := range [][]string{{dir}, {"-o", out}, {"-o", out, "-x", "../x", dir}} {
		if err := run(args, ""); err == nil {
			t.Errorf("run(%q) succeeded, want a usage error", args)
		}
	}
	if err := run([]string{"-o", out, dir}, "yesterday"); err == nil {
		t.Error("a bad SOURCE_DATE_EPOCH was accepted")
	}
}
