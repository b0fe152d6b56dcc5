package azpin_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurite"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/fetchtest"
	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/azpin"
)

// TestAzure runs the fetch suite against Azurite, through azureblob and this
// pinner: the version is the ETag, so a replaced blob fails as changed
// instead of reading old bytes. One Azurite (a Node process, about a second
// to start and stop) serves every subtest.
func TestAzure(t *testing.T) {
	srv := azurite.Start(t)
	srv.Setenv(t)
	srv.CreateContainer(t, "bundles")
	t.Run("Suite", func(t *testing.T) { suite(t, srv) })
	t.Run("ETagForms", func(t *testing.T) { etagForms(t, srv) })
}

func suite(t *testing.T, srv *azurite.Server) {
	fetchtest.Run(t, fetchtest.Cloud{
		Put:    func(t testing.TB, key string, data []byte) string { return srv.Put(t, "bundles", key, data) },
		URL:    func(key string) string { return srv.ObjectURL("bundles", key) },
		Bucket: func(t testing.TB) *blob.Bucket { return srv.OpenBucket(t, "bundles", "", true) },
		Faults: srv.Faults,
		// AuthenticationFailed is the one 403 code azureblob maps to
		// PermissionDenied (see ETagForms/WrongKey for the others).
		Error: func(match func(*http.Request) bool, times, status int) testfakes.Fault {
			code := map[int]string{http.StatusForbidden: "AuthenticationFailed", http.StatusServiceUnavailable: "ServerBusy"}[status]
			return azurite.Error(match, times, status, code)
		},
		ReadsOldVersions: false,
		DeniedCode:       gcerrors.PermissionDenied,
	})
}

// etagForms: the quoted HTTP form works like Event Grid's bare one; a blob
// version id is refused before any request; a wrong account key is a 403
// error.
func etagForms(t *testing.T, srv *azurite.Server) {
	srv.CreateContainer(t, "forms")
	etag := srv.Put(t, "forms", "app.tgz", fetchtest.Pack(t, "SELECT 'forms';\n"))
	reads := srv.Faults.Inject(testfakes.Fault{Match: testfakes.ObjectReads("app.tgz")})
	ctx := context.Background()
	opts := &bundle.FetchOptions{Retries: 3, Backoff: time.Millisecond}

	t.Run("QuotedETag", func(t *testing.T) {
		r, err := bundle.FetchFrom(ctx, srv.OpenBucket(t, "forms", "", true), "app.tgz", `"`+etag+`"`, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := fetchtest.ReadDeploy(t, r); err != nil || got != "SELECT 'forms';\n" {
			t.Fatalf("deploy.sql %q, %v", got, err)
		}
	})
	t.Run("VersionIDRefused", func(t *testing.T) {
		before := reads.Seen()
		_, err := bundle.FetchFrom(ctx, srv.OpenBucket(t, "forms", "", true), "app.tgz", "2024-05-01T12:00:00.1234567Z", opts)
		if err == nil || !strings.Contains(err.Error(), "version id") || reads.Seen() != before {
			t.Fatalf("error %v after %d reads", err, reads.Seen()-before)
		}
	})
	t.Run("WrongKey", func(t *testing.T) { wrongKey(t, srv, etag, reads) })
}

func wrongKey(t *testing.T, srv *azurite.Server, etag string, reads *testfakes.Injected) {
	ctx := context.Background()
	opts := &bundle.FetchOptions{Retries: 3, Backoff: time.Millisecond}
	// A wrong account key: Azurite's real 403. It must be a *FetchError that
	// names the 403, and its attempts must be bounded.
	key := base64.StdEncoding.EncodeToString([]byte("not the account key of devstoreaccount1"))
	before := reads.Seen()
	_, err := bundle.FetchFrom(ctx, srv.OpenBucket(t, "forms", key, true), "app.tgz", etag, opts)
	var fe *bundle.FetchError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "403") {
		t.Fatalf("wrong key: %v", err)
	}
	attempts := reads.Seen() - before
	if attempts > 1+opts.Retries {
		t.Fatalf("wrong key: %d attempts, more than 1 + %d retries", attempts, opts.Retries)
	}
	// gocloud's azureblob (v0.47) maps only AuthenticationFailed to
	// PermissionDenied; Azurite answers AuthorizationFailure, which azpin's
	// error classifier maps by HTTP status.
	if fe.Code != gcerrors.PermissionDenied || fe.Retryable() || attempts != 1 {
		t.Errorf("a 403 AuthorizationFailure is code %v, retryable %v, %d attempts; want PermissionDenied, permanent, 1 attempt",
			fe.Code, fe.Retryable(), attempts)
	}
}
