// Package archtest holds the test that keeps the layout's dependency rules
// (ARCHITECTURE.md §2): the engine links only the standard library and pgx,
// the connection core no cloud SDK, the bundle package no blob driver,
// nothing under pkg/ reaches into cmd/ or functions/, and no shipped binary
// links the testing package or the module's test helpers, nor has a
// build-tagged variant for tests (testseams_test.go).
//
// It also polices what the shipped binaries weigh (binaries_test.go,
// size_test.go, modules_test.go). Each binary is built with grpcnotrace,
// which leaves out gRPC's /debug/requests tracing (golang.org/x/net/trace and
// the html/template it keeps reachable defeat the linker's dead-method
// elimination), and the two that link cloud.google.com/go/storage (the GCP
// function and the CLI) with disable_grpc_modules, which leaves out the
// storage client's gRPC direct-path imports: xDS, envoy and RLS, about 40
// packages. TestBinarySizes holds each to an absolute budget (linux/amd64,
// -trimpath -ldflags '-s -w'); TestModules diffs the modules each links
// against testdata/modules/<binary>.txt, so a new dependency shows up in
// review (regenerate with go test ./internal/archtest -run TestModules
// -update); TestShippingBuildsUseTheTags keeps scripts/package.sh and the
// Makefile on the same tags.
//
// A known floor: gocloud.dev's core links google.golang.org/api/googleapi
// and, through its internal/retry, gax-go and with it google.golang.org/grpc,
// so every binary links gRPC (hence grpcnotrace everywhere). Its azureblob
// driver also links Google's auth packages (google.golang.org/api/option,
// cloud.google.com/go/auth, S2A) through gocloud's internal/useragent, so the
// Azure function lists Google modules without linking Google's storage or
// Cloud SQL SDKs. That is the prescribed storage layer's cost, not a breach
// of the one-cloud-per-function rule.
package archtest
