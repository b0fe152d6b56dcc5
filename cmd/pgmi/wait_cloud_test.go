package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurite"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcsfake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/s3fake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// publishing is one pgmi publish --wait whose stdout is read as it comes:
// its first line is the URL and version a storage event would carry.
type publishing struct {
	code    int
	version string
	stderr  bytes.Buffer
	done    chan struct{}
}

func startPublishing(t *testing.T, args ...string) *publishing {
	t.Helper()
	p := &publishing{done: make(chan struct{})}
	pr, pw := io.Pipe()
	go func() {
		defer close(p.done)
		defer pw.Close()
		p.code = run(context.Background(), append([]string{"publish"}, args...), streams{
			in: strings.NewReader(""), out: pw, err: &p.stderr,
			env:    func(k string) (string, bool) { return os.LookupEnv(k) },
			setenv: func(string, string) error { return nil },
		})
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	if err != nil {
		<-p.done
		t.Fatalf("publish printed no URL line (exit %d): %v\n%s", p.code, err, p.stderr.String())
	}
	_, p.version, _ = strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
	return p
}

func (p *publishing) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(90 * time.Second):
		t.Fatal("pgmi publish --wait did not return")
	}
	t.Logf("pgmi publish (exit %d):\n%s", p.code, p.stderr.String())
}

// cloudStore is one storage fake as the deployer and the publisher see it.
type cloudStore struct {
	name      string
	objectURL func(key string) string
}

// pgmi publish --wait through each cloud's blob driver against its storage
// fake, the deployer being the pipeline every function runs, given the
// version the upload's event would carry: a success exits 0, deploy.sql
// failing exits 13 naming its line and column, and no deployer exits 17.
func TestPublishWaitClouds(t *testing.T) {
	testpg.Require(t, clusterErr)
	s3srv := s3fake.Start(t)
	s3srv.Setenv(t)
	s3srv.CreateBucket(t, "releases", true)
	gcs := gcsfake.Start(t)
	gcs.Setenv(t)
	gcs.CreateBucket("releases", true)
	az := azurite.Start(t)
	az.Setenv(t)
	az.CreateContainer(t, "releases")
	stores := []cloudStore{
		{"S3", func(key string) string { return s3srv.ObjectURL("releases", key) }},
		{"GCS", func(key string) string { return gcs.ObjectURL("releases", key) }},
		{"AzureBlob", func(key string) string { return az.ObjectURL("releases", key) }},
	}
	keyFile, allowed := signingKey(t, t.TempDir(), "release")
	trusted, err := os.ReadFile(allowed)
	if err != nil {
		t.Fatal(err)
	}
	good := project(t, "deploy.sql", "CREATE TABLE IF NOT EXISTS from_the_cloud (id int);\n")
	bad := project(t, "deploy.sql", "SELECT 1;\n  SELECT nope FROM nowhere;\n")
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			db := freshName(t)
			dropAfter(t, db)
			deployer := func(objectURL, version string) {
				t.Helper()
				u, _ := url.Parse(objectURL)
				env := map[string]string{
					"PGMI_CONNECTION_STRING": cluster.ConnString(db),
					"PGMI_TRUSTED_SIGNERS":   string(trusted),
					"PGMI_BUCKET_URL_PARAMS": u.RawQuery,
				}
				cfg, err := deploy.LoadConfig(context.Background(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
				if err != nil {
					t.Fatal(err)
				}
				d := deploy.New(cfg, nil)
				defer d.Close()
				bucket := u.Scheme + "://" + u.Host
				o := d.Run(context.Background(), deploy.Request{Action: deploy.ActionDeploy, Bucket: bucket,
					Bundle: bucket + u.Path, Version: version, Trigger: deploy.Trigger{Platform: "test", Source: st.name}})
				t.Logf("deployer: %s %v result %s (%v)", o.Status, o.Err, o.ResultURL, o.ResultErr)
			}

			url := st.objectURL("app/1.tgz")
			p := startPublishing(t, good, url, "--sign-key", keyFile, "--wait", "--wait-timeout", "60s")
			if p.version == "" {
				t.Fatalf("%s keeps versions, but publish printed none", st.name)
			}
			deployer(url, p.version)
			p.wait(t)
			if p.code != 0 || !strings.Contains(p.stderr.String(), "✓ "+db+": deployed app/1.tgz ("+p.version+")") {
				t.Fatalf("exit %d, want 0 and the deployed summary", p.code)
			}

			url = st.objectURL("app/2.tgz")
			p = startPublishing(t, bad, url, "--sign-key", keyFile, "--wait", "--wait-timeout", "60s")
			deployer(url, p.version)
			p.wait(t)
			if p.code != 13 || !strings.Contains(p.stderr.String(), "LOCATION: deploy.sql line 2, column 20") {
				t.Fatalf("exit %d, want 13 naming line 2, column 20", p.code)
			}

			p = startPublishing(t, good, st.objectURL("app/3.tgz"), "--sign-key", keyFile, "--wait", "--wait-timeout", "2s")
			p.wait(t)
			if p.code != 17 || !strings.Contains(p.stderr.String(), "no result for") {
				t.Fatalf("exit %d, want 17 when nothing reports", p.code)
			}
		})
	}
}
