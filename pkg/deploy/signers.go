package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// DefaultSignersTTL is how long a warm deployer trusts its copy of
// PGMI_TRUSTED_SIGNERS_URL before reading the object again
// (PGMI_TRUSTED_SIGNERS_TTL).
const DefaultSignersTTL = 5 * time.Minute

// signerSource is the trusted-signer set read from PGMI_TRUSTED_SIGNERS_URL,
// kept fresh: a copy older than ttl is read again before the next bundle is
// verified, so a key removed from the object stops being trusted by warm
// instances within ttl. A bundle refused for its signer (a key not listed,
// or outside its validity window) makes the source read the object once
// more before the refusal stands, so a key added seconds before its first
// bundle is not refused by a stale copy. A read that fails is an error of
// the deploy (retryable when the storage error is), never a silent fallback
// to a set that may still list a revoked key.
type signerSource struct {
	url string
	mux *blob.URLMux
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	set     *bundle.AllowedSigners
	text    string // the object's content that set was parsed from
	fetched time.Time
}

// current is the set to verify against, read again when older than ttl.
func (s *signerSource) current(ctx context.Context) (*bundle.AllowedSigners, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set != nil && s.now().Sub(s.fetched) < s.ttl {
		return s.set, nil
	}
	return s.readLocked(ctx)
}

// refresh reads the object again whatever the copy's age; changed reports
// whether the set differs from the one verified against (old).
func (s *signerSource) refresh(ctx context.Context, old *bundle.AllowedSigners) (set *bundle.AllowedSigners, changed bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set != old && s.set != nil {
		return s.set, true, nil // another deploy refreshed meanwhile
	}
	before := s.text
	set, err = s.readLocked(ctx)
	if err != nil {
		return nil, false, err
	}
	return set, s.text != before, nil
}

func (s *signerSource) readLocked(ctx context.Context) (*bundle.AllowedSigners, error) {
	at := s.now()
	set, text, err := readSigners(ctx, s.url, s.mux)
	if err != nil {
		if fault.KindOf(err) == fault.Internal {
			// A storage failure: retryable or not as the store says.
			err = &bundle.FetchError{URL: stripQuery(s.url), Code: gcerrors.Code(err), Err: err}
		}
		return nil, fmt.Errorf("re-reading PGMI_TRUSTED_SIGNERS_URL: %w", err)
	}
	s.set, s.text, s.fetched = set, text, at
	return set, nil
}

// signerRefused reports a verification that a newer signer set could turn
// around: the signature is valid but its key is not (or no longer, or not
// yet) trusted.
func signerRefused(err error) bool {
	return errors.Is(err, bundle.ErrUntrusted) || errors.Is(err, bundle.ErrSignerExpired)
}
