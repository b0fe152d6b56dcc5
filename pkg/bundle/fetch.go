package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/internal/backoff"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// VersionPinner pins a read to one object version for one blob driver. It is
// called from blob.ReaderOptions.BeforeRead with the driver's As function and
// reports handled=false when the driver is not its own (the As conversion
// fails). Drivers' As types are driver packages' types, so pinners live
// beside the drivers (see doc.go) and register themselves.
type VersionPinner func(as func(any) bool, version string) (handled bool, err error)

var pinners = struct {
	sync.RWMutex
	m map[string]VersionPinner
}{m: map[string]VersionPinner{}}

// RegisterVersionPinner makes a pinner available to Fetch; call it from the
// init function of the package that imports the driver. Registering a name
// twice panics, as registering a blob scheme twice does.
func RegisterVersionPinner(name string, p VersionPinner) {
	pinners.Lock()
	defer pinners.Unlock()
	if _, dup := pinners.m[name]; dup {
		panic("bundle: version pinner " + name + " registered twice")
	}
	pinners.m[name] = p
}

func pinVersion(as func(any) bool, version string) error {
	pinners.RLock()
	names := make([]string, 0, len(pinners.m))
	for n := range pinners.m {
		names = append(names, n)
	}
	pinners.RUnlock()
	sort.Strings(names)
	for _, n := range names {
		pinners.RLock()
		p := pinners.m[n]
		pinners.RUnlock()
		if handled, err := p(as, version); handled {
			return err
		}
	}
	return errVersionUnsupported
}

// ErrorClassifier refines the gocloud error code of a driver's error that
// gocloud left as gcerrors.Unknown (say, an HTTP 403 under a service error
// code the driver does not map). It reports ok=false for errors it does not
// recognise. Pinner packages register one beside their pinner.
type ErrorClassifier func(err error) (code gcerrors.ErrorCode, ok bool)

var classifiers = struct {
	sync.RWMutex
	list []ErrorClassifier
}{}

// RegisterErrorClassifier adds a classifier consulted for errors gocloud
// could not classify; call it from a pinner package's init.
func RegisterErrorClassifier(c ErrorClassifier) {
	classifiers.Lock()
	defer classifiers.Unlock()
	classifiers.list = append(classifiers.list, c)
}

func classify(err error) gcerrors.ErrorCode {
	var pe *pinError
	switch code := gcerrors.Code(err); {
	case errors.Is(err, errVersionUnsupported):
		return gcerrors.Unimplemented
	case errors.As(err, &pe):
		return gcerrors.InvalidArgument
	case code != gcerrors.Unknown:
		return code
	}
	classifiers.RLock()
	defer classifiers.RUnlock()
	for _, c := range classifiers.list {
		if code, ok := c(err); ok {
			return code
		}
	}
	return gcerrors.Unknown
}

// pinError marks a version a pinner refused before any request: an invalid
// argument, never retried.
type pinError struct{ err error }

func (e *pinError) Error() string { return e.err.Error() }
func (e *pinError) Unwrap() error { return e.err }

var errVersionUnsupported = errors.New("this bucket's driver has no registered version pinner (blank-import the pinner package beside the driver), or the scheme has no object versions")

// FetchOptions tune Fetch. The zero value is usable.
type FetchOptions struct {
	Mux     *blob.URLMux  // URL openers; nil means blob.DefaultURLMux()
	Retries int           // retries of transient failures per open or read; 0 means 3, negative none
	Backoff time.Duration // first retry delay, doubled each time; 0 means 200ms
}

// Remote is one bundle object in a bucket, pinned to one version. Its Open
// method is an Opener: every pass reads the same version.
type Remote struct {
	URL     string // object URL without query parameters (safe to log)
	Key     string
	Version string // "" reads the current version (no pinning)
	Size    int64
	bucket  *blob.Bucket
	owned   bool
	opts    FetchOptions
}

// Fetch opens the bundle object named by objectURL (s3://bucket/key,
// gs://bucket/key, azblob://container/key, file:///dir/file, mem://…; query
// parameters configure the bucket, as in gocloud.dev/blob) pinned to
// version, and checks it can be read. version is the S3 versionId, the GCS
// generation or the Azure ETag the upload event named; "" reads the current
// object. Errors are *FetchError.
func Fetch(ctx context.Context, objectURL, version string, opts *FetchOptions) (*Remote, error) {
	o := fetchDefaults(opts)
	bucketURL, key, safe, err := splitObjectURL(objectURL)
	if err != nil {
		return nil, &FetchError{URL: safe, Version: version, Code: gcerrors.InvalidArgument, Err: err}
	}
	b, err := o.Mux.OpenBucket(ctx, bucketURL)
	if err != nil {
		return nil, &FetchError{URL: safe, Version: version, Code: gcerrors.InvalidArgument, Err: redactQuery(err, objectURL)}
	}
	r, err := fetchFrom(ctx, b, key, version, o, safe)
	if err != nil {
		b.Close()
		return nil, err
	}
	r.owned = true
	return r, nil
}

// FetchFrom is Fetch for a bucket the caller opened (and closes).
func FetchFrom(ctx context.Context, b *blob.Bucket, key, version string, opts *FetchOptions) (*Remote, error) {
	if err := checkKey(key); err != nil {
		return nil, &FetchError{URL: key, Version: version, Code: gcerrors.InvalidArgument, Err: err}
	}
	return fetchFrom(ctx, b, key, version, fetchDefaults(opts), key)
}

func fetchFrom(ctx context.Context, b *blob.Bucket, key, version string, o FetchOptions, safe string) (*Remote, error) {
	r := &Remote{URL: safe, Key: key, Version: version, bucket: b, opts: o}
	rd, err := r.newReader(ctx, 0, 0)
	if err != nil {
		return nil, err
	}
	r.Size = rd.Size()
	rd.Close()
	return r, nil
}

func fetchDefaults(opts *FetchOptions) FetchOptions {
	var o FetchOptions
	if opts != nil {
		o = *opts
	}
	if o.Mux == nil {
		o.Mux = blob.DefaultURLMux()
	}
	switch {
	case o.Retries == 0:
		o.Retries = 3
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Backoff == 0 {
		o.Backoff = 200 * time.Millisecond
	}
	return o
}

// splitObjectURL separates the bucket URL (scheme, host, query) from the
// object key (the path). For file:// the bucket is the file's directory.
func splitObjectURL(s string) (bucketURL, key, safe string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", "", fmt.Errorf("bad bundle URL: %w", err)
	}
	clean := *u
	clean.RawQuery, clean.User = "", nil
	safe = clean.String()
	if u.Scheme == "" {
		return "", "", safe, fmt.Errorf("bundle URL %q has no scheme (s3://, gs://, azblob://, file://, mem://)", safe)
	}
	p := u.Path
	if u.Scheme == "file" {
		dir, base := path.Split(p)
		u.Path, key = dir, base
	} else {
		key = strings.TrimPrefix(p, "/")
		u.Path = ""
	}
	if err := checkKey(key); err != nil {
		return "", "", safe, err
	}
	return u.String(), key, safe, nil
}

// checkKey refuses keys that gocloud would escape (so the object read would
// not be the one named) and empty keys.
func checkKey(key string) error {
	switch {
	case key == "" || strings.HasSuffix(key, "/"):
		return errors.New("the URL names no object (empty key)")
	case strings.ContainsFunc(key, func(r rune) bool { return unicode.IsControl(r) || r == '\\' }):
		return fmt.Errorf("object key %q holds control characters or backslashes", key)
	case strings.Contains("/"+key+"/", "/../") || strings.Contains("/"+key+"/", "/./"):
		return fmt.Errorf("object key %q holds . or .. segments", key)
	}
	return nil
}

func (r *Remote) readerOptions() *blob.ReaderOptions {
	if r.Version == "" {
		return nil
	}
	return &blob.ReaderOptions{BeforeRead: func(as func(any) bool) error {
		err := pinVersion(as, r.Version)
		if err != nil && !errors.Is(err, errVersionUnsupported) {
			err = &pinError{err}
		}
		return err
	}}
}

// newReader opens a range of the pinned version, retrying transient errors.
func (r *Remote) newReader(ctx context.Context, offset, length int64) (*blob.Reader, error) {
	var last error
	policy := backoff.Policy{Base: r.opts.Backoff, Factor: 2}
	for attempt := 0; ; attempt++ {
		rd, err := r.bucket.NewRangeReader(ctx, r.Key, offset, length, r.readerOptions())
		if err == nil {
			return rd, nil
		}
		last = r.wrap(err)
		if attempt >= r.opts.Retries || !last.(*FetchError).Retryable() {
			return nil, last
		}
		if err := backoff.Sleep(ctx, policy.Delay(attempt)); err != nil {
			return nil, r.wrap(err)
		}
	}
}

// Open is an Opener over the pinned version: a reader that resumes from
// its offset after a transient read error.
func (r *Remote) Open(ctx context.Context) (io.ReadCloser, error) {
	rd, err := r.newReader(ctx, 0, -1)
	if err != nil {
		return nil, err
	}
	return &resumingReader{ctx: ctx, r: r, rd: rd}, nil
}

// Close closes the bucket when Fetch opened it.
func (r *Remote) Close() error {
	if r.owned {
		return r.bucket.Close()
	}
	return nil
}

type resumingReader struct {
	ctx     context.Context
	r       *Remote
	rd      *blob.Reader
	off     int64
	resumes int
}

func (rr *resumingReader) Read(p []byte) (int, error) {
	n, err := rr.rd.Read(p)
	rr.off += int64(n)
	if err == nil || err == io.EOF {
		return n, err
	}
	fe := rr.r.wrap(err)
	if !fe.Retryable() || rr.resumes >= rr.r.opts.Retries || rr.ctx.Err() != nil {
		return n, fe
	}
	rr.resumes++
	rr.rd.Close()
	rd, rerr := rr.r.newReader(rr.ctx, rr.off, -1)
	if rerr != nil {
		return n, rerr
	}
	rr.rd = rd
	return n, nil
}

func (rr *resumingReader) Close() error { return rr.rd.Close() }

func (r *Remote) wrap(err error) *FetchError {
	var fe *FetchError
	if errors.As(err, &fe) {
		return fe
	}
	return &FetchError{URL: r.URL, Version: r.Version, Code: classify(err), Err: err}
}

// FetchError is a failure to read a bundle object, classified by its
// gocloud error code.
type FetchError struct {
	URL     string // without query parameters
	Version string
	Code    gcerrors.ErrorCode
	Err     error
}

func (e *FetchError) Error() string {
	what := e.URL
	if e.Version != "" {
		what += " version " + e.Version
	}
	var msg string
	switch e.Code {
	case gcerrors.NotFound:
		msg = "not found (wrong URL, or the version was deleted)"
	case gcerrors.PermissionDenied:
		msg = "permission denied (the function's identity needs read access to the object and its versions)"
	case gcerrors.FailedPrecondition:
		msg = "the object changed: the pinned version is no longer current"
	default:
		msg = "cannot read"
	}
	return fmt.Sprintf("bundle %s: %s: %v", what, msg, e.Err)
}

func (e *FetchError) Unwrap() error { return e.Err }

// Retryable reports a transient storage failure worth retrying later.
func (e *FetchError) Retryable() bool {
	switch e.Code {
	case gcerrors.Unknown, gcerrors.Internal, gcerrors.ResourceExhausted, gcerrors.DeadlineExceeded:
		return !isCanceled(e.Err)
	}
	return false
}

// FaultKind: fault.Config for a bundle URL or version that cannot be read as
// given (not found, permission, invalid, unsupported pinning, changed
// object), fault.Timeout for an expired deadline, fault.Canceled when
// cancelled, fault.Internal for transient failures.
func (e *FetchError) FaultKind() fault.Kind {
	switch {
	case isCanceled(e.Err) || e.Code == gcerrors.Canceled:
		return fault.Canceled
	case isDeadline(e.Err) || e.Code == gcerrors.DeadlineExceeded:
		return fault.Timeout
	case e.Retryable():
		return fault.Internal
	}
	return fault.Config
}

// redactQuery keeps URL query parameters (which may hold SAS tokens or
// keys) out of error messages.
func redactQuery(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.RawQuery == "" {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), u.RawQuery, "REDACTED"), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }
