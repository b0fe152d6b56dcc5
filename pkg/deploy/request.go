package deploy

import (
	"fmt"
	"strings"
	"time"
)

// Action is what a Request asks for.
type Action string

const (
	// ActionDeploy deploys a bundle to its target database.
	ActionDeploy Action = "deploy"
	// ActionReset drops and recreates the target database, then deploys a
	// bundle into it. Only databases in PGMI_RESET_ALLOW may be reset.
	ActionReset Action = "reset"
)

// Request is one thing for the pipeline to do, as an adapter translated it
// from its platform's event. Adapters fill what their event carries and
// nothing else; Validate checks the combination.
type Request struct {
	Action Action
	// Bundle is the object's gocloud URL without query parameters
	// (s3://bucket/key, gs://bucket/key, azblob://container/key,
	// file:///dir/key). The key is the object name exactly as stored
	// (already URL-decoded for S3).
	Bundle string
	// Bucket is the bucket URL when it cannot be read off Bundle: a
	// file:// folder whose objects sit in sub-folders (pgmi local). Empty
	// means scheme://bucket, the part of Bundle before the key.
	Bucket string
	// Version pins the object: S3 versionId, GCS generation, Azure version
	// id or ETag. Empty reads the current object (unversioned buckets,
	// local folders).
	Version string
	// Sequencer orders events for the same object key (S3 sequencer, GCS
	// generation, Event Grid sequencer); empty when the event has none.
	// Compared by Newer.
	Sequencer string
	// Database is the database an action payload names. A deploy always
	// goes where its key routes (PGMI_ROUTES, else the target database);
	// Database may only repeat that, and the pipeline refuses anything
	// else. A reset names the database to drop and recreate, which must be
	// in PGMI_RESET_ALLOW. Never a template or the maintenance database.
	Database string
	// Rollout, with Database, makes the request one target of a fleet
	// rollout (a message from the fleet queue): honoured only when the
	// rollout's control table records that target for this bundle.
	Rollout int64
	// Trigger says where the request came from, for the ledger, the result
	// object and the log line.
	Trigger Trigger
}

// Trigger identifies the event behind a Request.
type Trigger struct {
	Platform     string    // aws, gcp, azure, local
	Source       string    // s3, eventbridge, sqs, scheduler, storage, pubsub, eventgrid, timer, folder, direct
	EventID      string    // the platform's event or message id, when it has one
	InvocationID string    // the platform's invocation/request id
	Time         time.Time // when the event happened, zero when unknown
	// Schedule identifies one scheduled run across the platform's retries
	// (schedule name + scheduled time); a reset with the same Schedule as a
	// reset already done is a duplicate.
	Schedule string
}

// Validate checks that the request is complete and well-formed. Errors are
// permanent: the same event will never become valid.
func (r *Request) Validate() error {
	switch r.Action {
	case ActionDeploy:
		if r.Bundle == "" {
			return fmt.Errorf("a deploy request needs a bundle URL")
		}
	case ActionReset:
	case "":
		return fmt.Errorf("the request has no action (deploy or reset)")
	default:
		return fmt.Errorf("unknown action %q: use deploy or reset", r.Action)
	}
	if r.Bundle != "" {
		if _, _, err := r.split(); err != nil {
			return err
		}
	}
	if r.Rollout != 0 && (r.Action != ActionDeploy || r.Database == "" || r.Rollout < 0) {
		return fmt.Errorf("a fleet message (rollout %d) needs action deploy, a bundle and a database", r.Rollout)
	}
	if r.Action == ActionReset && r.Database == "" {
		return fmt.Errorf("a reset request needs a database")
	}
	return nil
}

// split returns the bucket URL and key of the bundle. The bucket URL is
// checked (checkBucketURL): the pipeline opens it as a gocloud URL with the
// function's credentials, so it must name a bucket and nothing more.
func (r *Request) split() (bucketURL, key string, err error) {
	if r.Bucket == "" {
		return SplitBundleURL(r.Bundle)
	}
	bucket := strings.TrimSuffix(r.Bucket, "/")
	if err := checkBucketURL(bucket); err != nil {
		return "", "", fmt.Errorf("invalid bucket URL %q: %w", r.Bucket, err)
	}
	key, ok := strings.CutPrefix(r.Bundle, bucket+"/")
	if !ok || key == "" {
		return "", "", fmt.Errorf("bundle %q is not an object of bucket %q", r.Bundle, r.Bucket)
	}
	return bucket, key, nil
}

// SplitBundleURL splits an object URL into its bucket URL (scheme and
// bucket, no key) and the object key. Nothing is decoded: the key is taken
// verbatim, so keys holding %, ? or # survive. A file:// URL's bucket is the
// directory and its key the file name.
//
// The bucket part must be a bucket name the scheme's platform allows
// (CheckBucketName) and a file:// directory must hold no '?' or '#': the
// bucket URL is opened as a gocloud URL, where a query would become driver
// parameters (s3 endpoint=, gs universe_domain=, azblob domain= …) and send
// the fetch, and the result, to a server of the URL's choosing.
func SplitBundleURL(u string) (bucketURL, key string, err error) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || !validScheme(scheme) {
		return "", "", fmt.Errorf("invalid bundle URL %q: want scheme://bucket/key", u)
	}
	if scheme == "file" {
		dir, file := splitLast(rest)
		if file == "" || !strings.HasPrefix(dir, "/") {
			return "", "", fmt.Errorf("invalid bundle URL %q: want file:///absolute/dir/name", u)
		}
		if err := checkFolder(dir); err != nil {
			return "", "", fmt.Errorf("invalid bundle URL %q: %w", u, err)
		}
		return "file://" + dir, file, nil
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" || key == "" {
		return "", "", fmt.Errorf("invalid bundle URL %q: want %s://bucket/key", u, scheme)
	}
	if err := CheckBucketName(scheme, bucket); err != nil {
		return "", "", fmt.Errorf("invalid bundle URL %q: bucket %q: %w", u, bucket, err)
	}
	return scheme + "://" + bucket, key, nil
}

// checkBucketURL checks a Request's Bucket: a file:// folder with no '?'
// or '#' in its path, or scheme://bucket with a bucket name the scheme
// allows, and nothing else (no path, query or fragment).
func checkBucketURL(u string) error {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || !validScheme(scheme) {
		return fmt.Errorf("want scheme://bucket")
	}
	if scheme == "file" {
		return checkFolder(rest)
	}
	return CheckBucketName(scheme, rest)
}

// checkFolder refuses a file:// directory that a URL parser would not read
// back as a path: a '?' starts a query (fileblob parameters), a '#' a
// fragment.
func checkFolder(dir string) error {
	if strings.ContainsAny(dir, "?#") {
		return fmt.Errorf("folder %q holds '?' or '#', which a bucket URL cannot carry", dir)
	}
	return nil
}

// CheckBucketName checks that name is a bucket (container) name the
// platform of scheme allows: s3 (3–63 lowercase letters, digits, '.' and
// '-'), gs (3–222 lowercase letters, digits, '.', '_' and '-') or azblob
// (3–63 lowercase letters, digits and '-'), each beginning and ending with
// a letter or digit. Any other scheme (mem:// and the schemes tests
// register) takes 1–255 letters, digits, '.', '_', '~' and '-'. None of them
// allows a character that means something in a URL ('?', '#', '=', '&',
// '@', ':', '%', '/'), so the bucket URL scheme://name carries no
// parameters. A file:// bucket is a folder, not a name: see SplitBundleURL.
func CheckBucketName(scheme, name string) error {
	switch strings.ToLower(scheme) {
	case "s3":
		if !validName(name, 63, "-.") {
			return fmt.Errorf("an S3 bucket name is 3 to 63 lowercase letters, digits, '.' and '-', beginning and ending with a letter or digit")
		}
	case "gs":
		if !validName(name, 222, "-._") {
			return fmt.Errorf("a Cloud Storage bucket name is 3 to 222 lowercase letters, digits, '.', '_' and '-', beginning and ending with a letter or digit")
		}
	case "azblob":
		if !validName(name, 63, "-") {
			return fmt.Errorf("an Azure container name is 3 to 63 lowercase letters, digits and '-', beginning and ending with a letter or digit")
		}
	case "file":
		return fmt.Errorf("a file:// bucket is a folder, not a name")
	default:
		if len(name) == 0 || len(name) > 255 || strings.IndexFunc(name, func(c rune) bool {
			return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c))
		}) >= 0 {
			return fmt.Errorf("a %s:// bucket name is 1 to 255 letters, digits, '.', '_', '~' and '-'", scheme)
		}
	}
	return nil
}

// validName reports whether name is 3 to max lowercase ASCII letters,
// digits and the characters in extra, beginning and ending with a letter or
// a digit.
func validName(name string, max int, extra string) bool {
	if len(name) < 3 || len(name) > max || !isAlnum(name[0]) || !isAlnum(name[len(name)-1]) {
		return false
	}
	for _, c := range []byte(name) {
		if !isAlnum(c) && strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}

// validScheme reports whether s is a URL scheme (RFC 3986: a letter, then
// letters, digits, '+', '-' and '.'), so that a URL parser reads the same
// scheme, and the same bucket after it.
func validScheme(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	return strings.IndexFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("+-.", c))
	}) < 0
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func splitLast(p string) (dir, file string) {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// Newer reports whether sequencer a orders after b for the same key, by
// S3's rule: right-pad the shorter with zeros, then compare as strings.
// Event Grid sequencers compare the same way. Numeric orderings (GCS
// generations) must go through DecimalSequencer first.
func Newer(a, b string) bool {
	a, b = rightPad(a, len(b)), rightPad(b, len(a))
	return a > b
}

// DecimalSequencer turns a decimal counter such as a GCS generation into a
// sequencer that Newer orders numerically (left-padded to 20 digits, enough
// for any int64). It returns "" for anything that is not a decimal number.
func DecimalSequencer(n string) string {
	if n == "" || len(n) > 20 {
		return ""
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return strings.Repeat("0", 20-len(n)) + n
}

func rightPad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat("0", n-len(s))
}
