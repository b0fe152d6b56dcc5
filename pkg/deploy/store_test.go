package deploy_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"

	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurite"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcsfake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/s3fake"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/s3pin"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// store is a bucket the deployer reads bundles from and writes results
// to, over the real protocol of a storage service (or a folder): the
// storage emulators the functions' tests use, each behind its own URL mux
// so that every test can have its own server.
type store struct {
	name   string
	bucket string // the bucket URL requests name, scheme://bundles
	mux    *blob.URLMux
	// put stores an object and returns the version a request pins ("" in
	// an unversioned bucket).
	put func(t testing.TB, key string, data []byte) string
}

// opener opens a bucket URL's bucket with a client of the test's choosing.
type opener func(ctx context.Context, u *url.URL) (*blob.Bucket, error)

func (o opener) OpenBucketURL(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	return o(ctx, u)
}

// storeMaker makes a store inside a subtest, so a missing emulator skips
// (or, under CI=true, fails) only its own subtests.
type storeMaker struct {
	name string
	make func(t *testing.T, versioned bool) *store
}

func storeMakers() []storeMaker {
	return []storeMaker{{"folder", folderStore}, {"s3", s3Store}, {"gcs", gcsStore}, {"azure", azureStore}}
}

func folderStore(t *testing.T, _ bool) *store {
	dir := t.TempDir()
	mux := new(blob.URLMux)
	mux.RegisterBucket(fileblob.Scheme, &fileblob.URLOpener{})
	return &store{name: "folder", bucket: "file://" + filepath.ToSlash(dir), mux: mux,
		put: func(t testing.TB, key string, data []byte) string {
			path := filepath.Join(dir, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return ""
		}}
}

func s3Store(t *testing.T, versioned bool) *store {
	srv := s3fake.Start(t)
	srv.CreateBucket(t, "bundles", versioned)
	mux := new(blob.URLMux)
	mux.RegisterBucket(s3blob.Scheme, opener(func(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
		return s3blob.OpenBucket(ctx, srv.Client(s3fake.NoRetries), u.Host, nil)
	}))
	return &store{name: "s3", bucket: "s3://bundles", mux: mux,
		put: func(t testing.TB, key string, data []byte) string { return srv.Put(t, "bundles", key, data) }}
}

func gcsStore(t *testing.T, _ bool) *store {
	srv := gcsfake.Start(t)
	srv.CreateBucket("bundles", false)
	client := srv.Client(t, true)
	mux := new(blob.URLMux)
	mux.RegisterBucket(gcsblob.Scheme, opener(func(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
		return gcsblob.OpenBucket(ctx, nil, u.Host, &gcsblob.Options{Client: client})
	}))
	return &store{name: "gcs", bucket: "gs://bundles", mux: mux,
		put: func(t testing.TB, key string, data []byte) string { srv.Put(t, "bundles", key, data); return "" }}
}

func azureStore(t *testing.T, _ bool) *store {
	srv := azurite.Start(t)
	srv.CreateContainer(t, "bundles")
	return &store{name: "azure", bucket: "azblob://bundles", mux: azuriteMux(t, srv, ""),
		put: func(t testing.TB, key string, data []byte) string { srv.Put(t, "bundles", key, data); return "" }}
}

// azuriteMux opens azblob:// containers of srv with the account key, or
// with a service SAS when sasToken is set.
func azuriteMux(t *testing.T, srv *azurite.Server, sasToken string) *blob.URLMux {
	t.Helper()
	cred, err := container.NewSharedKeyCredential(azurite.Account, azurite.Key)
	if err != nil {
		t.Fatal(err)
	}
	mux := new(blob.URLMux)
	mux.RegisterBucket(azureblob.Scheme, opener(func(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
		var c *container.Client
		var err error
		if sasToken != "" {
			c, err = container.NewClientWithNoCredential(srv.Endpoint+"/"+u.Host+"?"+sasToken, nil)
		} else {
			c, err = container.NewClientWithSharedKeyCredential(srv.Endpoint+"/"+u.Host, cred, nil)
		}
		if err != nil {
			return nil, err
		}
		return azureblob.OpenBucket(ctx, c, nil)
	}))
	return mux
}

// readOnlySAS is a service SAS for a container that may read and list,
// not write: what a role with only Storage Blob Data Reader can do.
func readOnlySAS(t *testing.T, name string) string {
	t.Helper()
	cred, err := container.NewSharedKeyCredential(azurite.Account, azurite.Key)
	if err != nil {
		t.Fatal(err)
	}
	q, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     time.Now().Add(-time.Hour).UTC(),
		ExpiryTime:    time.Now().Add(time.Hour).UTC(),
		Permissions:   (&sas.ContainerPermissions{Read: true, List: true}).String(),
		ContainerName: name,
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	return q.Encode()
}

// upload stores a bundle and returns the request its upload event makes.
func (s *store) upload(t testing.TB, key string, data []byte) deploy.Request {
	t.Helper()
	v := s.put(t, key, data)
	return deploy.Request{Action: deploy.ActionDeploy, Bucket: s.bucket, Bundle: s.bucket + "/" + key, Version: v,
		Trigger: deploy.Trigger{Platform: "test", Source: s.name}}
}

// open opens the bucket a result URL names, checking that it is this
// store's bucket URL, and returns the key to read the result by: a client
// reads it back through gocloud with the same bucket URL.
func (s *store) open(t testing.TB, resultURL string) (*blob.Bucket, string) {
	t.Helper()
	if resultURL == "" {
		t.Fatal("no result URL")
	}
	key, ok := strings.CutPrefix(resultURL, s.bucket+"/")
	if !ok || key == "" {
		t.Fatalf("result URL %q is not an object of %s", resultURL, s.bucket)
	}
	b, err := s.mux.OpenBucket(context.Background(), s.bucket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, key
}

// report reads the result object at resultURL through gocloud.
func (s *store) report(t testing.TB, resultURL string) deploy.Report {
	t.Helper()
	b, key := s.open(t, resultURL)
	data, err := b.ReadAll(context.Background(), key)
	if err != nil {
		t.Fatalf("reading the result %s: %v", resultURL, err)
	}
	var r deploy.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("result %s: %v", resultURL, err)
	}
	return r
}

func (s *store) remove(t testing.TB, resultURL string) {
	t.Helper()
	b, key := s.open(t, resultURL)
	if err := b.Delete(context.Background(), key); err != nil {
		t.Fatalf("deleting %s: %v", resultURL, err)
	}
}

// over points the fixture's deployer at the store.
func (f *fixture) over(s *store) *fixture {
	f.t.Helper()
	cfg, err := deploy.LoadConfig(context.Background(), f.env.lookup, nil)
	if err != nil {
		f.t.Fatalf("LoadConfig: %v", err)
	}
	f.d = deploy.New(cfg, &deploy.Options{Mux: s.mux, Log: testLog(f.t)})
	d := f.d
	f.t.Cleanup(func() { d.Close() })
	return f
}
