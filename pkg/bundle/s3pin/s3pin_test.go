package s3pin_test

import (
	"net/http"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/fetchtest"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/s3fake"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/s3pin"
)

// TestS3 runs the fetch suite against gofakes3 with versioning on, through
// s3blob and this pinner. One fake for the whole binary: gocloud's URL
// openers read the environment once.
func TestS3(t *testing.T) {
	srv := s3fake.Start(t)
	srv.Setenv(t)
	srv.CreateBucket(t, "bundles", true)
	fetchtest.Run(t, fetchtest.Cloud{
		Put: func(t testing.TB, key string, data []byte) string { return srv.Put(t, "bundles", key, data) },
		URL: func(key string) string { return srv.ObjectURL("bundles", key) },
		Bucket: func(t testing.TB) *blob.Bucket {
			return srv.OpenBucket(t, "bundles", s3fake.NoRetries)
		},
		Faults: srv.Faults,
		Error: func(match func(*http.Request) bool, times, status int) testfakes.Fault {
			code := map[int]string{http.StatusForbidden: "AccessDenied", http.StatusServiceUnavailable: "SlowDown"}[status]
			return s3fake.Error(match, times, status, code)
		},
		ReadsOldVersions: true,
		MissingVersion:   "3sL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY-MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
		DeniedCode:       gcerrors.PermissionDenied,
	})
}
