package bundle

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCreatedFromEnv(t *testing.T) {
	env := map[string]string{"SOURCE_DATE_EPOCH": "1714564800"}
	got, ok, err := CreatedFromEnv(func(k string) string { return env[k] })
	if err != nil || !ok || !got.Equal(fixedTime) {
		t.Fatalf("%v %v %v", got, ok, err)
	}
	if _, ok, err := CreatedFromEnv(func(string) string { return "" }); ok || err != nil {
		t.Fatal("unset must be ok=false")
	}
	if _, _, err := CreatedFromEnv(func(string) string { return "yesterday" }); err == nil {
		t.Fatal("malformed value accepted")
	}
}

func TestGitSource(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2024-05-01T12:00:00Z", "GIT_AUTHOR_DATE=2024-05-01T12:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	os.WriteFile(filepath.Join(dir, "deploy.sql"), []byte("SELECT 1;\n"), 0o644)
	git("add", ".")
	git("commit", "-q", "-m", "init")
	head := git("rev-parse", "HEAD")
	src, when, err := GitSource(context.Background(), dir)
	if err != nil || src == nil || src.Commit != head || src.Dirty || !when.Equal(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("GitSource: %+v %v %v", src, when, err)
	}
	if commit, err := readGitHead(dir); err != nil || commit != head {
		t.Fatalf("readGitHead: %q %v", commit, err)
	}
	os.WriteFile(filepath.Join(dir, "deploy.sql"), []byte("SELECT 2;\n"), 0o644)
	if src, _, _ := GitSource(context.Background(), dir); src == nil || !src.Dirty {
		t.Fatalf("dirty tree not reported: %+v", src)
	}
	if src, _, err := GitSource(context.Background(), t.TempDir()); src != nil || err != nil {
		t.Fatalf("not a checkout: %+v %v", src, err)
	}
}
