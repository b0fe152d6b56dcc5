package fetchtest

import (
	"os/exec"
	"strings"
	"testing"
)

// StorageSDKs are the import path prefixes of each cloud's storage SDK and
// gocloud driver. Google's list is the storage client, not every
// cloud.google.com or google.golang.org/api package: gocloud.dev/blob itself
// links google.golang.org/api/googleapi, and azureblob links
// google.golang.org/api/option and cloud.google.com/go/auth through
// gocloud.dev/internal/useragent.
var StorageSDKs = map[string][]string{
	"aws":   {"github.com/aws/", "gocloud.dev/blob/s3blob"},
	"gcp":   {"cloud.google.com/go/storage", "gocloud.dev/blob/gcsblob"},
	"azure": {"github.com/Azure/", "github.com/AzureAD/", "gocloud.dev/blob/azureblob"},
}

// CheckLinks fails the test unless pkg (an import path) links its own
// cloud's storage SDK and driver and no other cloud's, so a function binary
// that imports it links only its own cloud.
func CheckLinks(t *testing.T, pkg, cloud string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	deps := strings.Fields(string(out))
	for name, prefixes := range StorageSDKs {
		for _, prefix := range prefixes {
			d := firstWithPrefix(deps, prefix)
			switch {
			case name == cloud && d == "":
				t.Errorf("%s does not link %s: it must bring its own cloud's driver", pkg, prefix)
			case name != cloud && d != "":
				t.Errorf("%s links %s (%s): it may link only %s's SDK", pkg, d, name, cloud)
			}
		}
	}
}

func firstWithPrefix(deps []string, prefix string) string {
	for _, d := range deps {
		if strings.HasPrefix(d, prefix) {
			return d
		}
	}
	return ""
}
