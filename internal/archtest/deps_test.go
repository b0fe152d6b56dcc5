package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/pgmi-cloud/pgmi"

// deps lists the packages pkg links, without the test files, via go list.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var list []string
	for _, l := range strings.Fields(string(out)) {
		if l != pkg {
			list = append(list, l)
		}
	}
	return list
}

func TestEngineLinksOnlyStdlibAndPgx(t *testing.T) {
	for _, d := range deps(t, module+"/pkg/engine") {
		if !strings.HasPrefix(d, "github.com/jackc/") && !strings.HasPrefix(d, "golang.org/x/text/") && !strings.HasPrefix(d, "golang.org/x/sync/") {
			t.Errorf("pkg/engine links %s: only the standard library and pgx (with pgx's own dependencies) are allowed", d)
		}
	}
}

var cloudSDKs = []string{
	"github.com/aws/", "github.com/Azure/", "github.com/AzureAD/", "cloud.google.com/", "google.golang.org/api",
	"gocloud.dev/blob/s3blob", "gocloud.dev/blob/gcsblob", "gocloud.dev/blob/azureblob",
}

func TestConnectCoreLinksNoCloudSDK(t *testing.T) {
	for _, d := range deps(t, module+"/pkg/connect") {
		for _, sdk := range cloudSDKs {
			if strings.HasPrefix(d, sdk) {
				t.Errorf("pkg/connect links %s: cloud SDKs belong in pkg/connect/<provider>/", d)
			}
		}
	}
}

// The portable gocloud.dev/blob API itself links google.golang.org/api's
// small error helpers; the SDKs and drivers are what must stay out.
var blobDrivers = []string{
	"github.com/aws/", "github.com/Azure/", "github.com/AzureAD/", "cloud.google.com/go/storage",
	"gocloud.dev/blob/s3blob", "gocloud.dev/blob/gcsblob", "gocloud.dev/blob/azureblob",
}

func TestBundleLinksNoBlobDriver(t *testing.T) {
	for _, d := range deps(t, module+"/pkg/bundle") {
		for _, sdk := range blobDrivers {
			if strings.HasPrefix(d, sdk) {
				t.Errorf("pkg/bundle links %s: it uses the portable gocloud.dev/blob API; drivers are blank-imported by composition roots", d)
			}
		}
	}
}

func TestPkgNeverImportsCompositionRoots(t *testing.T) {
	out, err := exec.Command("go", "list", module+"/pkg/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, d := range deps(t, pkg) {
			if strings.HasPrefix(d, module+"/cmd/") || strings.HasPrefix(d, module+"/functions/") {
				t.Errorf("%s links %s: nothing under pkg/ may import cmd/ or functions/", pkg, d)
			}
		}
	}
}
