package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"gocloud.dev/blob"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// Status is what became of a request.
type Status string

const (
	StatusDeployed  Status = "deployed"  // the bundle ran and succeeded
	StatusDuplicate Status = "duplicate" // the same bundle was already deployed (or failed for good) here
	StatusStale     Status = "stale"     // a newer upload of the same key was already seen
	StatusIgnored   Status = "ignored"   // not for this deployer (no route, a result object, not an upload)
	StatusFailed    Status = "failed"    // see Outcome.Retryable
	StatusStarted   Status = "started"   // a fleet rollout began; the rollout result follows it
)

// Outcome is the answer to one Request. Adapters map it onto their
// platform: a retryable failure is returned as an error so the platform
// delivers the event again; everything else is acknowledged.
type Outcome struct {
	Status    Status
	Retryable bool  // failed, and worth delivering again (connection, busy, timeout, transient storage)
	Err       error // why it failed or was ignored
	Report    *Report
	// ResultURL is the result object that stands for this request: the
	// bucket URL, "/" and the key a client reads it by through gocloud with
	// the same bucket URL (ResultName). "" when there is none.
	ResultURL string
	// ResultKept says that the object at ResultURL was already there and
	// this outcome, which did not execute, left it as it was.
	ResultKept bool
	ResultErr  error // writing the result object failed (the outcome stands)
	// Rollout is the fleet rollout this upload started (or found), or the
	// one a fleet target belongs to, as it stood when the run ended.
	Rollout *RolloutReport
}

// Report is the result object (see ResultName for where it goes) next to
// the bundle: what was asked, what happened, and the pgmi JSON envelope of
// the deployment.
type Report struct {
	Outcome           Status          `json:"outcome"`
	Retryable         bool            `json:"retryable,omitempty"`
	Message           string          `json:"message,omitempty"`
	ExitCode          int             `json:"exitCode"`
	Action            Action          `json:"action"`
	Platform          string          `json:"platform,omitempty"`
	Source            string          `json:"source,omitempty"`
	InvocationID      string          `json:"invocationId,omitempty"`
	EventID           string          `json:"eventId,omitempty"`
	Schedule          string          `json:"schedule,omitempty"`
	Bundle            BundleInfo      `json:"bundle"`
	Target            TargetInfo      `json:"target"`
	Rollout           int64           `json:"rollout,omitempty"`       // the fleet rollout this upload started, or this target belongs to
	RolloutResult     string          `json:"rolloutResult,omitempty"` // that rollout's result object
	Previous          *Entry          `json:"previous,omitempty"`      // the ledger row that made this a duplicate or stale
	Ledger            int64           `json:"ledgerId,omitempty"`
	Attempt           int             `json:"attempt,omitempty"`           // this run's attempt on the ledger row (2+ after a takeover)
	ResumedAfterUnits int             `json:"resumedAfterUnits,omitempty"` // deploy.sql units an earlier attempt committed, not run again
	StartedAt         time.Time       `json:"startedAt"`
	FinishedAt        time.Time       `json:"finishedAt"`
	DurationMS        int64           `json:"durationMs"`
	Deploy            engine.Envelope `json:"deploy,omitempty"`
}

// BundleInfo identifies the bundle.
type BundleInfo struct {
	URL       string      `json:"url,omitempty"`
	Key       string      `json:"key,omitempty"`
	Version   string      `json:"version,omitempty"`
	Sequencer string      `json:"sequencer,omitempty"`
	SHA256    string      `json:"sha256,omitempty"`
	Size      int64       `json:"size,omitempty"`
	Name      string      `json:"name,omitempty"`
	Release   string      `json:"release,omitempty"` // the manifest's version
	Commit    string      `json:"commit,omitempty"`
	Signer    *SignerInfo `json:"signer,omitempty"`
}

// SignerInfo is the trusted key that signed the bundle.
type SignerInfo struct {
	Principals  string `json:"principals"`
	Fingerprint string `json:"fingerprint"`
}

// TargetInfo is where the bundle went.
type TargetInfo struct {
	Host     string `json:"host,omitempty"`
	Port     uint16 `json:"port,omitempty"`
	Database string `json:"database,omitempty"`
	User     string `json:"user,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// Summary is the one-line human summary used in logs.
func (r *Report) Summary() string {
	what := r.Bundle.Key
	if r.Bundle.Version != "" {
		what += " (" + r.Bundle.Version + ")"
	}
	if r.Action == ActionReset {
		reset := "reset of " + r.Target.Database
		if what != "" {
			reset += " with " + what
		}
		what = reset
	} else if r.Target.Database != "" {
		what += " → " + r.Target.Database
	}
	s := string(r.Outcome)
	if what != "" {
		s += ": " + what
	}
	if r.Message != "" {
		s += ": " + r.Message
	}
	if r.Retryable {
		s += " (will be retried)"
	}
	return s
}

// Limits of a result object's name, in bytes weighed by nameWeight: well
// inside the 1024 bytes S3, Cloud Storage and Azure allow, and a last
// segment that is a valid file name (255 bytes) on a local disk with
// gocloud's temporary suffix.
const (
	resultNameMax    = 512
	resultSegmentMax = 200
	resultKeyKept    = 128 // of the key, in a shortened name
	resultHashDigits = 24  // of the SHA-256 of the full name, in a shortened name
)

// ResultName is the key of a report's result object in the bundle's
// bucket, where prefix is PGMI_RESULTS_PREFIX:
//
//	deploy: <prefix><key>.<version>.json
//	reset:  <prefix><key>.<version>.<database>[.<schedule>].reset.json
//
// <version> is the object version the request pinned, else the first 12
// hex digits of the archive's SHA-256, else "unknown" (the bundle was never
// read). Version, database and schedule lose the characters a name segment
// cannot hold: / \ " and control characters.
//
// A name longer than 512 bytes, or whose last segment is longer than 200,
// counting each character a storage driver escapes as 8 bytes (control
// characters; on Azure also \ " # % ?), is shortened to
//
//	<prefix><the key's first 128 bytes, weighed the same way>~<the first 24 hex digits of the SHA-256 of the full name>.json
//
// The key is the one gocloud reads and writes by: a driver that escapes
// characters stores the escaped name (Azure stores % as __0x25__).
func ResultName(prefix string, r *Report) string {
	full := prefix + r.Bundle.Key + "." + resultTag(r) + ".json"
	last := full[strings.LastIndexByte(full, '/')+1:]
	if nameWeight(full) <= resultNameMax && nameWeight(last) <= resultSegmentMax {
		return full
	}
	sum := sha256.Sum256([]byte(full))
	return prefix + cutWeight(r.Bundle.Key, resultKeyKept) + "~" + hex.EncodeToString(sum[:])[:resultHashDigits] + ".json"
}

// resultTag is what follows the key in a result's name, before .json.
func resultTag(r *Report) string {
	tag := nameSegment(resultVersion(r))
	if r.Action == ActionReset {
		tag += "." + nameSegment(r.Target.Database)
		if r.Schedule != "" {
			tag += "." + nameSegment(r.Schedule)
		}
		tag += ".reset"
	}
	if r.Rollout != 0 && r.Target.Database != "" { // a fleet target
		tag += "@" + nameSegment(r.Target.Database)
	}
	return tag
}

// unknownVersion stands for the version of a bundle never read.
const unknownVersion = "unknown"

func resultVersion(r *Report) string {
	switch {
	case r.Bundle.Version != "":
		return r.Bundle.Version
	case len(r.Bundle.SHA256) >= 12:
		return r.Bundle.SHA256[:12]
	}
	return unknownVersion
}

// nameSegment keeps a value usable inside one segment of an object name
// (Azure ETags carry quotes; a database or schedule name may hold slashes).
func nameSegment(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '/' || r == '\\' || r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, v)
}

// nameWeight is the length of s once a storage driver escapes it: gocloud
// hex-escapes control characters (all drivers) and \ " # % ? (azureblob)
// as __0xNN__.
func nameWeight(s string) int {
	n := 0
	for _, r := range s {
		n += runeWeight(r)
	}
	return n
}

func runeWeight(r rune) int {
	if r < ' ' || r == 0x7f || strings.ContainsRune(`\"#%?`, r) {
		return len("__0x00__")
	}
	return utf8.RuneLen(r)
}

// cutWeight is the longest prefix of s, in whole characters, of at most
// limit by nameWeight.
func cutWeight(s string, limit int) string {
	n := 0
	for i, r := range s {
		if n += runeWeight(r); n > limit {
			return s[:i]
		}
	}
	return s
}

func (d *Deployer) openBucket(ctx context.Context, bucketURL string) (*blob.Bucket, error) {
	return d.mux.OpenBucket(ctx, d.withParams(bucketURL))
}

// withParams adds PGMI_BUCKET_URL_PARAMS to a bucket or object URL.
func (d *Deployer) withParams(u string) string {
	if len(d.cfg.BucketParams) == 0 {
		return u
	}
	return u + "?" + d.cfg.BucketParams.Encode()
}
