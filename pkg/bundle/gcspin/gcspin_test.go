package gcspin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/fetchtest"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcsfake"
	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/gcspin"
)

// TestGCS runs the fetch suite against fake-gcs-server with object
// versioning, through gcsblob and this pinner. One fake for the whole
// binary: gcsblob's URL opener reads STORAGE_EMULATOR_HOST once.
func TestGCS(t *testing.T) {
	srv := gcsfake.Start(t)
	srv.Setenv(t)
	srv.CreateBucket("bundles", true)
	fetchtest.Run(t, fetchtest.Cloud{
		Put:              func(t testing.TB, key string, data []byte) string { return srv.Put(t, "bundles", key, data) },
		URL:              func(key string) string { return srv.ObjectURL("bundles", key) },
		Bucket:           func(t testing.TB) *blob.Bucket { return srv.OpenBucket(t, "bundles", true) },
		Faults:           srv.Faults,
		Error:            gcsfake.Error,
		ReadsOldVersions: true,
		MissingVersion:   "1700000000000001",
		// gcsblob reports GCS's 403 as NotFound: GCS answers 403 for a
		// missing object to a caller that may not list the bucket.
		DeniedCode: gcerrors.NotFound,
	})
}

// TestBadGeneration: a generation that is not a number is refused before
// any request reaches the server.
func TestBadGeneration(t *testing.T) {
	srv := gcsfake.Start(t)
	srv.CreateBucket("bundles", true)
	srv.Put(t, "bundles", "app.tgz", fetchtest.Pack(t, "SELECT 1;\n"))
	reads := srv.Faults.Inject(testfakes.Fault{Match: testfakes.ObjectReads("app.tgz")})
	_, err := bundle.FetchFrom(context.Background(), srv.OpenBucket(t, "bundles", true), "app.tgz", "12abc",
		&bundle.FetchOptions{Retries: -1})
	var fe *bundle.FetchError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), `generation "12abc" is not a decimal number`) {
		t.Fatalf("error %v", err)
	}
	if reads.Seen() != 0 {
		t.Fatalf("%d reads sent with an unparsable generation", reads.Seen())
	}
}
