package bundle

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// memMux serves mem:// URLs from one shared in-memory bucket (memblob's own
// opener makes a new empty bucket per URL).
type memMux struct{ b *blob.Bucket }

func (m memMux) OpenBucketURL(context.Context, *url.URL) (*blob.Bucket, error) { return m.b, nil }

func newMemMux(t *testing.T) (*blob.URLMux, *blob.Bucket) {
	b := memblob.OpenBucket(nil)
	t.Cleanup(func() { b.Close() })
	mux := new(blob.URLMux)
	mux.RegisterBucket("mem", memMux{b})
	return mux, b
}

func fetchAndDeployOffline(t *testing.T, url string, opts *FetchOptions, k testKey) {
	t.Helper()
	ctx := context.Background()
	r, err := Fetch(ctx, url, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := Open(ctx, r.Open, &ReadOptions{Trusted: k.allowed(t, "*")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := engine.Scan(b, engine.ScanOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := readEverything(b); err != nil {
		t.Fatal(err)
	}
}

func TestFetchMem(t *testing.T) {
	k := newKey(t)
	data, _ := pack(t, testProject(), &PackOptions{Signer: k.signer})
	mux, bucket := newMemMux(t)
	if err := bucket.WriteAll(context.Background(), "releases/app.tgz", data, nil); err != nil {
		t.Fatal(err)
	}
	fetchAndDeployOffline(t, "mem://bundles/releases/app.tgz", &FetchOptions{Mux: mux}, k)
}

func TestFetchFile(t *testing.T) {
	k := newKey(t)
	data, _ := pack(t, testProject(), &PackOptions{Signer: k.signer})
	p := writeTemp(t, "app.tgz", data)
	fetchAndDeployOffline(t, "file://"+filepath.ToSlash(p), nil, k)
}

func TestFetchErrors(t *testing.T) {
	bucket := memblob.OpenBucket(nil)
	defer bucket.Close()
	bucket.WriteAll(context.Background(), "x.tgz", []byte("x"), nil)
	opts := &FetchOptions{Retries: -1}
	for key, want := range map[string]gcerrors.ErrorCode{"missing.tgz": gcerrors.NotFound, "x.tgz": gcerrors.Unimplemented} {
		version := ""
		if key == "x.tgz" {
			version = "v1" // memblob has no versions: refuse rather than read unpinned
		}
		_, err := FetchFrom(context.Background(), bucket, key, version, opts)
		var fe *FetchError
		if !errors.As(err, &fe) || fe.Code != want || exitcode.Of(fe) != 10 || exitcode.Of(err) != 10 || fe.Retryable() {
			t.Fatalf("%s: error %v, want code %v", key, err, want)
		}
	}
	cases := []struct {
		url, version string
		code         gcerrors.ErrorCode
	}{
		{"mem://b/", "", gcerrors.InvalidArgument},
		{"mem://b/a/../x.tgz", "", gcerrors.InvalidArgument},
		{"nosuch://b/x.tgz", "", gcerrors.InvalidArgument},
		{"x.tgz", "", gcerrors.InvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.url+"@"+c.version, func(t *testing.T) {
			_, err := Fetch(context.Background(), c.url, c.version, opts)
			var fe *FetchError
			if !errors.As(err, &fe) || fe.Code != c.code || exitcode.Of(fe) != 10 || exitcode.Of(err) != 10 || fe.Retryable() {
				t.Fatalf("error %v (%T), want code %v", err, err, c.code)
			}
		})
	}
}

func TestFetchErrorRedactsQuery(t *testing.T) {
	_, err := Fetch(context.Background(), "nosuch://b/x.tgz?sig=SECRET", "", nil)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("error %v", err)
	}
}
