package main

import (
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
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
	functest.CheckContract(t, req, deploy.ActionDeploy, "azblob", "0x8DC0FFEE12345678", "azure")
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

// TestContractReset: the timer carries nothing but its schedule, so the
// contract's reset (of app_dev, with the contract's bundle) comes from
// PGMI_RESET_DATABASE and PGMI_RESET_BUNDLE; it reads the blob's current
// content (no version).
func TestContractReset(t *testing.T) {
	inv := loadInvocation(t, "timer")
	timer, err := parseTimer(inv, timerBinding)
	if err != nil {
		t.Fatal(err)
	}
	sys, err := parseSys(inv)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := loadSettings(envOf(map[string]string{
		envPort: "7071", envAccount: "pgmibundles",
		envResetDatabase: functest.ContractResetDB,
		envResetBundle:   "azblob://" + functest.ContractBucket + "/" + functest.ContractKey,
	}), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	req := resetRequest(cfg, timer, sys, "invocation-1", time.Time{})
	functest.CheckContract(t, req, deploy.ActionReset, "azblob", "", "azure")
	if req.Trigger.Schedule != "Reset@2026-11-26T02:00:00Z" || req.Trigger.InvocationID != "invocation-1" || req.Trigger.Source != "timer" {
		t.Errorf("trigger %+v", req.Trigger)
	}
}
