package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

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
)

// Outcome is the answer to one Request. Adapters map it onto their
// platform: a retryable failure is returned as an error so the platform
// delivers the event again; everything else is acknowledged.
type Outcome struct {
	Status    Status
	Retryable bool  // failed, and worth delivering again (connection, busy, timeout, transient storage)
	Err       error // why it failed or was ignored
	Report    *Report
	ResultURL string // where the result object was written, "" when it was not
	ResultErr error  // writing the result object failed (the outcome stands)
}

// Report is the result object, <results prefix><object key>.<version>.json
// next to the bundle: what was asked, what happened, and the pgmi JSON
// envelope of the deployment.
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
	Previous          *Entry          `json:"previous,omitempty"` // the ledger row that made this a duplicate or stale
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

// resultKey is where the result object of a report goes.
func (d *Deployer) resultKey(r *Report) string {
	v := r.Bundle.Version
	if v == "" && len(r.Bundle.SHA256) >= 12 {
		v = r.Bundle.SHA256[:12]
	}
	if v == "" {
		v = "unknown"
	}
	name := r.Bundle.Key + "." + sanitizeVersion(v)
	if r.Action == ActionReset {
		name += ".reset"
	}
	return d.cfg.ResultsPrefix + name + ".json"
}

// sanitizeVersion keeps a version usable in an object name (Azure ETags
// carry quotes).
func sanitizeVersion(v string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '/' || r == '\\' || r < ' ' {
			return -1
		}
		return r
	}, v)
}

// writeResult stores the report next to the bundle, in b (the bundle's
// bucket, already open) or, when b is nil, in the bucket opened anew.
func (d *Deployer) writeResult(ctx context.Context, b *blob.Bucket, bucketURL string, r *Report) (string, error) {
	if bucketURL == "" || r.Bundle.Key == "" {
		return "", fmt.Errorf("no bucket to write the result to")
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	if b == nil {
		if b, err = d.openBucket(ctx, bucketURL); err != nil {
			return "", err
		}
		defer b.Close()
	}
	key := d.resultKey(r)
	err = b.WriteAll(ctx, key, append(data, '\n'), &blob.WriterOptions{ContentType: "application/json"})
	if err != nil {
		return "", err
	}
	return bucketURL + "/" + key, nil
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
