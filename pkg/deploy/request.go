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

// split returns the bucket URL and key of the bundle.
func (r *Request) split() (bucketURL, key string, err error) {
	if r.Bucket == "" {
		return SplitBundleURL(r.Bundle)
	}
	key, ok := strings.CutPrefix(r.Bundle, strings.TrimSuffix(r.Bucket, "/")+"/")
	if !ok || key == "" {
		return "", "", fmt.Errorf("bundle %q is not an object of bucket %q", r.Bundle, r.Bucket)
	}
	return strings.TrimSuffix(r.Bucket, "/"), key, nil
}

// SplitBundleURL splits an object URL into its bucket URL (scheme and
// bucket, no key) and the object key. Nothing is decoded: the key is taken
// verbatim, so keys holding %, ? or # survive. A file:// URL's bucket is the
// directory and its key the file name.
func SplitBundleURL(u string) (bucketURL, key string, err error) {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/?#") {
		return "", "", fmt.Errorf("invalid bundle URL %q: want scheme://bucket/key", u)
	}
	if scheme == "file" {
		dir, file := splitLast(rest)
		if file == "" || !strings.HasPrefix(dir, "/") {
			return "", "", fmt.Errorf("invalid bundle URL %q: want file:///absolute/dir/name", u)
		}
		return "file://" + dir, file, nil
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" || key == "" {
		return "", "", fmt.Errorf("invalid bundle URL %q: want %s://bucket/key", u, scheme)
	}
	return scheme + "://" + bucket, key, nil
}

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
