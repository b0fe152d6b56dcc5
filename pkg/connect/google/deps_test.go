package google_test

import (
	"os/exec"
	"strings"
	"testing"
)

// This package links Google's SDK and nothing of the other clouds.
func TestLinksOnlyGoogleSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}",
		"github.com/pgmi-cloud/pgmi/pkg/connect/google").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	sawConnector := false
	for _, d := range strings.Fields(string(out)) {
		sawConnector = sawConnector || d == "cloud.google.com/go/cloudsqlconn"
		for _, other := range []string{"github.com/aws/", "github.com/Azure/", "github.com/AzureAD/"} {
			if strings.HasPrefix(d, other) {
				t.Errorf("pkg/connect/google links %s", d)
			}
		}
	}
	if !sawConnector {
		t.Error("go list -deps does not show cloudsqlconn: the check is not looking at the right thing")
	}
}
