package archtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
)

// binary is one shipped program: how it is built and how large it may be.
type binary struct {
	name   string // short name: the size metric and the module list's file
	pkg    string // main package, relative to the module
	tags   string // -tags as it ships (Makefile, scripts/package.sh)
	budget int64  // MiB, built for linux/amd64 with -trimpath -ldflags '-s -w'
}

// shipped lists the four shipped binaries. grpcnotrace (every binary) drops
// gRPC's /debug/requests tracing, which keeps html/template and
// golang.org/x/net/trace reachable and defeats the linker's dead-method
// elimination; disable_grpc_modules (the two that link
// cloud.google.com/go/storage) drops the storage client's gRPC direct-path
// imports, which bring in xDS and envoy. scripts/package.sh and the Makefile
// must build with exactly these tags (TestShippingBuildsUseTheTags).
var shipped = []binary{
	// Budgets rose with the fleet queue drivers (issue 17): aws 19 → 20
	// (gocloud awssnssqs: SQS and SNS), gcp 32 → 33 (Pub/Sub v2),
	// pgmi 34 → 36 (all four drivers, for pgmi rollout resume and local).
	// azure 21 → 22 with klauspost/compress's inflater (issue 16: about
	// 100 KB in each binary; azure was 0.05 MiB under its budget).
	{name: "aws", pkg: "functions/aws", tags: "lambda.norpc,grpcnotrace", budget: 20},
	{name: "azure", pkg: "functions/azure", tags: "grpcnotrace", budget: 22},
	{name: "gcp", pkg: "functions/gcp", tags: "grpcnotrace,disable_grpc_modules", budget: 33},
	{name: "pgmi", pkg: "cmd/pgmi", tags: "grpcnotrace,disable_grpc_modules", budget: 36},
}

// shippedEnv is the target every budget and module list is measured for.
var shippedEnv = []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64"}

var shippedDepsCache sync.Map // binary name → []string

// shippedDeps lists every package b links, standard library included, with
// its module (import path, then a space and the module path if it has one),
// for the shipped target and tags.
func shippedDeps(t *testing.T, b binary) []string {
	t.Helper()
	if list, ok := shippedDepsCache.Load(b.name); ok {
		return list.([]string)
	}
	cmd := exec.Command("go", "list", "-deps", "-tags", b.tags, "-f", "{{.ImportPath}}{{with .Module}} {{.Path}}{{end}}", module+"/"+b.pkg)
	cmd.Env = append(os.Environ(), shippedEnv...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -tags %s %s: %v", b.tags, b.pkg, err)
	}
	list := strings.Split(strings.TrimSpace(string(out)), "\n")
	shippedDepsCache.Store(b.name, list)
	return list
}

// shippedPackages is the import paths of shippedDeps.
func shippedPackages(t *testing.T, b binary) []string {
	t.Helper()
	var pkgs []string
	for _, l := range shippedDeps(t, b) {
		pkgs = append(pkgs, strings.Fields(l)[0])
	}
	return pkgs
}

// shippedModules is the sorted module paths b links, the main module left out.
func shippedModules(t *testing.T, b binary) []string {
	t.Helper()
	var mods []string
	for _, l := range shippedDeps(t, b) {
		if f := strings.Fields(l); len(f) == 2 && f[1] != module {
			mods = append(mods, f[1])
		}
	}
	slices.Sort(mods)
	return slices.Compact(mods)
}

// The build tags are what keep these out: grpcnotrace gRPC's request tracing
// (golang.org/x/net/trace), disable_grpc_modules the storage client's xDS,
// envoy and RLS imports.
var taggedOut = []string{
	"golang.org/x/net/trace",
	"google.golang.org/grpc/xds",
	"google.golang.org/grpc/balancer/rls",
	"github.com/envoyproxy/",
	"github.com/cncf/xds/",
}

// TestShippedBinariesLinkNoXDSOrTracing checks the tags do their work: no
// shipped binary links gRPC's tracing, xDS or envoy. The gRPC marker proves
// the check looks at binaries that do link gRPC, where the tags matter.
func TestShippedBinariesLinkNoXDSOrTracing(t *testing.T) {
	for _, b := range shipped {
		t.Run(b.name, func(t *testing.T) {
			pkgs := shippedPackages(t, b)
			if strings.Contains(b.tags, "disable_grpc_modules") && !slices.Contains(pkgs, "google.golang.org/grpc") {
				t.Errorf("%s no longer links google.golang.org/grpc: is disable_grpc_modules still needed?", b.pkg)
			}
			var linked []string
			for _, p := range pkgs {
				for _, out := range taggedOut {
					if prefix := strings.TrimSuffix(out, "/"); p == prefix || strings.HasPrefix(p, prefix+"/") {
						linked = append(linked, p)
					}
				}
			}
			if len(linked) > 0 {
				t.Errorf("%s built with -tags %s links %d packages that grpcnotrace and disable_grpc_modules should keep out (go list -deps -tags %s ./%s):\n  %s",
					b.pkg, b.tags, len(linked), b.tags, b.pkg, strings.Join(linked, "\n  "))
			}
		})
	}
}

// TestShippingBuildsUseTheTags checks that scripts/package.sh builds each
// function, and the Makefile the CLI, with the tags of the shipped table, so
// the budgets and module lists above measure what ships.
func TestShippingBuildsUseTheTags(t *testing.T) {
	script := readRepoFile(t, "scripts/package.sh")
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+_TAGS)=(\S+)$`).FindAllStringSubmatch(script, -1) {
		vars[m[1]] = m[2]
	}
	for _, b := range shipped {
		for _, tag := range strings.Split(b.tags, ",") {
			if tag != "lambda.norpc" && !slices.Contains(lambdafake.ShippedTags, tag) {
				t.Errorf("%s ships with -tags %s, but lambdafake.ShippedTags (what tests build binaries with) lacks %s", b.pkg, b.tags, tag)
			}
		}
	}
	makefile := readRepoFile(t, "Makefile")
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]*TAGS)\s*:=\s*(\S+)$`).FindAllStringSubmatch(makefile, -1) {
		vars[m[1]] = m[2]
	}
	for _, tc := range []struct{ file, text, build string }{
		{"scripts/package.sh", script, `(?m)^\s*build .* \./%s -tags "\$([A-Z_]+)"$`},
		{"Makefile", makefile, `(?m)^\s*\$\(GO\) build .*-tags \$\(([A-Z_]+)\) .* \./%s$`},
	} {
		for _, b := range shipped {
			if (tc.file == "Makefile") != (b.name == "pgmi") {
				continue
			}
			m := regexp.MustCompile(fmt.Sprintf(tc.build, regexp.QuoteMeta(b.pkg))).FindStringSubmatch(tc.text)
			if m == nil {
				t.Errorf("%s has no line building ./%s with -tags from a variable (%s)", tc.file, b.pkg, tc.build)
				continue
			}
			if got := vars[m[1]]; got != b.tags {
				t.Errorf("%s builds ./%s with -tags %q (%s), internal/archtest's shipped table says %q", tc.file, b.pkg, got, m[1], b.tags)
			}
		}
	}
}

// readRepoFile reads a file by its path from the module root.
func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
