package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// VersionReader reads the version an upload produced from the object's
// attributes (through blob.Attributes.As): the S3 versionId, the GCS
// generation. It reports ok=false for another driver's attributes. Pinner
// packages register one beside their pinner.
type VersionReader func(as func(any) bool) (version string, ok bool)

var versionReaders = struct {
	sync.RWMutex
	list []VersionReader
}{}

// RegisterVersionReader adds a VersionReader; call it from a pinner
// package's init.
func RegisterVersionReader(r VersionReader) {
	versionReaders.Lock()
	defer versionReaders.Unlock()
	versionReaders.list = append(versionReaders.list, r)
}

// Published is what Publish wrote.
type Published struct {
	URL     string // object URL without query parameters
	Version string // what Fetch takes to read exactly these bytes; "" when the bucket keeps no versions
	Size    int64
}

// Publish uploads the bundle read from r to objectURL and returns the
// version to deploy it by. The version comes from a registered
// VersionReader, else the object's ETag (Azure pins by ETag), and is kept
// only when a registered pinner would pin a read to it; it is "" when the
// bucket keeps no versions (file://, mem://, an unversioned S3 bucket), and
// Fetch then reads the current object. Between the upload and that read
// another upload could land, so the version's object is checked to be the
// size written. A file:// URL's folder is created when missing: the whole
// path names the object, as a key prefix in a bucket needs no creating.
// progress, if not nil, is called with the bytes sent so far. Errors are
// *PublishError.
func Publish(ctx context.Context, objectURL string, r io.Reader, progress func(sent int64)) (*Published, error) {
	bucketURL, key, safe, err := splitObjectURL(objectURL)
	if err != nil {
		return nil, &PublishError{URL: safe, Code: gcerrors.InvalidArgument, Err: err}
	}
	b, err := blob.OpenBucket(ctx, withCreateDir(bucketURL))
	if err != nil {
		return nil, &PublishError{URL: safe, Code: gcerrors.InvalidArgument, Err: redactQuery(err, objectURL)}
	}
	defer b.Close()
	fail := func(err error) error { return &PublishError{URL: safe, Code: classify(err), Err: err} }
	body := &countingReader{r: r, progress: progress}
	// Upload, not NewWriter: gocloud's azureblob writer (v0.47) panics in
	// Close after a failed upload; Upload returns the error.
	if err := b.Upload(ctx, key, body, &blob.WriterOptions{ContentType: contentType(key)}); err != nil {
		return nil, fail(err)
	}
	attrs, err := b.Attributes(ctx, key)
	if err != nil {
		return nil, fail(err)
	}
	if attrs.Size != body.sent {
		return nil, fail(fmt.Errorf("the object holds %d bytes after writing %d: another upload replaced it", attrs.Size, body.sent))
	}
	version := uploadedVersion(attrs)
	if !pinnable(ctx, b, key, version) {
		version = ""
	}
	return &Published{URL: safe, Version: version, Size: body.sent}, nil
}

// withCreateDir asks fileblob to create a file:// bucket's folder and to
// write no .attrs sidecar next to the bundle (a folder a deployer watches
// holds bundles only), unless the URL says otherwise; other URLs are
// returned as they are.
func withCreateDir(bucketURL string) string {
	u, err := url.Parse(bucketURL)
	if err != nil || u.Scheme != "file" {
		return bucketURL
	}
	q := u.Query()
	for k, v := range map[string]string{"create_dir": "true", "metadata": "skip"} {
		if !q.Has(k) {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func contentType(key string) string {
	if strings.HasSuffix(strings.ToLower(key), ".zip") {
		return "application/zip"
	}
	return "application/gzip"
}

// errProbed stops the read pinnable starts.
var errProbed = errors.New("bundle: pinning probe")

// pinnable reports whether Fetch could pin a read of key to version: a
// registered pinner handles the bucket's driver and accepts the version.
// The pinners are asked from BeforeRead, and the read stops there, before
// the drivers send a request.
func pinnable(ctx context.Context, b *blob.Bucket, key, version string) bool {
	if version == "" {
		return false
	}
	ok := false
	rd, err := b.NewRangeReader(ctx, key, 0, 0, &blob.ReaderOptions{BeforeRead: func(as func(any) bool) error {
		ok = pinVersion(as, version) == nil
		return errProbed
	}})
	if err == nil {
		rd.Close()
	}
	return ok
}

func uploadedVersion(attrs *blob.Attributes) string {
	versionReaders.RLock()
	defer versionReaders.RUnlock()
	for _, read := range versionReaders.list {
		if v, ok := read(attrs.As); ok {
			return v
		}
	}
	return attrs.ETag
}

// PublishError is a failed upload, classified by its gocloud error code.
type PublishError struct {
	URL  string // without query parameters
	Code gcerrors.ErrorCode
	Err  error
}

func (e *PublishError) Error() string {
	msg := "upload failed"
	switch e.Code {
	case gcerrors.NotFound:
		msg = "the bucket or container does not exist (create it first, or check the URL)"
	case gcerrors.PermissionDenied:
		msg = "permission denied (the identity publishing needs write access to the bucket or container)"
	case gcerrors.InvalidArgument:
		msg = "invalid URL or bucket settings"
	}
	return fmt.Sprintf("publishing %s: %s: %v", e.URL, msg, e.Err)
}

func (e *PublishError) Unwrap() error { return e.Err }

// Retryable reports a transient storage failure: publishing again may work.
func (e *PublishError) Retryable() bool { return e.asFetch().Retryable() }

// FaultKind is FetchError's: fault.Config for what must be fixed first (not
// found, permission, invalid), fault.Timeout for an expired deadline,
// fault.Canceled when cancelled, fault.Internal for transient failures.
func (e *PublishError) FaultKind() fault.Kind { return e.asFetch().FaultKind() }

func (e *PublishError) asFetch() *FetchError {
	return &FetchError{URL: e.URL, Code: e.Code, Err: e.Err}
}

type countingReader struct {
	r        io.Reader
	sent     int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.sent += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.sent)
	}
	return n, err
}
