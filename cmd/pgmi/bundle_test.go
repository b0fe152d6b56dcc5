package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// signingKey writes an ed25519 key and an allowed_signers file naming it.
func signingKey(t *testing.T, dir, principal string) (keyFile, allowed string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(dir, principal+".key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sshPub, _ := ssh.NewPublicKey(pub)
	allowed = filepath.Join(dir, principal+".allowed")
	line := principal + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + "\n"
	if err := os.WriteFile(allowed, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return keyFile, allowed
}

func TestBundleRoundTrip(t *testing.T) {
	testpg.Require(t, clusterErr)
	keys := t.TempDir()
	key, allowed := signingKey(t, keys, "release")
	_, foreign := signingKey(t, keys, "mallory")
	dir := project(t, "deploy.sql", "CREATE TABLE from_bundle (id int);", "lib/a.sql", "SELECT 1;", ".env", "PGPASSWORD=never-packed")
	out := filepath.Join(t.TempDir(), "app.tgz")
	c := cli{env: map[string]string{"SOURCE_DATE_EPOCH": "1700000000"}}

	if code, _, stderr := c.run(t, "bundle", dir, "-o", out, "--sign-key", key, "--version", "1.2.3"); code != 0 {
		t.Fatalf("bundle: exit %d\n%s", code, stderr)
	}
	first, _ := os.ReadFile(out)
	if code, _, stderr := c.run(t, "bundle", dir, "-o", out, "--sign-key", key, "--version", "1.2.3"); code != 0 {
		t.Fatalf("bundle again: exit %d\n%s", code, stderr)
	}
	if second, _ := os.ReadFile(out); string(first) != string(second) {
		t.Error("packing the same tree twice gave different bytes")
	}
	if strings.Contains(string(first), "never-packed") {
		t.Error("a hidden file was packed")
	}
	if code, stdout, stderr := c.run(t, "bundle", "verify", out, "--trusted-signers", allowed); code != 0 || !strings.HasPrefix(stdout, "OK ") || !strings.Contains(stdout, ", no validity window)") {
		t.Errorf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := c.run(t, "bundle", "verify", out, "--trusted-signers", foreign); code != 10 {
		t.Errorf("verify with a foreign key: exit %d, want 10\n%s", code, stderr)
	}

	db := freshName(t)
	dropAfter(t, db)
	deploy := []string{"deploy", out, "--connection", cluster.ConnString("postgres"), "-d", db}
	if code, _, stderr := c.run(t, deploy...); code != 10 || !strings.Contains(stderr, "--trusted-signers") {
		t.Errorf("deploy without trust: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := c.run(t, append(deploy, "--trusted-signers", foreign)...); code != 10 {
		t.Errorf("deploy with an untrusted signer: exit %d\n%s", code, stderr)
	}
	if databaseExists(t, db) {
		t.Fatal("a refused bundle created the database")
	}
	code, _, stderr := c.run(t, append(deploy, "--trusted-signers", allowed)...)
	if code != 0 || !strings.Contains(stderr, "signed by release") {
		t.Fatalf("deploy: exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "Loaded 1 files") {
		t.Errorf("want lib/a.sql loaded from the bundle:\n%s", stderr)
	}
}

func TestBundleRefusesWhatTheEngineRefuses(t *testing.T) {
	dir := project(t, "deploy.sql", "SELECT 1;", "logo.png", "\x89PNG\x00")
	out := filepath.Join(t.TempDir(), "bad.tgz")
	code, _, stderr := cli{}.run(t, "bundle", dir, "-o", out)
	if code != 10 || !strings.Contains(stderr, "NUL byte") {
		t.Errorf("exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused bundle was written")
	}
}

func TestDeployBundleURL(t *testing.T) {
	testpg.Require(t, clusterErr)
	keys := t.TempDir()
	key, allowed := signingKey(t, keys, "release")
	dir := project(t, "deploy.sql", "CREATE TABLE from_url (id int);")
	bucket := t.TempDir()
	out := filepath.Join(bucket, "app.tgz")
	if code, _, stderr := (cli{}).run(t, "bundle", dir, "-o", out, "--sign-key", key); code != 0 {
		t.Fatalf("bundle: exit %d\n%s", code, stderr)
	}
	db := freshName(t)
	dropAfter(t, db)
	code, _, stderr := cli{}.run(t, "deploy", "file://"+out, "--trusted-signers", allowed,
		"--connection", cluster.ConnString("postgres"), "-d", db)
	if code != 0 {
		t.Fatalf("deploy file:// URL: exit %d\n%s", code, stderr)
	}
	code, _, stderr = cli{}.run(t, "deploy", "file://"+filepath.Join(bucket, "missing.tgz"), "--trusted-signers", allowed,
		"--connection", cluster.ConnString("postgres"), "-d", db)
	if code != 10 || !strings.Contains(stderr, "not found") {
		t.Errorf("missing object: exit %d\n%s", code, stderr)
	}
}

func TestPublishToFolderThenDeploy(t *testing.T) {
	testpg.Require(t, clusterErr)
	key, allowed := signingKey(t, t.TempDir(), "release")
	dir := project(t, "deploy.sql", "CREATE TABLE published (id int);")
	url := "file://" + filepath.Join(t.TempDir(), "releases-app.tgz")
	code, stdout, stderr := cli{}.run(t, "publish", dir, url, "--sign-key", key, "--version", "2.0")
	if code != 0 || !strings.HasPrefix(stdout, url) {
		t.Fatalf("publish: exit %d\n%s%s", code, stdout, stderr)
	}
	db := freshName(t)
	dropAfter(t, db)
	if code, _, stderr := (cli{}).run(t, "deploy", url, "--trusted-signers", allowed, "--connection", cluster.ConnString("postgres"), "-d", db); code != 0 {
		t.Fatalf("deploy the published bundle: exit %d\n%s", code, stderr)
	}
	if code, _, stderr := (cli{}).run(t, "publish", dir, "not-a-url"); code != 2 {
		t.Errorf("publish to a non-URL: exit %d\n%s", code, stderr)
	}
}
