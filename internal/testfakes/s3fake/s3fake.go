// Package s3fake runs gofakes3 in process behind testfakes.Faults on a
// loopback listener, and configures the real AWS SDK (v2) and gocloud's
// s3blob driver to talk to it: path-style addressing, a custom endpoint and
// static credentials. Buckets are created, versioned and filled through the
// SDK, so every byte goes over the real S3 REST protocol.
package s3fake

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
)

// The static identity the fake accepts (gofakes3 checks no signatures).
const (
	Region    = "us-east-1"
	AccessKey = "AKIAPGMITESTFAKE"
	SecretKey = "pgmi-test-secret-not-a-real-key"
)

// Server is a running fake.
type Server struct {
	URL    string            // http://127.0.0.1:port, the S3 endpoint
	Faults *testfakes.Faults // in front of gofakes3
}

// Start runs a fake for the duration of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	faker := gofakes3.New(s3mem.New())
	faults := testfakes.NewFaults(faker.Server())
	srv := httptest.NewServer(faults)
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, Faults: faults}
}

// Client is an SDK client for the fake. opts adjust it, e.g. to turn off
// the SDK's own retries so a test sees every failure.
func (s *Server) Client(opts ...func(*s3.Options)) *s3.Client {
	base := s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	}
	return s3.New(base, opts...)
}

// NoRetries is a client option that leaves retrying to the caller.
func NoRetries(o *s3.Options) { o.RetryMaxAttempts = 1 }

// CreateBucket creates a bucket, with object versioning when versioned.
func (s *Server) CreateBucket(t testing.TB, name string, versioned bool) {
	t.Helper()
	ctx := context.Background()
	c := s.Client()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("s3fake: create bucket %s: %v", name, err)
	}
	if !versioned {
		return
	}
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  aws.String(name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	})
	if err != nil {
		t.Fatalf("s3fake: enable versioning on %s: %v", name, err)
	}
}

// Put uploads an object and returns its version id ("" in an unversioned
// bucket).
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) string {
	t.Helper()
	out, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatalf("s3fake: put %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.VersionId)
}

// OpenBucket opens a bucket through s3blob with a client from Client.
func (s *Server) OpenBucket(t testing.TB, name string, opts ...func(*s3.Options)) *blob.Bucket {
	t.Helper()
	b, err := s3blob.OpenBucket(context.Background(), s.Client(opts...), name, nil)
	if err != nil {
		t.Fatalf("s3fake: open bucket %s: %v", name, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// ObjectURL is the s3:// URL of an object for gocloud's URL opener (and so
// for bundle.Fetch); call Setenv first, which supplies the credentials.
func (s *Server) ObjectURL(bucket, key string) string {
	q := url.Values{
		"region":         {Region},
		"endpoint":       {s.URL},
		"use_path_style": {"true"},
		"disable_https":  {"true"},
		// gofakes3 sends no response checksums; without this the SDK logs
		// a DEBUG line on stderr for every download.
		"response_checksum_validation": {"when_required"},
	}
	return "s3://" + bucket + "/" + key + "?" + q.Encode()
}

// Setenv gives the SDK's default credential chain the fake's static keys
// and hides the machine's own AWS configuration for the rest of the test.
func (s *Server) Setenv(t testing.TB) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           AccessKey,
		"AWS_SECRET_ACCESS_KEY":       SecretKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  Region,
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_ENDPOINT_URL":            "",
		"AWS_ENDPOINT_URL_S3":         "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
}

// Error is a fault answering the first times matching requests (every one
// when times <= 0) with an S3 REST error: status and code as S3 sends them,
// e.g. 403 AccessDenied or 503 SlowDown.
func Error(match func(*http.Request) bool, times, status int, code string) testfakes.Fault {
	return testfakes.Fault{
		Match:  match,
		Times:  times,
		Status: status,
		Header: http.Header{"Content-Type": {"application/xml"}},
		Body: `<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error><Code>" + code +
			"</Code><Message>injected by the test</Message><RequestId>pgmi-fault</RequestId></Error>",
	}
}
