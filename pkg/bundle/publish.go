package bundle

import (
	"context"
	"fmt"
	"io"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
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
	Version string // what Fetch takes to read exactly these bytes
	Size    int64
}

// Publish uploads the bundle read from r to objectURL and returns the
// version to deploy it by. The version comes from a registered
// VersionReader, else the object's ETag (Azure pins by ETag); between the
// upload and that read another upload could land, so the version's object
// is checked to be the size written. progress, if not nil, is called with
// the bytes sent so far.
func Publish(ctx context.Context, objectURL string, r io.Reader, progress func(sent int64)) (*Published, error) {
	bucketURL, key, safe, err := splitObjectURL(objectURL)
	if err != nil {
		return nil, &FetchError{URL: safe, Code: gcerrors.InvalidArgument, Err: err}
	}
	b, err := blob.OpenBucket(ctx, bucketURL)
	if err != nil {
		return nil, &FetchError{URL: safe, Code: gcerrors.InvalidArgument, Err: redactQuery(err, objectURL)}
	}
	defer b.Close()
	fail := func(err error) error { return &FetchError{URL: safe, Code: classify(err), Err: err} }
	w, err := b.NewWriter(ctx, key, &blob.WriterOptions{ContentType: "application/gzip"})
	if err != nil {
		return nil, fail(err)
	}
	n, err := io.Copy(w, &countingReader{r: r, progress: progress})
	if err != nil {
		_ = w.Close()
		return nil, fail(err)
	}
	if err := w.Close(); err != nil {
		return nil, fail(err)
	}
	attrs, err := b.Attributes(ctx, key)
	if err != nil {
		return nil, fail(err)
	}
	if attrs.Size != n {
		return nil, fail(fmt.Errorf("the object holds %d bytes after writing %d: another upload replaced it", attrs.Size, n))
	}
	return &Published{URL: safe, Version: uploadedVersion(attrs), Size: n}, nil
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
