package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurite"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// pgmi bundle -o creates the output's directories, as the README's pgmi
// local example needs, and leaves no temporary file behind.
func TestBundleOutputCreatesDirectories(t *testing.T) {
	dir := project(t, "deploy.sql", "SELECT 1;")
	drop := t.TempDir()
	out := filepath.Join(drop, "app", "releases", "1.4.tgz")
	code, _, stderr := cli{}.run(t, "bundle", dir, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(drop, "app", "releases", ".pgmi-bundle-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// pgmi publish to file:// creates the folder, and prints a version that
// pgmi deploy accepts (a folder keeps no versions: none).
func TestPublishToFolderPrintsWhatDeployAccepts(t *testing.T) {
	testpg.Require(t, clusterErr)
	key, allowed := signingKey(t, t.TempDir(), "release")
	dir := project(t, "deploy.sql", "CREATE TABLE IF NOT EXISTS published_here (id int);")
	for name, url := range map[string]string{
		"ExistingFolder": "file://" + filepath.Join(t.TempDir(), "app.tgz"),
		"NewFolder":      "file://" + filepath.Join(t.TempDir(), "drop", "app", "1.4.tgz"),
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := cli{}.run(t, "publish", dir, url, "--sign-key", key)
			t.Logf("publish: exit %d\n%s%s", code, stdout, stderr)
			fields := strings.Split(strings.TrimSuffix(stdout, "\n"), "\t")
			if code != 0 || len(fields) != 2 || fields[0] != url {
				t.Fatalf("want 0 and one line: URL, tab, version")
			}
			if sidecars, _ := filepath.Glob(strings.TrimPrefix(url, "file://") + ".attrs"); len(sidecars) != 0 {
				t.Errorf("publish left %v beside the bundle", sidecars)
			}
			db := freshName(t)
			dropAfter(t, db)
			code, _, stderr = cli{}.run(t, "deploy", url, "--bundle-version", fields[1], "--trusted-signers", allowed,
				"--connection", cluster.ConnString("postgres"), "-d", db)
			if code != 0 {
				t.Fatalf("deploy %s --bundle-version %q: exit %d\n%s", url, fields[1], code, stderr)
			}
		})
	}
}

// Without a region anywhere, publishing to S3 says where to set one.
func TestPublishToS3NeedsARegion(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	dir := project(t, "deploy.sql", "SELECT 1;")
	code, _, stderr := cli{}.run(t, "publish", dir, "s3://releases/app/1.4.tgz")
	t.Logf("publish: exit %d\n%s", code, stderr)
	if code != 10 || !strings.Contains(stderr, "AWS_REGION") || !strings.Contains(stderr, "?region=") {
		t.Fatalf("exit %d, want 10 and an error saying how to set the region:\n%s", code, stderr)
	}
}

// Publishing to Azure Blob: a refused upload (no container, a reader-only
// identity) is an error that says so, never a panic; a published bundle
// deploys by the version printed.
func TestPublishToAzure(t *testing.T) {
	srv := azurite.Start(t)
	srv.Setenv(t)
	srv.CreateContainer(t, "releases")
	dir := project(t, "deploy.sql", "CREATE TABLE IF NOT EXISTS from_azure (id int);")
	t.Run("MissingContainer", func(t *testing.T) {
		code, _, stderr := cli{}.run(t, "publish", dir, srv.ObjectURL("missing", "app.tgz"))
		t.Logf("publish: exit %d\n%s", code, stderr)
		if code != 10 || !strings.Contains(stderr, "does not exist") {
			t.Fatalf("exit %d, want 10 and an error saying the container does not exist:\n%s", code, stderr)
		}
	})
	t.Run("ReaderOnly", func(t *testing.T) {
		puts := srv.Faults.Inject(azurite.Error(func(r *http.Request) bool { return r.Method == http.MethodPut }, 0,
			http.StatusForbidden, "AuthorizationPermissionMismatch"))
		defer srv.Faults.Clear()
		code, _, stderr := cli{}.run(t, "publish", dir, srv.ObjectURL("releases", "app.tgz"))
		t.Logf("publish: exit %d\n%s", code, stderr)
		if code != 10 || !strings.Contains(stderr, "permission denied") || puts.Failed() == 0 {
			t.Fatalf("exit %d after %d refused writes, want 10 and permission denied:\n%s", code, puts.Failed(), stderr)
		}
	})
	t.Run("Published", func(t *testing.T) { publishToAzureThenDeploy(t, srv, dir) })
}

func publishToAzureThenDeploy(t *testing.T, srv *azurite.Server, dir string) {
	testpg.Require(t, clusterErr)
	key, allowed := signingKey(t, t.TempDir(), "release")
	url := srv.ObjectURL("releases", "app/1.4.tgz")
	downloads := srv.Faults.Inject(testfakes.Fault{Match: func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/app/1.4.tgz")
	}})
	code, stdout, stderr := cli{}.run(t, "publish", dir, url, "--sign-key", key)
	fields := strings.Split(strings.TrimSuffix(stdout, "\n"), "\t")
	if code != 0 || len(fields) != 2 || fields[1] == "" {
		t.Fatalf("publish: exit %d, want 0 and the URL and the ETag\n%s%s", code, stdout, stderr)
	}
	if n := downloads.Seen(); n != 0 {
		t.Errorf("publish downloaded the blob %d times; checking that the ETag pins must not send a request", n)
	}
	db := freshName(t)
	dropAfter(t, db)
	code, _, stderr = cli{}.run(t, "deploy", url, "--bundle-version", fields[1], "--trusted-signers", allowed,
		"--connection", cluster.ConnString("postgres"), "-d", db)
	if code != 0 {
		t.Fatalf("deploy --bundle-version %q: exit %d\n%s", fields[1], code, stderr)
	}
	if downloads.Seen() == 0 {
		t.Error("the download counter saw none of the deploy's downloads either")
	}
}
