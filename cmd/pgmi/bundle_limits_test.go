package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// seedDir is a project with a 7.8 MB seed of repeated INSERTs, far beyond
// the default 200:1 compression ratio.
func seedDir(t *testing.T) string {
	return project(t, "deploy.sql", "CREATE TABLE seed (id int, name text);\n",
		"seed/rows.sql", strings.Repeat("INSERT INTO seed (id, name) VALUES (1, 'same row again');\n", 7_800_000/58))
}

// pgmi bundle refuses what pgmi deploy refuses, under one set of limits
// that a flag or PGMI_MAX_* raises for both.
func TestBundleRefusesWhatDeployRefuses(t *testing.T) {
	testpg.Require(t, clusterErr)
	key, allowed := signingKey(t, t.TempDir(), "release")
	dir := seedDir(t)
	out := filepath.Join(t.TempDir(), "seed.tgz")

	code, _, stderr := cli{}.run(t, "bundle", dir, "-o", out, "--sign-key", key)
	if code != 10 || !strings.Contains(stderr, "compression ratio") || !strings.Contains(stderr, "--max-ratio") {
		t.Fatalf("bundle over the default ratio: exit %d, want 10 naming the ratio and --max-ratio\n%s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused bundle was written")
	}
	if code, _, stderr := (cli{}).run(t, "bundle", dir, "-o", out, "--sign-key", key, "--max-ratio", "nope"); code != 10 || !strings.Contains(stderr, "--max-ratio") {
		t.Fatalf("bad --max-ratio: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := (cli{}).run(t, "bundle", dir, "-o", out, "--sign-key", key, "--max-ratio", "5000"); code != 0 {
		t.Fatalf("bundle --max-ratio 5000: exit %d\n%s", code, stderr)
	}
	raised := cli{env: map[string]string{"PGMI_MAX_RATIO": "5000"}}
	if code, _, stderr := raised.run(t, "bundle", dir, "-o", out, "--sign-key", key); code != 0 {
		t.Fatalf("bundle with PGMI_MAX_RATIO=5000: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := raised.run(t, "bundle", "verify", out, "--trusted-signers", allowed); code != 0 {
		t.Fatalf("bundle verify with PGMI_MAX_RATIO=5000: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := (cli{}).run(t, "bundle", "verify", out, "--trusted-signers", allowed); code != 10 || !strings.Contains(stderr, "compression ratio") {
		t.Fatalf("bundle verify at the default ratio: exit %d, want 10\n%s", code, stderr)
	}

	db := freshName(t)
	dropAfter(t, db)
	deploy := []string{"deploy", out, "--trusted-signers", allowed, "--connection", cluster.ConnString("postgres"), "-d", db}
	if code, _, stderr := (cli{}).run(t, deploy...); code != 10 || !strings.Contains(stderr, "compression ratio") {
		t.Fatalf("deploy at the default ratio: exit %d, want 10\n%s", code, stderr)
	}
	if code, _, stderr := raised.run(t, deploy...); code != 0 {
		t.Fatalf("deploy with PGMI_MAX_RATIO=5000: exit %d\n%s", code, stderr)
	}
}

// The limits are documented where users look: pgmi bundle --help.
func TestBundleHelpListsLimits(t *testing.T) {
	_, stdout, _ := cli{}.run(t, "bundle", "--help")
	for _, want := range []string{"--max-ratio", "PGMI_MAX_RATIO", "--max-total-size", "PGMI_MAX_TOTAL_SIZE", "--max-files", "--max-file-size", "PGMI_MAX_FILE_SIZE"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("pgmi bundle --help does not mention %s:\n%s", want, stdout)
		}
	}
}
