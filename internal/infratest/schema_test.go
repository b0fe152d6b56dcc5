package infratest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pgmi-cloud/pgmi/internal/tfschema"
)

// The Schema tests check every resource and data block under infra/ against
// the real provider schemas, at both ends of each module's version pin: the
// arguments and nested blocks it writes exist, the required ones are there,
// and every reference to a resource attribute names one the resource
// exports. The schemas come from the @cdktf/provider-* packages that
// scripts/deps.sh installs (see internal/tfschema).

// schemaModules are the Terraform root modules and examples under infra/.
var schemaModules = []string{"aws", "gcp", "azure", filepath.Join("aws", "examples", "cross-account")}

// floorStandIns name the provider release checked in place of a pin's
// lower end when no @cdktf package was built for that release.
var floorStandIns = map[string]string{
	"hashicorp/google 6.0.0": "6.1.0", // @cdktf/provider-google 14.0.0, the first for 6.x
}

// schemaPackages reads the package list from scripts/deps.sh, so the tests
// and the installer cannot disagree: "provider-aws@21.0.0" and so on.
func schemaPackages(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "deps.sh"))
	if err != nil {
		t.Fatal(err)
	}
	list := regexp.MustCompile(`(?s)\nTFSCHEMA_PACKAGES=\((.*?)\n\)`).FindSubmatch(src)
	if list == nil {
		t.Fatal("scripts/deps.sh: no TFSCHEMA_PACKAGES=(…) list")
	}
	pkgs := regexp.MustCompile(`(?m)^\s*(provider-[a-z0-9-]+@[0-9][0-9.]*)\b`).FindAllSubmatch(list[1], -1)
	var out []string
	for _, p := range pkgs {
		out = append(out, string(p[1]))
	}
	if len(out) == 0 {
		t.Fatal("scripts/deps.sh: TFSCHEMA_PACKAGES is empty")
	}
	return out
}

var schemaCache struct {
	sync.Mutex
	byFile map[string]*tfschema.Provider
}

// loadSchemas loads every installed provider schema. A missing one fails
// under CI=true and skips otherwise.
func loadSchemas(t *testing.T) []*tfschema.Provider {
	t.Helper()
	dir := tfschema.Dir(repoRoot(t))
	var out []*tfschema.Provider
	var missing []string
	schemaCache.Lock()
	defer schemaCache.Unlock()
	if schemaCache.byFile == nil {
		schemaCache.byFile = map[string]*tfschema.Provider{}
	}
	for _, spec := range schemaPackages(t) {
		name, version, _ := strings.Cut(spec, "@")
		file := tfschema.File(dir, name, version)
		if p := schemaCache.byFile[file]; p != nil {
			out = append(out, p)
			continue
		}
		if _, err := os.Stat(file); err != nil {
			missing = append(missing, "@cdktf/"+spec)
			continue
		}
		p, err := tfschema.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		schemaCache.byFile[file] = p
		out = append(out, p)
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("provider schemas not installed in %s: %s; run scripts/deps.sh (make deps)", dir, strings.Join(missing, ", "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return out
}

// A pin is one entry of a module's required_providers.
type pin struct {
	local, source, constraint string
}

func modulePins(m *module) ([]pin, error) {
	var out []pin
	for _, tf := range m.top("terraform") {
		for _, rp := range nested(tf.Body, "required_providers") {
			for local, a := range rp.Attributes {
				items := objectItems(a.Expr)
				src, ver := items["source"], items["version"]
				if src == nil || ver == nil {
					return nil, fmt.Errorf("required_providers.%s: needs source and version", local)
				}
				out = append(out, pin{local, strings.TrimPrefix(literalString(src), "registry.terraform.io/"), literalString(ver)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].local < out[j].local })
	return out, nil
}

type semver [3]int

func parseVersion(s string) (semver, int, error) {
	parts := strings.Split(s, ".")
	var v semver
	if len(parts) > 3 {
		return v, 0, fmt.Errorf("version %q", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, 0, fmt.Errorf("version %q", s)
		}
		v[i] = n
	}
	return v, len(parts), nil
}

func (v semver) less(w semver) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] < w[i]
		}
	}
	return false
}

func (v semver) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

// pessimistic parses "~> X.Y" or "~> X.Y.Z": its floor, and whether a
// release satisfies it.
func pessimistic(c string) (semver, func(semver) bool, error) {
	rest, ok := strings.CutPrefix(c, "~> ")
	if !ok {
		return semver{}, nil, fmt.Errorf("constraint %q: only ~> pins are understood", c)
	}
	floor, n, err := parseVersion(strings.TrimSpace(rest))
	if err != nil || n < 2 {
		return semver{}, nil, fmt.Errorf("constraint %q", c)
	}
	fixed := n - 1 // leading components that must match
	return floor, func(v semver) bool {
		for i := 0; i < fixed; i++ {
			if v[i] != floor[i] {
				return false
			}
		}
		return !v.less(floor)
	}, nil
}

// pinSchemas picks, for each provider a module requires, the installed
// schemas at the lower end of its pin and at the newest release it allows.
func pinSchemas(m *module, all []*tfschema.Provider) (lower, upper map[string]*tfschema.Provider, problems []string) {
	pins, err := modulePins(m)
	if err != nil {
		return nil, nil, []string{err.Error()}
	}
	if len(pins) == 0 {
		return nil, nil, []string{"no required_providers"}
	}
	lower, upper = map[string]*tfschema.Provider{}, map[string]*tfschema.Provider{}
	for _, p := range pins {
		floor, ok, err := pessimistic(p.constraint)
		if err != nil {
			problems = append(problems, fmt.Sprintf("required_providers.%s: %v", p.local, err))
			continue
		}
		want := floor.String()
		if s, ok := floorStandIns[p.source+" "+want]; ok {
			want = s
		}
		var newest semver
		for _, s := range all {
			v, _, err := parseVersion(s.Version)
			if s.Source != p.source || err != nil || !ok(v) {
				continue
			}
			if s.Version == want {
				lower[p.local] = s
			}
			if upper[p.local] == nil || newest.less(v) {
				upper[p.local], newest = s, v
			}
		}
		if lower[p.local] == nil {
			problems = append(problems, fmt.Sprintf("required_providers.%s = %q: no schema of %s %s, the pin's lower end, in scripts/deps.sh's TFSCHEMA_PACKAGES", p.local, p.constraint, p.source, want))
		}
		if upper[p.local] == lower[p.local] {
			problems = append(problems, fmt.Sprintf("required_providers.%s = %q: scripts/deps.sh installs no newer schema of %s than the pin's lower end", p.local, p.constraint, p.source))
		}
	}
	return lower, upper, problems
}

var (
	resourceMeta       = map[string]bool{"count": true, "for_each": true, "provider": true, "depends_on": true}
	resourceMetaBlocks = map[string]bool{"lifecycle": true, "connection": true, "provisioner": true}
)

// schemaCheck checks a module against one schema per provider local name;
// each problem starts with file:line.
func schemaCheck(m *module, providers map[string]*tfschema.Provider) []string {
	var p problems
	at := func(r hcl.Range, format string, args ...any) {
		p.add("%s:%d: %s", r.Filename, r.Start.Line, fmt.Sprintf(format, args...))
	}
	// lookup finds the schema of a resource or data block, by its provider
	// meta-argument or else its type's prefix.
	lookup := func(kind, typ string, body *hclsyntax.Body) (*tfschema.Block, string) {
		local, _, _ := strings.Cut(typ, "_")
		if a := body.Attributes["provider"]; a != nil {
			if tr, ok := a.Expr.(*hclsyntax.ScopeTraversalExpr); ok {
				local = tr.Traversal.RootName()
			}
		}
		prov := providers[local]
		if prov == nil {
			return nil, fmt.Sprintf("no provider %q in required_providers", local)
		}
		set := prov.Resources
		if kind == "data" {
			set = prov.DataSources
		}
		if s := set[typ]; s != nil {
			return s, ""
		}
		return nil, fmt.Sprintf("%s %s does not exist in %s %s", kind, typ, prov.Source, prov.Version)
	}
	declared := map[string]*tfschema.Block{}
	for _, kind := range []string{"resource", "data"} {
		for _, b := range m.top(kind) {
			if len(b.Labels) != 2 {
				continue
			}
			s, why := lookup(kind, b.Labels[0], b.Body)
			addr := b.Labels[0] + "." + b.Labels[1]
			if kind == "data" {
				addr = "data." + addr
			}
			if s == nil {
				at(b.DefRange(), "%s: %s", addr, why)
				declared[addr] = nil
				continue
			}
			declared[addr] = s
			checkBlockBody(at, b.DefRange(), b.Body, s, addr, true)
		}
	}
	checkReferences(m, at, declared)
	checkModuleOutputs(m, at)
	return p
}

// checkModuleOutputs checks that every module.x.y reference names an
// output the called module (a local path) declares.
func checkModuleOutputs(m *module, at func(hcl.Range, string, ...any)) {
	outputs := map[string]map[string]*hclsyntax.Block{}
	for name, call := range m.named("module") {
		src := ""
		if a := call.Body.Attributes["source"]; a != nil {
			src = literalString(a.Expr)
		}
		if !strings.HasPrefix(src, "./") && !strings.HasPrefix(src, "../") {
			continue
		}
		files, err := readModule(filepath.Join(m.dir, src))
		if err != nil || len(files) == 0 {
			at(call.DefRange(), "module %s: no .tf files at %s (%v)", name, src, err)
			continue
		}
		outputs[name] = parseModule(filepath.Join(m.dir, src), files).named("output")
	}
	var walk func(*hclsyntax.Body)
	walk = func(body *hclsyntax.Body) {
		for _, name := range sortedKeys(body.Attributes) {
			for _, tr := range body.Attributes[name].Expr.Variables() {
				if tr.RootName() != "module" || len(tr) < 3 {
					continue
				}
				call, ok1 := tr[1].(hcl.TraverseAttr)
				out, ok2 := tr[2].(hcl.TraverseAttr)
				if !ok1 || !ok2 || outputs[call.Name] == nil {
					continue
				}
				if outputs[call.Name][out.Name] == nil {
					at(tr.SourceRange(), "module.%s has no output %q", call.Name, out.Name)
				}
			}
		}
		for _, b := range body.Blocks {
			walk(b.Body)
		}
	}
	for _, b := range m.blocks {
		walk(b.Body)
	}
}

// checkBlockBody checks one block body against its schema.
func checkBlockBody(at func(hcl.Range, string, ...any), def hcl.Range, body *hclsyntax.Body, s *tfschema.Block, addr string, top bool) {
	for _, name := range sortedKeys(body.Attributes) {
		a := body.Attributes[name]
		if top && resourceMeta[name] {
			continue
		}
		if s.Arguments[name] != nil {
			continue
		}
		if s.Blocks[name] != nil {
			at(a.NameRange, "%s: %s is a block, not an argument: write %s { … }", addr, name, name)
			continue
		}
		at(a.NameRange, "%s: unknown argument %q", addr, name)
	}
	present := map[string]bool{}
	for _, b := range body.Blocks {
		if top && resourceMetaBlocks[b.Type] {
			continue
		}
		name, content := b.Type, []*hclsyntax.Body{b.Body}
		if b.Type == "dynamic" && len(b.Labels) == 1 {
			name, content = b.Labels[0], nil
			for _, c := range b.Body.Blocks {
				if c.Type == "content" {
					content = append(content, c.Body)
				}
			}
		}
		present[name] = true
		nb := s.Blocks[name]
		if arg := s.Arguments[name]; nb == nil && arg != nil && arg.Object != nil {
			// An object attribute in block syntax: Terraform takes it
			// for the SDKv2 ones (attributes as blocks).
			nb = &tfschema.NestedBlock{Name: name, Block: arg.Object}
		}
		if nb == nil {
			if arg := s.Arguments[name]; arg != nil {
				at(b.TypeRange, "%s: %s is an argument, not a block: write %s = …", addr, name, name)
			} else {
				at(b.TypeRange, "%s: unknown block %q", addr, name)
			}
			continue
		}
		for _, c := range content {
			checkBlockBody(at, b.DefRange(), c, nb.Block, addr+"."+name, false)
		}
	}
	for _, name := range sortedKeys(s.Arguments) {
		if s.Arguments[name].Required && body.Attributes[name] == nil && !present[name] {
			at(def, "%s: missing required argument %q", addr, name)
		}
	}
	for _, name := range sortedKeys(s.Blocks) {
		if s.Blocks[name].Required && !present[name] {
			at(def, "%s: missing required block %q", addr, name)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkReferences checks every reference to a resource or data source in
// the module: the block is declared and exports the attribute named.
func checkReferences(m *module, at func(hcl.Range, string, ...any), declared map[string]*tfschema.Block) {
	isResourceType := map[string]bool{}
	for addr := range declared {
		if !strings.HasPrefix(addr, "data.") {
			typ, _, _ := strings.Cut(addr, ".")
			isResourceType[typ] = true
		}
	}
	check := func(tr hcl.Traversal, rng hcl.Range) {
		root := tr.RootName()
		var addr string
		var rest hcl.Traversal
		switch {
		case root == "data" && len(tr) >= 3:
			t1, ok1 := tr[1].(hcl.TraverseAttr)
			t2, ok2 := tr[2].(hcl.TraverseAttr)
			if !ok1 || !ok2 {
				return
			}
			addr, rest = "data."+t1.Name+"."+t2.Name, tr[3:]
		case isResourceType[root] && len(tr) >= 2:
			t1, ok := tr[1].(hcl.TraverseAttr)
			if !ok {
				return
			}
			addr, rest = root+"."+t1.Name, tr[2:]
		default:
			return
		}
		s, ok := declared[addr]
		if !ok {
			at(rng, "reference to %s, which is not declared", addr)
			return
		}
		if s == nil {
			return // already reported as unknown
		}
		if len(rest) > 0 {
			if _, isIndex := rest[0].(hcl.TraverseIndex); isIndex {
				rest = rest[1:]
			}
		}
		if len(rest) == 0 {
			return
		}
		if a, ok := rest[0].(hcl.TraverseAttr); ok && !s.Exports(a.Name) {
			at(rng, "%s has no attribute %q", addr, a.Name)
		}
	}
	var walkBody func(*hclsyntax.Body)
	walkBody = func(body *hclsyntax.Body) {
		for _, name := range sortedKeys(body.Attributes) {
			e := body.Attributes[name].Expr
			for _, tr := range e.Variables() {
				check(tr, tr.SourceRange())
			}
			// a.b[*].attr: Variables stops at the splat.
			hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
				sp, ok := n.(*hclsyntax.SplatExpr)
				if !ok {
					return nil
				}
				src, ok1 := sp.Source.(*hclsyntax.ScopeTraversalExpr)
				each, ok2 := sp.Each.(*hclsyntax.RelativeTraversalExpr)
				if ok1 && ok2 && len(each.Traversal) > 0 {
					tr := append(append(hcl.Traversal{}, src.Traversal...), hcl.TraverseIndex{}, each.Traversal[0])
					check(tr, each.SrcRange)
				}
				return nil
			})
		}
		for _, b := range body.Blocks {
			walkBody(b.Body)
		}
	}
	for _, b := range m.blocks {
		walkBody(b.Body)
	}
}

// TestSchemaInfra checks every module and example under infra/ against the
// provider schemas at both ends of its pins.
func TestSchemaInfra(t *testing.T) {
	all := loadSchemas(t)
	for _, dir := range schemaModules {
		t.Run(dir, func(t *testing.T) {
			m := loadModule(t, dir)
			if m.diags.HasErrors() {
				t.Fatal(m.diags.Error())
			}
			lower, upper, problems := pinSchemas(m, all)
			for _, p := range problems {
				t.Error(p)
			}
			if len(m.top("resource"))+len(m.top("data")) == 0 {
				t.Fatal("no resource or data blocks to check")
			}
			for _, end := range []struct {
				name string
				set  map[string]*tfschema.Provider
			}{{"lower", lower}, {"upper", upper}} {
				versions := schemaVersions(end.set)
				t.Logf("%s end: %s", end.name, versions)
				for _, p := range schemaCheck(m, end.set) {
					t.Errorf("infra/%s/%s [%s]", dir, p, versions)
				}
			}
		})
	}
}

// TestSchemaCatchesMistakes plants one mistake at a time in a temporary
// copy of a module and expects the schema check to report it, with its file
// and line, at both ends of the pin.
func TestSchemaCatchesMistakes(t *testing.T) {
	all := loadSchemas(t)
	mutations := []struct {
		name, dir, file string
		edit            func(string) string
		at              string // the reported line is the first holding this text
		want            string
	}{
		{"unknown argument", "aws", "lambda.tf",
			replace("  timeout     = var.timeout_seconds\n", "  timeout     = var.timeout_seconds\n  reserved_concurrency = 1\n"),
			"reserved_concurrency", `aws_lambda_function.deployer: unknown argument "reserved_concurrency"`},
		{"missing required argument", "aws", "lambda.tf",
			replace("  role          = aws_iam_role.deployer.arn\n", ""),
			`resource "aws_lambda_function" "deployer"`, `aws_lambda_function.deployer: missing required argument "role"`},
		{"misspelled block", "aws", "lambda.tf",
			replace("  logging_config {", "  loging_config {"),
			"loging_config", `aws_lambda_function.deployer: unknown block "loging_config"`},
		{"nonexistent attribute", "aws", "outputs.tf",
			replace("aws_lambda_function.deployer.arn\n", "aws_lambda_function.deployer.function_arn\n"),
			"deployer.function_arn", `aws_lambda_function.deployer has no attribute "function_arn"`},
		{"nonexistent attribute after a splat", "aws", "lambda.tf",
			replace("aws_lambda_layer_version.rds_ca[*].arn", "aws_lambda_layer_version.rds_ca[*].layer_arn_x"),
			"layer_arn_x", `aws_lambda_layer_version.rds_ca has no attribute "layer_arn_x"`},
		{"unknown argument of a nested block", "aws", "lambda.tf",
			replace(`    log_format            = "JSON"`, `    log_format            = "JSON"`+"\n    log_level = \"INFO\""),
			"log_level =", `aws_lambda_function.deployer.logging_config: unknown argument "log_level"`},
		{"argument written as a block", "aws", "lambda.tf",
			replace("  tags = var.tags\n", "  tags {\n  }\n"),
			"  tags {", `aws_lambda_function.deployer: tags is an argument, not a block`},
		{"undeclared resource", "aws", "outputs.tf",
			replace("aws_lambda_function.deployer.arn\n", "aws_lambda_function.deployr.arn\n"),
			"deployr", `reference to aws_lambda_function.deployr, which is not declared`},
		{"unknown resource type", "aws", "lambda.tf",
			replace(`resource "aws_cloudwatch_log_group" "deployer"`, `resource "aws_cloudwatch_loggroup" "deployer"`),
			"aws_cloudwatch_loggroup", `aws_cloudwatch_loggroup.deployer: resource aws_cloudwatch_loggroup does not exist`},
		{"data source argument", "aws", "lambda.tf",
			replace(`  type        = "zip"`, `  kind        = "zip"`),
			`kind        = "zip"`, `data.archive_file.rds_ca: unknown argument "kind"`},
		{"unknown argument three blocks deep", "gcp", "service.tf",
			replace("        cpu_idle = true\n", "        cpu_idle = true\n        gpu_idle = true\n"),
			"gpu_idle", `google_cloud_run_v2_service.deployer.template.containers.resources: unknown argument "gpu_idle"`},
		{"unknown argument in a dynamic block's content", "gcp", "service.tf",
			replace("          value = env.value\n", "          value = env.value\n          secret = true\n"),
			"secret = true", `google_cloud_run_v2_service.deployer.template.containers.env: unknown argument "secret"`},
		{"misspelled dynamic block", "gcp", "service.tf",
			replace(`dynamic "vpc_access" {`, `dynamic "vpc_acess" {`),
			"vpc_acess", `google_cloud_run_v2_service.deployer.template: unknown block "vpc_acess"`},
		{"missing required argument of a nested block", "gcp", "service.tf",
			replace("      image = var.image\n", ""),
			"    containers {", `google_cloud_run_v2_service.deployer.template.containers: missing required argument "image"`},
		{"nonexistent module output", "aws/examples/cross-account", "outputs.tf",
			replace("module.pgmi.role_arn", "module.pgmi.deployer_role_arn"),
			"module.pgmi.deployer_role_arn", `module.pgmi has no output "deployer_role_arn"`},
		{"misspelled block", "gcp", "bucket.tf",
			replace("  versioning {", "  versionning {"),
			"versionning", `google_storage_bucket.bundles: unknown block "versionning"`},
		{"missing required argument", "azure", "function.tf",
			replace("  service_plan_id     = azurerm_service_plan.pgmi.id\n", ""),
			`resource "azurerm_function_app_flex_consumption" "deployer"`, `azurerm_function_app_flex_consumption.deployer: missing required argument "service_plan_id"`},
		{"nonexistent attribute", "azure", "function.tf",
			replace("azurerm_storage_account.host.primary_blob_endpoint", "azurerm_storage_account.host.blob_endpoint"),
			"host.blob_endpoint", `azurerm_storage_account.host has no attribute "blob_endpoint"`},
		{"unknown argument", "aws/examples/cross-account", "main.tf",
			replace(`resource "aws_s3_bucket_versioning" "bundles" {`, `resource "aws_s3_bucket_versioning" "bundles" {`+"\n  versioning = true"),
			"versioning = true", `aws_s3_bucket_versioning.bundles: unknown argument "versioning"`},
	}
	for _, mu := range mutations {
		t.Run(mu.dir+"/"+mu.name, func(t *testing.T) {
			from := filepath.Join(repoRoot(t), "infra", mu.dir)
			src, err := readModule(from)
			if err != nil {
				t.Fatal(err)
			}
			orig, ok := src[mu.file]
			if !ok {
				t.Fatalf("infra/%s/%s does not exist", mu.dir, mu.file)
			}
			edited := mu.edit(string(orig))
			if edited == string(orig) {
				t.Fatalf("the mutation did not change %s: the test is stale", mu.file)
			}
			// A copy of infra/ (so that module sources like ../.. still
			// resolve), edited and read back from disk like the real one.
			dir := filepath.Join(copyInfra(t), mu.dir)
			if err := os.WriteFile(filepath.Join(dir, mu.file), []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			copied, err := readModule(dir)
			if err != nil {
				t.Fatal(err)
			}
			m := parseModule(dir, copied)
			if m.diags.HasErrors() {
				t.Fatal(m.diags.Error())
			}
			i := strings.Index(edited, mu.at)
			if i < 0 {
				t.Fatalf("%q is not in the edited %s", mu.at, mu.file)
			}
			want := fmt.Sprintf("%s:%d: %s", mu.file, strings.Count(edited[:i], "\n")+1, mu.want)
			lower, upper, problems := pinSchemas(m, all)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			for _, set := range []map[string]*tfschema.Provider{lower, upper} {
				got := schemaCheck(m, set)
				found := false
				for _, p := range got {
					found = found || strings.HasPrefix(p, want)
				}
				if !found {
					t.Errorf("with %s the check did not report\n\t%s\nit reported:\n\t%s", schemaVersions(set), want, strings.Join(got, "\n\t"))
				}
			}
		})
	}
}

// schemaVersions names the provider releases of a set, for messages.
func schemaVersions(set map[string]*tfschema.Provider) string {
	var out []string
	for _, local := range sortedKeys(set) {
		out = append(out, set[local].Source+" "+set[local].Version)
	}
	return strings.Join(out, ", ")
}

// A pin moved without scripts/deps.sh following is reported: the check
// must run at the new lower end.
func TestSchemaPinNeedsBothEnds(t *testing.T) {
	all := loadSchemas(t)
	m := loadModule(t, "aws")
	src := map[string][]byte{}
	for k, v := range m.src {
		src[k] = v
	}
	edited := strings.Replace(string(src["versions.tf"]), `version = "~> 6.0"`, `version = "~> 6.10"`, 1)
	if edited == string(src["versions.tf"]) {
		t.Fatal("infra/aws/versions.tf no longer pins aws to ~> 6.0: the test is stale")
	}
	src["versions.tf"] = []byte(edited)
	_, _, problems := pinSchemas(parseModule(m.dir, src), all)
	want := `required_providers.aws = "~> 6.10": no schema of hashicorp/aws 6.10.0`
	for _, p := range problems {
		if strings.HasPrefix(p, want) {
			return
		}
	}
	t.Errorf("pinSchemas did not report %q; it reported %q", want, problems)
}

// copyInfra copies the .tf files of infra/ into a temporary directory and
// returns the copy's infra directory.
func copyInfra(t *testing.T) string {
	t.Helper()
	from := filepath.Join(repoRoot(t), "infra")
	to := filepath.Join(t.TempDir(), "infra")
	for _, rel := range infraFiles(t, ".tf") {
		data, err := os.ReadFile(filepath.Join(from, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(to, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return to
}
