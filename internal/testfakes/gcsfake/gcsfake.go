// Package gcsfake runs fake-gcs-server in process behind testfakes.Faults on
// a loopback listener, and configures cloud.google.com/go/storage and
// gocloud's gcsblob driver to talk to it over real HTTP: the JSON API for
// uploads and metadata, the XML API for downloads, as in production.
//
// The server's PublicHost is 127.0.0.1: the storage client downloads with
// GET /bucket/object, which fake-gcs-server routes only when the request's
// host is PublicHost; with the default (storage.googleapis.com) downloads
// fail with 404 while uploads work.
package gcsfake

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/storage"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"google.golang.org/api/option"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
)

// Server is a running fake.
type Server struct {
	URL    string // http://127.0.0.1:port
	Host   string // 127.0.0.1:port, the STORAGE_EMULATOR_HOST form
	Fake   *fakestorage.Server
	Faults *testfakes.Faults // in front of the fake
}

// Start runs a fake for the duration of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	fake, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		NoListener: true,
		PublicHost: "127.0.0.1",
		Writer:     io.Discard,
	})
	if err != nil {
		t.Fatalf("gcsfake: %v", err)
	}
	faults := testfakes.NewFaults(fake.HTTPHandler())
	srv := httptest.NewServer(faults)
	t.Cleanup(func() {
		srv.Close()
		fake.Stop()
	})
	u, _ := url.Parse(srv.URL)
	return &Server{URL: srv.URL, Host: u.Host, Fake: fake, Faults: faults}
}

// CreateBucket creates a bucket; versioned keeps every generation of an
// object readable, as a bucket with object versioning does.
func (s *Server) CreateBucket(name string, versioned bool) {
	s.Fake.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: name, VersioningEnabled: versioned})
}

// Client is a storage client for the fake (no credentials). With noRetries
// the client's own retries are off, so a test sees every failure.
func (s *Server) Client(t testing.TB, noRetries bool) *storage.Client {
	t.Helper()
	c, err := storage.NewClient(context.Background(),
		option.WithEndpoint(s.URL+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("gcsfake: storage client: %v", err)
	}
	if noRetries {
		c.SetRetry(storage.WithPolicy(storage.RetryNever))
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Put uploads an object through the storage client and returns its
// generation as a decimal string, the form GCS events carry.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) string {
	t.Helper()
	w := s.Client(t, false).Bucket(bucket).Object(key).NewWriter(context.Background())
	w.ContentType = "application/gzip"
	if _, err := w.Write(data); err != nil {
		t.Fatalf("gcsfake: put %s/%s: %v", bucket, key, err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("gcsfake: put %s/%s: %v", bucket, key, err)
	}
	return strconv.FormatInt(w.Attrs().Generation, 10)
}

// OpenBucket opens a bucket through gcsblob with a client from Client.
func (s *Server) OpenBucket(t testing.TB, name string, noRetries bool) *blob.Bucket {
	t.Helper()
	b, err := gcsblob.OpenBucket(context.Background(), nil, name, &gcsblob.Options{Client: s.Client(t, noRetries)})
	if err != nil {
		t.Fatalf("gcsfake: open bucket %s: %v", name, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// ObjectURL is the gs:// URL of an object for gocloud's URL opener (and so
// for bundle.Fetch); call Setenv first.
func (s *Server) ObjectURL(bucket, key string) string { return "gs://" + bucket + "/" + key }

// Setenv points gcsblob's URL opener at the fake (STORAGE_EMULATOR_HOST,
// which also makes it skip Application Default Credentials).
func (s *Server) Setenv(t testing.TB) {
	t.Helper()
	t.Setenv("STORAGE_EMULATOR_HOST", s.Host)
	t.Setenv("STORAGE_EMULATOR_HOST_GRPC", "")
}

// Error is a fault answering the first times matching requests (every one
// when times <= 0) with a GCS JSON API error of the given status.
func Error(match func(*http.Request) bool, times, status int) testfakes.Fault {
	msg := strings.ReplaceAll(http.StatusText(status), `"`, "")
	return testfakes.Fault{
		Match:  match,
		Times:  times,
		Status: status,
		Header: http.Header{"Content-Type": {"application/json; charset=UTF-8"}},
		Body:   `{"error":{"code":` + strconv.Itoa(status) + `,"message":"injected: ` + msg + `"}}`,
	}
}
