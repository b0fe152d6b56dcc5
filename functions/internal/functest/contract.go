package functest

import (
	"testing"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// The adapter contract: every adapter's captured fixtures under
// testdata/contract/ describe the same release — an upload of ContractKey in
// bucket (or container) ContractBucket, and a reset of ContractResetDB with
// that bundle — and each adapter must turn them into the same Request, up to
// the cloud's URL scheme, object version and sequencer.
const (
	ContractBucket  = "bundles"
	ContractKey     = "app/releases/app 1.4.tgz"
	ContractResetDB = "app_dev"
)

// CheckContract fails t unless got is the contract's Request for this cloud:
// action, the bundle URL scheme://bundles/app/releases/app 1.4.tgz with the
// key verbatim, the version, the database for a reset (none for a deploy),
// a valid request, and a trigger naming the platform.
func CheckContract(t *testing.T, got deploy.Request, action deploy.Action, scheme, version, platform string) {
	t.Helper()
	if err := got.Validate(); err != nil {
		t.Errorf("the contract request does not validate: %v", err)
	}
	wantURL := scheme + "://" + ContractBucket + "/" + ContractKey
	if got.Action != action || got.Bundle != wantURL || got.Version != version {
		t.Errorf("got action %q bundle %q version %q; want %q %q %q", got.Action, got.Bundle, got.Version, action, wantURL, version)
	}
	wantDB := ""
	if action == deploy.ActionReset {
		wantDB = ContractResetDB
	}
	if got.Database != wantDB {
		t.Errorf("database %q, want %q", got.Database, wantDB)
	}
	if got.Trigger.Platform != platform {
		t.Errorf("trigger platform %q, want %q", got.Trigger.Platform, platform)
	}
	if _, key, err := deploy.SplitBundleURL(got.Bundle); err != nil || key != ContractKey {
		t.Errorf("the bundle URL splits into key %q (%v), want %q", key, err, ContractKey)
	}
}
