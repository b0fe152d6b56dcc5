package main

import (
	"testing"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// TestContract: the adapter contract's upload (blob app/releases/app 1.4.tgz
// in container bundles of account pgmibundles) yields the Request every
// adapter must produce for it; Trigger is platform-specific and not
// compared.
func TestContract(t *testing.T) {
	req, account, ignore, err := parseEventGrid(loadInvocation(t, "contract/eventgrid"), eventGridBinding)
	if err != nil || ignore != "" {
		t.Fatalf("ignore %q, error %v", ignore, err)
	}
	want := deploy.Request{
		Action:    deploy.ActionDeploy,
		Bundle:    "azblob://bundles/app/releases/app 1.4.tgz",
		Version:   "0x8DC0FFEE12345678",
		Sequencer: "00000000000000000000000000005A3F0000000000001c01",
	}
	req.Trigger = deploy.Trigger{}
	if req != want {
		t.Fatalf("got  %+v\nwant %+v", req, want)
	}
	if account != "pgmibundles" {
		t.Errorf("account = %q, want pgmibundles", account)
	}
}
