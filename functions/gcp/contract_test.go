package main

import (
	"testing"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// TestContract: the adapter contract's two events (an upload and a
// scheduled reset of the same object) yield the Requests every adapter
// must produce for them; Trigger is platform-specific and not compared.
func TestContract(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		want    deploy.Request
	}{
		{"contract/storage", deploy.Request{
			Action:    deploy.ActionDeploy,
			Bundle:    "gs://bundles/app/releases/app 1.4.tgz",
			Version:   "1700000000000001",
			Sequencer: deploy.DecimalSequencer("1700000000000001"),
		}},
		{"contract/reset", deploy.Request{
			Action:   deploy.ActionReset,
			Bundle:   "gs://bundles/app/releases/app 1.4.tgz",
			Version:  "1700000000000001",
			Database: "app_dev",
		}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			req, ignore, err := parseCloudEvent(loadCloudEventFixture(t, tc.fixture))
			if err != nil || ignore != "" {
				t.Fatalf("ignore %q, error %v", ignore, err)
			}
			functest.CheckContract(t, req, tc.want.Action, "gs", tc.want.Version, "gcp")
			req.Trigger = deploy.Trigger{}
			if req != tc.want {
				t.Fatalf("got  %+v\nwant %+v", req, tc.want)
			}
		})
	}
}
