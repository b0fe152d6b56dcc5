package infratest

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// infraFiles lists the files under infra/ with one of the extensions,
// relative to infra/.
func infraFiles(t *testing.T, exts ...string) []string {
	t.Helper()
	root := filepath.Join(repoRoot(t), "infra")
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		for _, e := range exts {
			if !d.IsDir() && strings.HasSuffix(p, e) {
				rel, _ := filepath.Rel(root, p)
				out = append(out, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func loadModule(t *testing.T, rel string) *module {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "infra", rel)
	src, err := readModule(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(src) == 0 {
		t.Fatalf("infra/%s holds no .tf files", rel)
	}
	return parseModule(dir, src)
}

// TestTerraformParses parses every .tf file under infra/: any syntax error
// fails.
func TestTerraformParses(t *testing.T) {
	files := infraFiles(t, ".tf")
	if len(files) < 20 {
		t.Fatalf("found only %d .tf files under infra/: %v", len(files), files)
	}
	root := filepath.Join(repoRoot(t), "infra")
	for _, rel := range files {
		src, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if _, diags := hclsyntax.ParseConfig(src, rel, hcl.InitialPos); diags.HasErrors() {
			t.Errorf("%s: %s", rel, diags.Error())
		}
	}
}

// TestModules checks each module against what the infra issue lists.
func TestModules(t *testing.T) {
	for _, s := range specs {
		t.Run(s.dir, func(t *testing.T) {
			m := loadModule(t, s.dir)
			for _, problem := range checkModule(m, s) {
				t.Error(problem)
			}
		})
	}
}

// TestChecksCatchMistakes breaks a module in memory, one mistake at a time,
// and expects the module check to report it: the checks can fail.
func TestChecksCatchMistakes(t *testing.T) {
	mutations := []struct {
		dir, file string
		edit      func(string) string
		want      string
	}{
		{"aws", "trigger.tf", func(string) string { return "" }, "aws_s3_bucket_notification"},
		{"aws", "lambda.tf", replace(`runtime          = "provided.al2023"`, `runtime          = "provided.al2"`), `runtime must be "provided.al2023"`},
		{"aws", "lambda.tf", replace(`handler          = "bootstrap"`, `handler          = "main"`), `handler must be "bootstrap"`},
		{"aws", "iam.tf", replace(`"${local.bucket_arn}/${var.results_prefix}*"`, `"${local.bucket_arn}/*"`), "s3:PutObject must be alone"},
		{"aws", "iam.tf", replace(`"${local.bucket_arn}/${var.bundle_prefix}*"`, `"${local.bucket_arn}/*"`), "s3:GetObject must be limited"},
		{"aws", "trigger.tf", replace(`filter_prefix       = var.bundle_prefix`, `filter_prefix       = ""`), "filter_prefix"},
		{"aws", "trigger.tf", replace(`source_account = local.bucket_account_id`, ``), "source_account"},
		{"aws", "failure.tf", func(string) string { return "" }, "on-failure destination"},
		{"aws", "variables.tf", dropValidation("architecture"), "variable architecture: no validation block"},
		{"aws", "variables.tf", replace(`description = "Lambda instruction set`, `# description = "Lambda instruction set`), "variable architecture: no description"},
		{"aws", "versions.tf", replace(`version = "~> 6.0"`, `version = ">= 5.0"`), "not pinned to a major version"},
		{"aws", "main.tf", replace(`PGMI_RESULTS_PREFIX      = var.results_prefix`, ``), "PGMI_RESULTS_PREFIX is not set"},
		{"aws", "outputs.tf", replace(`output "function_arn"`, `output "function_arn_renamed"`), "output function_arn is not declared"},
		{"gcp", "service.tf", replace(`google.cloud.storage.object.v1.finalized`, `google.cloud.storage.object.v1.deleted`), "finalized"},
		{"gcp", "iam.tf", replace(`"resource.name.startsWith(\"${local.objects_path}${var.results_prefix}\")"`, `"true"`), "condition on var.results_prefix"},
		{"gcp", "main.tf", replace(`PGMI_TIMEOUT             = "${var.timeout_seconds}s"`, ``), "PGMI_TIMEOUT"},
		{"gcp", "database.tf", func(string) string { return "" }, "google_sql_user"},
		{"azure", "function.tf", replace(`runtime_name    = "custom"`, `runtime_name    = "node"`), `runtime_name must be "custom"`},
		{"azure", "events.tf", replace(`blobs/${var.bundle_prefix}"`, `blobs/"`), "subject filter"},
		{"azure", "identity.tf", replace(`StringStartsWith '${var.results_prefix}'`, `StringStartsWith '${var.bundle_prefix}'`), "must name var.results_prefix"},
		{"azure", "storage.tf", replace(`shared_access_key_enabled       = false`, `shared_access_key_enabled       = true`), "shared keys"},
		{"azure", "variables.tf", func(s string) string {
			return s + "\nvariable \"db_password\" {\n  description = \"a password for the database\"\n  type = string\n}\n"
		}, "no variable may carry a secret"},
	}
	for _, mu := range mutations {
		t.Run(mu.dir+"/"+mu.file+"/"+mu.want, func(t *testing.T) {
			m := loadModule(t, mu.dir)
			orig, ok := m.src[mu.file]
			if !ok {
				t.Fatalf("infra/%s/%s does not exist", mu.dir, mu.file)
			}
			src := map[string][]byte{}
			for k, v := range m.src {
				src[k] = v
			}
			edited := mu.edit(string(orig))
			if edited == string(orig) {
				t.Fatalf("the mutation did not change %s: the test is stale", mu.file)
			}
			src[mu.file] = []byte(edited)
			var spec moduleSpec
			for _, s := range specs {
				if s.dir == mu.dir {
					spec = s
				}
			}
			got := checkModule(parseModule(m.dir, src), spec)
			for _, p := range got {
				if strings.Contains(p, mu.want) {
					return
				}
			}
			t.Errorf("the check did not report %q; it reported:\n%s", mu.want, strings.Join(got, "\n"))
		})
	}
}

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

// dropValidation removes the validation blocks of one variable.
func dropValidation(name string) func(string) string {
	return func(s string) string {
		start := strings.Index(s, `variable "`+name+`" {`)
		if start < 0 {
			return s
		}
		end := start + strings.Index(s[start:], "\n}\n") + 1
		block := regexp.MustCompile(`(?s)\n  validation \{.*?\n  \}\n`).ReplaceAllString(s[start:end], "\n")
		return s[:start] + block + s[end:]
	}
}

// TestNoSecrets scans every file under infra/ for credentials.
func TestNoSecrets(t *testing.T) {
	root := filepath.Join(repoRoot(t), "infra")
	for _, rel := range infraFiles(t, ".tf", ".tfvars.example", ".sql", ".md") {
		src, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range findSecrets(rel, src) {
			t.Error(f)
		}
	}
	// And the scanner itself finds what it is for.
	planted := []byte("a = \"AKIAABCDEFGHIJKLMNOP\"\ndb_password = \"hunter2\"\nk = \"-----BEGIN OPENSSH PRIVATE KEY-----\"\n")
	if got := findSecrets("planted", planted); len(got) != 3 {
		t.Errorf("the secret scanner found %d of 3 planted secrets: %v", len(got), got)
	}
}

// TestTfvarsExamples parses every *.tfvars.example and checks it sets only
// variables its module declares, and every variable without a default.
func TestTfvarsExamples(t *testing.T) {
	examples := infraFiles(t, ".tfvars.example")
	if len(examples) < 4 {
		t.Fatalf("want a terraform.tfvars.example per module and example, found %v", examples)
	}
	root := filepath.Join(repoRoot(t), "infra")
	for _, rel := range examples {
		t.Run(rel, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil {
				t.Fatal(err)
			}
			f, diags := hclsyntax.ParseConfig(src, rel, hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			body := f.Body.(*hclsyntax.Body)
			if len(body.Blocks) > 0 {
				t.Errorf("a tfvars file holds attributes only, found block %s", body.Blocks[0].Type)
			}
			for name, a := range body.Attributes {
				if _, diags := a.Expr.Value(nil); diags.HasErrors() {
					t.Errorf("%s: a tfvars value must be a constant: %s", name, diags.Error())
				}
			}
			m := loadModule(t, filepath.Dir(rel))
			vars := m.named("variable")
			for name := range body.Attributes {
				if vars[name] == nil {
					t.Errorf("sets %s, which infra/%s does not declare", name, filepath.Dir(rel))
				}
			}
			for name, v := range vars {
				if attr(v.Body, "default") == nil && body.Attributes[name] == nil {
					t.Errorf("does not set %s, which has no default", name)
				}
			}
		})
	}
}

// TestCrossAccountExample checks the example passes the AWS module only
// variables it declares, every one it requires, and the providers it needs.
func TestCrossAccountExample(t *testing.T) {
	ex := loadModule(t, filepath.Join("aws", "examples", "cross-account"))
	if ex.diags.HasErrors() {
		t.Fatal(ex.diags.Error())
	}
	aws := loadModule(t, "aws")
	call := ex.one("module", "pgmi")
	if call == nil {
		t.Fatal(`module "pgmi" is not declared`)
	}
	if got := literalString(attr(call.Body, "source").Expr); got != "../.." {
		t.Errorf("module source %q, want ../..", got)
	}
	providers := objectItems(attr(call.Body, "providers").Expr)
	if p := providers["aws"]; p == nil || ex.text(p) != "aws.target" {
		t.Errorf("the module must run with the target account's provider (providers.aws = aws.target)")
	}
	vars := aws.named("variable")
	meta := map[string]bool{"source": true, "providers": true, "depends_on": true, "count": true, "for_each": true, "version": true}
	for name := range call.Body.Attributes {
		if !meta[name] && vars[name] == nil {
			t.Errorf("passes %s, which infra/aws does not declare", name)
		}
	}
	for name, v := range vars {
		if attr(v.Body, "default") == nil && call.Body.Attributes[name] == nil {
			t.Errorf("does not pass %s, which infra/aws requires", name)
		}
	}
	for name, want := range map[string]string{"create_bucket": "false", "manage_bucket_notification": "false"} {
		if a := call.Body.Attributes[name]; a == nil || ex.text(a.Expr) != want {
			t.Errorf("%s must be %s: the bucket and its notification belong to the build account", name, want)
		}
	}
	if a := call.Body.Attributes["bucket_account_id"]; a == nil || !refs(a.Expr)["data.aws_caller_identity.build"] {
		t.Error("bucket_account_id must be the build account (the source_account guard)")
	}
	n := ex.one("resource", "aws_s3_bucket_notification", "bundles")
	if n == nil || ex.text(attr(n.Body, "provider").Expr) != "aws.build" {
		t.Fatal("the notification must be created in the build account")
	}
	if fa := attrs(n.Body, "lambda_function", "lambda_function_arn"); len(fa) != 1 || !refs(fa[0].Expr)["module.pgmi"] {
		t.Error("the notification must target the module's function")
	}
	policy := ex.one("data", "aws_iam_policy_document", "bundles")
	if policy == nil {
		t.Fatal("the build bucket's policy document is missing")
	}
	var grantsRole bool
	for _, b := range nested(policy.Body, "statement") {
		for _, pr := range nested(b, "principals") {
			if a := pr.Attributes["identifiers"]; a != nil && strings.Contains(ex.text(a.Expr), "module.pgmi.role_arn") {
				grantsRole = true
			}
		}
	}
	if !grantsRole {
		t.Error("the bucket policy must grant the target account's deployer role")
	}
}

// TestAzureMatchesFunctionFolders ties infra/azure to functions/azure: every
// %SETTING% a function.json reads is an app setting the module sets.
func TestAzureMatchesFunctionFolders(t *testing.T) {
	root := repoRoot(t)
	settings := objectItems(loadModule(t, "azure").locals()["app_settings"])
	folders, err := filepath.Glob(filepath.Join(root, "functions", "azure", "*", "function.json"))
	if err != nil || len(folders) == 0 {
		t.Fatalf("no functions/azure/*/function.json (%v)", err)
	}
	ref := regexp.MustCompile(`%([A-Za-z0-9_]+)%`)
	for _, f := range folders {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(data) {
			t.Errorf("%s is not JSON", f)
		}
		for _, m := range ref.FindAllSubmatch(data, -1) {
			if settings[string(m[1])] == nil {
				t.Errorf("%s reads %%%s%%, which infra/azure does not set", f, m[1])
			}
		}
	}
}

// TestTerraformFmt runs `terraform fmt -check` when terraform is installed.
// (terraform validate needs the providers, which cannot be downloaded here.)
func TestTerraformFmt(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH; the HCL parse and module checks above still ran")
	}
	cmd := exec.Command(tf, "fmt", "-check", "-recursive", "-diff", ".")
	cmd.Dir = filepath.Join(repoRoot(t), "infra")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Errorf("terraform fmt -check: %v\n%s", err, out.String())
	}
}
