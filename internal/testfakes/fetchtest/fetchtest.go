// Package fetchtest is the conformance suite every cloud's bundle fetch runs
// (as gocloud's drivertest is for blob drivers): bundle.Pack → upload to a
// fake that speaks the cloud's protocol → bundle.Fetch or bundle.FetchFrom
// through the real gocloud driver and version pinner → bundle.Open → read
// deploy.sql. It checks round trips, version pinning, that not-found and
// permission errors are reported as such and not retried, that transient
// errors are retried, and that a broken download resumes on the pinned
// version.
package fetchtest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/testfakes"
	"github.com/pgmi-cloud/pgmi/pkg/bundle"
)

// Cloud is one cloud's fake, seen through the operations the suite needs.
// Every key the suite uses is fresh, so one bucket serves the whole run.
type Cloud struct {
	// Put uploads data as key and returns the version an upload event
	// would name (S3 versionId, GCS generation, Azure ETag).
	Put func(t testing.TB, key string, data []byte) string
	// URL is key's object URL for bundle.Fetch, with the environment the
	// driver's URL opener needs already set.
	URL func(key string) string
	// Bucket opens the bucket with the SDK's own retries off, so the suite
	// sees every failure and counts bundle's retries.
	Bucket func(t testing.TB) *blob.Bucket
	// Faults sits in front of the fake.
	Faults *testfakes.Faults
	// Error is a fault answering matching requests with this cloud's error
	// response for status: 403 denied, 503 unavailable.
	Error func(match func(*http.Request) bool, times, status int) testfakes.Fault
	// ReadsOldVersions is true when a pinned read of a replaced object
	// returns the old bytes (S3 versions, GCS generations); false when the
	// version is a precondition that fails once the object changed (Azure
	// ETag).
	ReadsOldVersions bool
	// MissingVersion is a well-formed version the bucket never held, for
	// clouds that read old versions.
	MissingVersion string
	// DeniedCode is the code the driver gives an HTTP 403: PermissionDenied,
	// except gcsblob, which reports GCS's 403 as NotFound.
	DeniedCode gcerrors.ErrorCode
}

// Run runs the suite.
func Run(t *testing.T, c Cloud) {
	t.Run("RoundTrip", func(t *testing.T) { roundTrip(t, c) })
	t.Run("PinnedVersion", func(t *testing.T) { pinnedVersion(t, c) })
	t.Run("PinHoldsAcrossUploads", func(t *testing.T) { pinHolds(t, c) })
	t.Run("NotFound", func(t *testing.T) { notFound(t, c) })
	t.Run("PermissionDenied", func(t *testing.T) { denied(t, c) })
	t.Run("TransientRetried", func(t *testing.T) { transient(t, c) })
	t.Run("TransientGivesUp", func(t *testing.T) { givesUp(t, c) })
	t.Run("ResumesBrokenDownload", func(t *testing.T) { resumes(t, c) })
	t.Run("MalformedVersion", func(t *testing.T) { malformed(t, c) })
	t.Run("PublishThenFetchByVersion", func(t *testing.T) { publish(t, c) })
}

// Pack makes a small unsigned bundle whose deploy.sql is deploySQL, with a
// few more files so the archive is more than one read.
func Pack(t testing.TB, deploySQL string) []byte {
	t.Helper()
	f := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s), Mode: 0o644} }
	project := fstest.MapFS{
		"deploy.sql":              f(deploySQL),
		"migrations/001_init.sql": f("CREATE TABLE app (id int PRIMARY KEY);\n"),
		"migrations/002_more.sql": f("ALTER TABLE app ADD COLUMN name text;\n" + strings.Repeat("-- padding\n", 200)),
		"__tests__/test_app.sql":  f("SELECT 1 FROM app;\n"),
	}
	var buf bytes.Buffer
	if _, err := bundle.Pack(context.Background(), project, &buf, &bundle.PackOptions{Name: "app"}); err != nil {
		t.Fatalf("pack: %v", err)
	}
	return buf.Bytes()
}

// fast retries keep the suite quick; three retries as in production.
var fast = &bundle.FetchOptions{Retries: 3, Backoff: time.Millisecond}

// ReadDeploy opens the remote bundle (unsigned allowed) and returns
// deploy.sql after reading every file, so the whole archive is checked.
func ReadDeploy(t testing.TB, r *bundle.Remote) (string, error) {
	t.Helper()
	ctx := context.Background()
	b, err := bundle.Open(ctx, r.Open, &bundle.ReadOptions{AllowUnsigned: true})
	if err != nil {
		return "", err
	}
	defer b.Close()
	for _, f := range b.Manifest().Files {
		if _, err := b.ReadFile(f.Path); err != nil {
			return "", err
		}
	}
	data, err := b.ReadFile("deploy.sql")
	return string(data), err
}

func mustRead(t testing.TB, r *bundle.Remote, want string) {
	t.Helper()
	got, err := ReadDeploy(t, r)
	if err != nil {
		t.Fatalf("read %s version %q: %v", r.URL, r.Version, err)
	}
	if got != want {
		t.Fatalf("read %s version %q: deploy.sql is %q, want %q", r.URL, r.Version, got, want)
	}
}

func fetch(t testing.TB, url, version string) *bundle.Remote {
	t.Helper()
	r, err := bundle.Fetch(context.Background(), url, version, fast)
	if err != nil {
		t.Fatalf("fetch %s version %q: %v", strings.SplitN(url, "?", 2)[0], version, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// fetchError asserts err is a *bundle.FetchError with the code.
func fetchError(t testing.TB, err error, code gcerrors.ErrorCode) *bundle.FetchError {
	t.Helper()
	var fe *bundle.FetchError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want a *bundle.FetchError with code %v", err, err, code)
	}
	if fe.Code != code {
		t.Fatalf("error code %v, want %v: %v", fe.Code, code, err)
	}
	return fe
}

func roundTrip(t *testing.T, c Cloud) {
	key := "releases/round-trip/app.tgz"
	version := c.Put(t, key, Pack(t, "SELECT 'round trip';\n"))
	mustRead(t, fetch(t, c.URL(key), version), "SELECT 'round trip';\n")
	mustRead(t, fetch(t, c.URL(key), ""), "SELECT 'round trip';\n")
}

func pinnedVersion(t *testing.T, c Cloud) {
	key := "releases/pinned/app.tgz"
	v1 := c.Put(t, key, Pack(t, "SELECT 'v1';\n"))
	v2 := c.Put(t, key, Pack(t, "SELECT 'v2';\n"))
	if v1 == v2 {
		t.Fatalf("two uploads gave the same version %q", v1)
	}
	mustRead(t, fetch(t, c.URL(key), v2), "SELECT 'v2';\n")
	mustRead(t, fetch(t, c.URL(key), ""), "SELECT 'v2';\n")
	if c.ReadsOldVersions {
		mustRead(t, fetch(t, c.URL(key), v1), "SELECT 'v1';\n")
		return
	}
	_, err := bundle.Fetch(context.Background(), c.URL(key), v1, fast)
	fe := fetchError(t, err, gcerrors.FailedPrecondition)
	if fe.Retryable() || exitcode.Of(fe) != 10 || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("stale version: retryable %v, exit code %d, message %q; want a permanent \"changed\" error", fe.Retryable(), exitcode.Of(fe), err)
	}
}

// pinHolds uploads again between Fetch and the reads: every pass must read
// the version fetched, or fail if the cloud can only detect the change.
func pinHolds(t *testing.T, c Cloud) {
	key := "releases/pin-holds/app.tgz"
	v1 := c.Put(t, key, Pack(t, "SELECT 'first';\n"))
	r := fetch(t, c.URL(key), v1)
	c.Put(t, key, Pack(t, "SELECT 'second';\n"))
	if c.ReadsOldVersions {
		mustRead(t, r, "SELECT 'first';\n")
		return
	}
	_, err := ReadDeploy(t, r)
	fetchError(t, err, gcerrors.FailedPrecondition)
}

func notFound(t *testing.T, c Cloud) {
	key := "releases/not-found/app.tgz"
	reads := c.Faults.Inject(testfakes.Fault{Match: testfakes.ObjectReads(key)}) // counts only
	t.Cleanup(c.Faults.Clear)
	_, err := bundle.FetchFrom(context.Background(), c.Bucket(t), key, "", fast)
	fe := fetchError(t, err, gcerrors.NotFound)
	if fe.Retryable() || exitcode.Of(fe) != 10 {
		t.Fatalf("missing object: retryable %v, exit code %d", fe.Retryable(), exitcode.Of(fe))
	}
	if n := reads.Seen(); n != 1 {
		t.Fatalf("%d reads of a missing object; not-found must not be retried", n)
	}
	if c.MissingVersion != "" {
		c.Put(t, key, Pack(t, "SELECT 'exists';\n"))
		_, err = bundle.FetchFrom(context.Background(), c.Bucket(t), key, c.MissingVersion, fast)
		fe = fetchError(t, err, gcerrors.NotFound)
		if fe.Retryable() || !strings.Contains(err.Error(), c.MissingVersion) {
			t.Fatalf("missing version: retryable %v, message %q", fe.Retryable(), err)
		}
		if n := reads.Seen(); n != 2 {
			t.Fatalf("%d reads for a missing object and a missing version, want 2: not-found must not be retried", n)
		}
	}
	// Through the URL opener too, as a deploy names the bundle.
	_, err = bundle.Fetch(context.Background(), c.URL("releases/not-found/other.tgz"), "", fast)
	fetchError(t, err, gcerrors.NotFound)
}

func denied(t *testing.T, c Cloud) {
	key := "releases/denied/app.tgz"
	version := c.Put(t, key, Pack(t, "SELECT 'denied';\n"))
	f := c.Faults.Inject(c.Error(testfakes.ObjectReads(key), -1, http.StatusForbidden))
	t.Cleanup(c.Faults.Clear)
	_, err := bundle.FetchFrom(context.Background(), c.Bucket(t), key, version, fast)
	fe := fetchError(t, err, c.DeniedCode)
	if fe.Retryable() || exitcode.Of(fe) != 10 || !strings.Contains(err.Error(), "403") {
		t.Fatalf("denied: retryable %v, exit code %d, message %q; want permanent, naming the 403", fe.Retryable(), exitcode.Of(fe), err)
	}
	if n := f.Failed(); n != 1 {
		t.Fatalf("denied read sent %d times; a permission error must not be retried", n)
	}
}

func transient(t *testing.T, c Cloud) {
	key := "releases/transient/app.tgz"
	version := c.Put(t, key, Pack(t, "SELECT 'after 503';\n"))
	f := c.Faults.Inject(c.Error(testfakes.ObjectReads(key), 2, http.StatusServiceUnavailable))
	t.Cleanup(c.Faults.Clear)
	r, err := bundle.FetchFrom(context.Background(), c.Bucket(t), key, version, fast)
	if err != nil {
		t.Fatalf("two 503s then success: %v", err)
	}
	mustRead(t, r, "SELECT 'after 503';\n")
	if n := f.Failed(); n != 2 {
		t.Fatalf("%d injected 503s answered, want 2", n)
	}
}

func givesUp(t *testing.T, c Cloud) {
	key := "releases/gives-up/app.tgz"
	version := c.Put(t, key, Pack(t, "SELECT 'never';\n"))
	f := c.Faults.Inject(c.Error(testfakes.ObjectReads(key), -1, http.StatusServiceUnavailable))
	t.Cleanup(c.Faults.Clear)
	_, err := bundle.FetchFrom(context.Background(), c.Bucket(t), key, version, fast)
	var fe *bundle.FetchError
	if !errors.As(err, &fe) || !fe.Retryable() || exitcode.Of(fe) != 1 {
		t.Fatalf("persistent 503: %v; want a retryable *bundle.FetchError (exit code 1) for the platform to retry later", err)
	}
	if n, want := f.Failed(), 1+fast.Retries; n != want {
		t.Fatalf("persistent 503 tried %d times, want %d (one plus the retries)", n, want)
	}
}

// resumes breaks the download after a few bytes, after a newer upload
// where the cloud keeps versions: the resumed range read must continue
// the same version.
func resumes(t *testing.T, c Cloud) {
	key := "releases/resumes/app.tgz"
	want := "SELECT 'resumed';\n"
	version := c.Put(t, key, Pack(t, want))
	r, err := bundle.FetchFrom(context.Background(), c.Bucket(t), key, version, fast)
	if err != nil {
		t.Fatal(err)
	}
	if c.ReadsOldVersions {
		c.Put(t, key, Pack(t, "SELECT 'newer';\n"))
	}
	f := c.Faults.Inject(testfakes.Fault{Match: testfakes.ObjectReads(key), Times: 1, CutAfter: 100})
	t.Cleanup(c.Faults.Clear)
	mustRead(t, r, want)
	if f.Failed() != 1 || f.Seen() < 2 {
		t.Fatalf("cut %d downloads of %d; want the first cut and a resumed read", f.Failed(), f.Seen())
	}
}

// malformed: a version the pinner refuses is an invalid argument, reported
// at once (exit 10), never retried as a transient failure.
func malformed(t *testing.T, c Cloud) {
	key := "releases/malformed/app.tgz"
	c.Put(t, key, Pack(t, "SELECT 1;"))
	_, err := bundle.Fetch(context.Background(), c.URL(key), "\x00not a version", fast)
	fe := fetchError(t, err, gcerrors.InvalidArgument)
	if fe.Retryable() || exitcode.Of(fe) != 10 {
		t.Errorf("retryable %v, exit %d; want permanent, exit 10: %v", fe.Retryable(), exitcode.Of(fe), err)
	}
}

// publish: bundle.Publish reports the version that Fetch pins to, and that
// version keeps naming the published bytes after a later upload.
func publish(t *testing.T, c Cloud) {
	key := "releases/published/app.tgz"
	var sent int64
	pub, err := bundle.Publish(context.Background(), c.URL(key), bytes.NewReader(Pack(t, "SELECT 'published';")),
		func(n int64) { sent = n })
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if pub.Version == "" || sent != pub.Size {
		t.Fatalf("published %+v, progress saw %d bytes", pub, sent)
	}
	mustRead(t, fetch(t, c.URL(key), pub.Version), "SELECT 'published';")
	c.Put(t, key, Pack(t, "SELECT 'newer';"))
	if c.ReadsOldVersions {
		mustRead(t, fetch(t, c.URL(key), pub.Version), "SELECT 'published';")
		return
	}
	_, err = bundle.Fetch(context.Background(), c.URL(key), pub.Version, fast)
	fetchError(t, err, gcerrors.FailedPrecondition)
}
