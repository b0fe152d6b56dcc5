package archtest

import (
	"os/exec"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
)

const module = "github.com/pgmi-cloud/pgmi"

var depsCache sync.Map // package → []string

// deps lists the packages pkg links, without the test files, via go list.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	if list, ok := depsCache.Load(pkg); ok {
		return list.([]string)
	}
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
	depsCache.Store(pkg, list)
	return list
}

// engineOwn lists the packages of this module the engine may import: each
// imports only the standard library and the others listed (checked below),
// so the engine's own dependency rule still holds through them.
var engineOwn = []string{module + "/internal/backoff", module + "/internal/exitcode", module + "/internal/lockkey", module + "/pkg/fault"}

func TestEngineLinksOnlyStdlibAndPgx(t *testing.T) {
	for _, d := range deps(t, module+"/pkg/engine") {
		if !slices.Contains(engineOwn, d) && !strings.HasPrefix(d, "github.com/jackc/") && !strings.HasPrefix(d, "golang.org/x/text/") && !strings.HasPrefix(d, "golang.org/x/sync/") {
			t.Errorf("pkg/engine links %s: only the standard library, pgx (with pgx's own dependencies) and %v are allowed", d, engineOwn)
		}
	}
	for _, own := range engineOwn {
		for _, d := range deps(t, own) {
			if !slices.Contains(engineOwn, d) {
				t.Errorf("%s links %s: a package the engine imports may import only the standard library and %v", own, d, engineOwn)
			}
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

// cloudPrefixes mark each cloud's SDKs. Google's are the storage client and
// the Cloud SQL connector rather than all of cloud.google.com: gocloud.dev/blob
// links google.golang.org/api/googleapi, and the Azure blob driver links
// google.golang.org/api/option and cloud.google.com/go/auth through gocloud's
// internal user-agent package.
var cloudPrefixes = map[string][]string{
	"aws":    {"github.com/aws/", "gocloud.dev/blob/s3blob"},
	"azure":  {"github.com/Azure/", "github.com/AzureAD/", "gocloud.dev/blob/azureblob"},
	"google": {"cloud.google.com/go/storage", "cloud.google.com/go/cloudsqlconn", "gocloud.dev/blob/gcsblob"},
}

// Each cloud-specific package links its own cloud's SDK (the marker proves the
// check looks at the right thing) and none of the others', so a function
// binary that imports it links only its own cloud.
func TestCloudPackagesLinkOnlyTheirCloud(t *testing.T) {
	for _, tc := range []struct{ pkg, cloud, marker string }{
		{"pkg/connect/rdsiam", "aws", "github.com/aws/aws-sdk-go-v2/feature/rds/auth"},
		{"pkg/connect/entra", "azure", "github.com/Azure/azure-sdk-for-go/sdk/azidentity"},
		{"pkg/connect/cloudsql", "google", "cloud.google.com/go/cloudsqlconn"},
		{"pkg/bundle/s3pin", "aws", "gocloud.dev/blob/s3blob"},
		{"pkg/bundle/azpin", "azure", "gocloud.dev/blob/azureblob"},
		{"pkg/bundle/gcspin", "google", "gocloud.dev/blob/gcsblob"},
		// The function binaries: each links its runtime, its blob driver and
		// its auth provider, and nothing of the other two clouds.
		{"functions/aws", "aws", "github.com/aws/aws-lambda-go/lambda"},
		{"functions/aws", "aws", "gocloud.dev/blob/s3blob"},
		{"functions/aws", "aws", "github.com/aws/aws-sdk-go-v2/feature/rds/auth"},
		{"functions/gcp", "google", "github.com/GoogleCloudPlatform/functions-framework-go/funcframework"},
		{"functions/gcp", "google", "gocloud.dev/blob/gcsblob"},
		{"functions/gcp", "google", "cloud.google.com/go/cloudsqlconn"},
		{"functions/azure", "azure", "gocloud.dev/blob/azureblob"},
		{"functions/azure", "azure", "github.com/Azure/azure-sdk-for-go/sdk/azidentity"},
		// The shared pipeline and the adapters' common code link no cloud.
		{"pkg/deploy", "", "gocloud.dev/blob"},
		{"functions/internal", "", "github.com/pgmi-cloud/pgmi/pkg/deploy"},
	} {
		t.Run(tc.pkg+"/"+path.Base(tc.marker), func(t *testing.T) {
			list := deps(t, module+"/"+tc.pkg)
			if !slices.Contains(list, tc.marker) {
				t.Errorf("%s does not link %s", tc.pkg, tc.marker)
			}
			for cloud, prefixes := range cloudPrefixes {
				for _, d := range list {
					if cloud != tc.cloud && slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(d, p) }) {
						t.Errorf("%s links %s, an SDK of %s: it may link only %s's", tc.pkg, d, cloud, tc.cloud)
					}
				}
			}
		})
	}
}

// The failure vocabulary is pkg/fault, a leaf every layer imports, so the
// connection layer and the auth providers need not link the engine: they
// link neither it nor anything that does. The function adapters run
// deployments through pkg/deploy, which links the engine; they themselves
// import pkg/fault for errors and redaction, never the engine directly.
func TestConnectAndFunctionsDoNotImportEngine(t *testing.T) {
	engine := module + "/pkg/engine"
	for _, pkg := range []string{"pkg/connect", "pkg/connect/rdsiam", "pkg/connect/entra", "pkg/connect/cloudsql"} {
		if slices.Contains(deps(t, module+"/"+pkg), engine) {
			t.Errorf("%s links %s: errors and redaction come from pkg/fault", pkg, engine)
		}
	}
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{range .Imports}} {{.}}{{end}}", module+"/functions/...").Output()
	if err != nil {
		t.Fatalf("go list functions/...: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		if slices.Contains(strings.Fields(imports), engine) {
			t.Errorf("%s imports %s: the functions use pkg/fault for errors and redaction", pkg, engine)
		}
	}
	if ds := deps(t, module+"/pkg/fault"); len(ds) > 0 {
		t.Errorf("pkg/fault links %v: it must import only the standard library", ds)
	}
}
