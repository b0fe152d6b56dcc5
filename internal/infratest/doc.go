// Package infratest holds the tests of what ships outside the Go binaries:
// the Terraform under infra/, the database-side SQL under infra/sql, and the
// function artifacts scripts/package.sh builds.
//
// Providers cannot be downloaded where these tests run, so `terraform
// validate` is out of reach. Instead the tests parse every .tf file with
// hashicorp/hcl/v2 (a syntax error fails them), check that each module
// declares what the infra issue lists (resources, variables with a
// description, a type and validation, outputs, pinned providers, the
// trigger and results prefixes wired where they belong, no secrets), check
// every resource and data block against the providers' schemas at both ends
// of each version pin (the Schema tests, over internal/tfschema), evaluate
// every variable validation with the example values and with values that
// break a cross-variable rule, run
// `terraform fmt -check` when terraform is on PATH, run the SQL files with
// psql against a throwaway PostgreSQL, and build the artifacts to check
// their layout and that two builds are byte-identical.
package infratest
