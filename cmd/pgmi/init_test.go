package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// initProject runs pgmi init into a new directory and returns it.
func initProject(t *testing.T, tmpl string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proj")
	code, stdout, stderr := cli{}.run(t, "init", dir, "-t", tmpl)
	if code != 0 {
		t.Fatalf("init -t %s: exit %d\n%s%s", tmpl, code, stdout, stderr)
	}
	return dir
}

func queryBool(t *testing.T, db, sql string) bool {
	t.Helper()
	conn := cluster.Connect(t, db)
	var ok bool
	if err := conn.QueryRow(context.Background(), sql).Scan(&ok); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return ok
}

// What each template creates, and what its tests leave behind (nothing).
var templateChecks = map[string][]string{
	"basic": {
		`SELECT to_regclass('app.customer') IS NOT NULL AND to_regclass('app.customer_note') IS NOT NULL`,
		`SELECT count(*) = 2 FROM public.schema_migration`,
		`SELECT NOT EXISTS (SELECT 1 FROM app.customer)`, // the fixture was rolled back
	},
	"advanced": {
		`SELECT to_regclass('app.product') IS NOT NULL AND to_regprocedure('app.upsert_product(text,text,integer)') IS NOT NULL`,
		`SELECT to_regprocedure('app.order_total_cents(bigint)') IS NOT NULL`,
		`SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'app.product'::regclass AND attname = 'discontinued_at')`,
		`SELECT count(*) = 3 FROM app.product`,                         // the demo catalogue, not the test kettle
		`SELECT NOT EXISTS (SELECT 1 FROM app.customer_order)`,         // the test order was rolled back
		`SELECT to_regclass('app.order_line_product_idx') IS NOT NULL`, // built by the tail
		`SELECT count(*) = 5 FROM deploy_log.script_run`,
	},
}

func checkTemplateDeployed(t *testing.T, tmpl, db string) {
	t.Helper()
	for _, q := range templateChecks[tmpl] {
		if !queryBool(t, db, q) {
			t.Errorf("%s: false after deploying the %s template", q, tmpl)
		}
	}
}

func TestInitTemplatesDeployAndRedeploy(t *testing.T) {
	testpg.Require(t, clusterErr)
	for _, tmpl := range templateNames() {
		t.Run(tmpl, func(t *testing.T) {
			dir := initProject(t, tmpl)
			db := freshName(t)
			dropAfter(t, db)
			deploy := []string{"deploy", dir, "-d", db, "--connection", cluster.ConnString("postgres")}
			code, _, stderr := cli{}.run(t, deploy...)
			if code != 0 {
				t.Fatalf("first deploy: exit %d\n%s", code, stderr)
			}
			t.Logf("first deploy:\n%s", stderr)
			for _, want := range []string{"[pgmi] Test suite started", "[pgmi] Test: ./__test__/", "[pgmi] Test suite completed"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("first deploy: stderr lacks %q (did the tests run?)\n%s", want, stderr)
				}
			}
			checkTemplateDeployed(t, tmpl, db)

			code, _, stderr = cli{}.run(t, deploy...)
			if code != 0 {
				t.Fatalf("redeploy: exit %d\n%s", code, stderr)
			}
			if !strings.Contains(stderr, "[pgmi] Test suite completed") {
				t.Errorf("redeploy: the tests did not run\n%s", stderr)
			}
			switch tmpl {
			case "basic":
				if strings.Contains(stderr, "Applying ") || !strings.Contains(stderr, "No new migrations") {
					t.Errorf("redeploy applied a migration again:\n%s", stderr)
				}
			case "advanced":
				if strings.Contains(stderr, " once (") {
					t.Errorf("redeploy ran a one-time change again:\n%s", stderr)
				}
				if !strings.Contains(stderr, "Running ./functions/product.sql (300/functions/product)") {
					t.Errorf("redeploy did not rerun the idempotent functions:\n%s", stderr)
				}
			}
			checkTemplateDeployed(t, tmpl, db)
		})
	}
}

// Each template also deploys as a signed bundle dropped into pgmi local's
// bucket folder.
func TestInitTemplatesDeployAsBundle(t *testing.T) {
	testpg.Require(t, clusterErr)
	for _, tmpl := range templateNames() {
		t.Run(tmpl, func(t *testing.T) {
			dir := initProject(t, tmpl)
			key, allowed := signingKey(t, t.TempDir(), "release")
			bucket := t.TempDir()
			out := filepath.Join(bucket, "app", "1.tgz")
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				t.Fatal(err)
			}
			if code, _, stderr := (cli{}).run(t, "bundle", dir, "-o", out, "--sign-key", key); code != 0 {
				t.Fatalf("bundle: exit %d\n%s", code, stderr)
			}
			db := freshName(t)
			dropAfter(t, db)
			code, stdout, stderr := cli{}.run(t, "local", "--bucket", bucket, "--trusted-signers", allowed,
				"--connection", cluster.ConnString("postgres"), "-d", db, "--once", "--interval", "50ms")
			if code != 0 || !strings.Contains(stdout+stderr, "deployed: app/1.tgz") {
				t.Fatalf("pgmi local: exit %d\n%s%s", code, stdout, stderr)
			}
			checkTemplateDeployed(t, tmpl, db)
		})
	}
}

// The test-gated commit: one failing test and nothing of the deployment stays.
func TestInitAdvancedTemplateFailingTestRollsBackEverything(t *testing.T) {
	testpg.Require(t, clusterErr)
	dir := initProject(t, "advanced")
	failing := "DO $t$ BEGIN RAISE EXCEPTION 'deliberately failing'; END $t$;\n"
	if err := os.WriteFile(filepath.Join(dir, "__test__", "test_zz_fails.sql"), []byte(failing), 0o644); err != nil {
		t.Fatal(err)
	}
	db := freshName(t)
	dropAfter(t, db)
	code, _, stderr := cli{}.run(t, "deploy", dir, "-d", db, "--connection", cluster.ConnString("postgres"))
	if code != 13 || !strings.Contains(stderr, "Failed in ./__test__/test_zz_fails.sql") || !strings.Contains(stderr, "deliberately failing") {
		t.Fatalf("exit %d, want 13 naming the failing test\n%s", code, stderr)
	}
	if queryBool(t, db, `SELECT to_regnamespace('app') IS NOT NULL OR to_regnamespace('deploy_log') IS NOT NULL`) {
		t.Error("a failing test left schemas behind")
	}
}

func TestInitRefusesNonEmptyDirectory(t *testing.T) {
	dir := project(t, "notes.txt", "mine", "sub/x.sql", "SELECT 1;", "pgmi.yaml", "")
	code, stdout, stderr := cli{}.run(t, "init", dir, "-t", "basic")
	if code != 10 || !strings.Contains(stderr, "notes.txt") || !strings.Contains(stderr, "sub/") || !strings.Contains(stderr, "not empty") {
		t.Fatalf("exit %d, want 10 naming the entries in the way\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "pgmi.yaml,") || strings.Contains(stderr, "(pgmi.yaml") {
		t.Errorf("pgmi.yaml is tolerated, yet named as in the way:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "deploy.sql")); err == nil {
		t.Error("init wrote into a non-empty directory")
	}

	file := filepath.Join(dir, "notes.txt")
	if code, _, stderr := (cli{}).run(t, "init", file); code != 10 || !strings.Contains(stderr, "not a directory") {
		t.Errorf("init into a file: exit %d\n%s", code, stderr)
	}
}

func TestInitKeepsExistingPgmiYamlAndEnv(t *testing.T) {
	yaml := "params:\n  environment: mine\n"
	env := "PGMI_CONNECTION_STRING=postgres://kept@localhost/\n"
	dir := project(t, "pgmi.yaml", yaml, ".env", env)
	code, stdout, stderr := cli{}.run(t, "init", dir, "-t", "advanced")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for name, want := range map[string]string{"pgmi.yaml": yaml, ".env": env} {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != want {
			t.Errorf("%s was changed: %q", name, got)
		}
	}
	if !strings.Contains(stdout, "Kept the existing pgmi.yaml") {
		t.Errorf("stdout does not say pgmi.yaml was kept:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "schemas", "app.sql")); err != nil {
		t.Errorf("template not written: %v", err)
	}
}

func TestInitCreatesMissingDirectoryAndPrintsNextSteps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	code, stdout, stderr := cli{}.run(t, "init", dir, "--template", "basic")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"Created a basic pgmi project in " + dir, "deploy.sql", "migrations/0001_create_customer.sql",
		"__test__/test_customer.sql", "pgmi deploy " + dir + " -d <database>"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
}

func TestInitUnknownTemplateIsUsageError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	code, _, stderr := cli{}.run(t, "init", dir, "-t", "fancy")
	if code != 2 || !strings.Contains(stderr, `unknown template "fancy"`) || !strings.Contains(stderr, "basic, advanced") {
		t.Fatalf("exit %d, want 2 listing the templates\n%s", code, stderr)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("the directory was created for an unknown template")
	}
	code, _, stderr = cli{}.run(t, "templates", "describe", "fancy")
	if code != 2 || !strings.Contains(stderr, "basic, advanced") {
		t.Errorf("describe fancy: exit %d, want 2\n%s", code, stderr)
	}
	if code, _, _ = (cli{}).run(t, "templates", "describe"); code != 2 {
		t.Errorf("describe without a name: exit %d, want 2", code)
	}
}

func TestInitTemplateCompletion(t *testing.T) {
	for _, args := range [][]string{{"__complete", "init", "-t", ""}, {"__complete", "templates", "describe", ""}} {
		code, stdout, stderr := cli{}.run(t, args...)
		if code != 0 || !strings.Contains(stdout, "basic\t") || !strings.Contains(stdout, "advanced\t") {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
	_, stdout, _ := cli{}.run(t, "__complete", "init", "-t", "adv")
	if strings.Contains(stdout, "basic") || !strings.Contains(stdout, "advanced") {
		t.Errorf("completing adv:\n%s", stdout)
	}
}

func TestTemplatesListAndDescribe(t *testing.T) {
	code, stdout, _ := cli{}.run(t, "templates", "list")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "basic ") || !strings.HasPrefix(lines[1], "advanced ") {
		t.Fatalf("templates list: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = cli{}.run(t, "templates", "describe", "advanced")
	if code != 0 {
		t.Fatalf("describe advanced: exit %d", code)
	}
	for _, want := range []string{"advanced:", "pgmi_plan_view", "deploy.sql", "schemas/app.sql", "functions/product.sql",
		"changes/0001_product_discontinued.sql", "data/demo_products.sql", "__test__/orders/test_order_total.sql", "pgmi.yaml"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("describe advanced lacks %q:\n%s", want, stdout)
		}
	}
}

func TestInitTemplatePromptAndDefault(t *testing.T) {
	// At a terminal without -t: ask, and take the answer (a name or a number).
	for _, answer := range []string{"advanced\n", "2\n"} {
		dir := filepath.Join(t.TempDir(), "p")
		code, stdout, stderr := cli{interactive: true, stdin: answer}.run(t, "init", dir)
		if code != 0 || !strings.Contains(stderr, "Which template") || !strings.Contains(stderr, "advanced") {
			t.Fatalf("answer %q: exit %d\n%s%s", answer, code, stdout, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "schemas", "app.sql")); err != nil {
			t.Errorf("answer %q: not the advanced template: %v", answer, err)
		}
	}
	// An empty answer takes the default; a wrong one is asked again.
	dir := filepath.Join(t.TempDir(), "p")
	code, _, stderr := cli{interactive: true, stdin: "fancy\n\n"}.run(t, "init", dir)
	if code != 0 || !strings.Contains(stderr, `"fancy" is not a template`) {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "migrations")); err != nil {
		t.Errorf("empty answer: not the basic template: %v", err)
	}
	// Input that ends without an answer writes nothing.
	dir = filepath.Join(t.TempDir(), "p")
	if code, _, stderr := (cli{interactive: true, stdin: ""}).run(t, "init", dir); code != 12 || !strings.Contains(stderr, "--template") {
		t.Errorf("no answer: exit %d, want 12\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "deploy.sql")); err == nil {
		t.Error("no answer, yet a project was written")
	}

	// Not at a terminal: no question, the basic template, and a note saying so.
	dir = filepath.Join(t.TempDir(), "p")
	code, _, stderr = cli{stdin: "advanced\n"}.run(t, "init", dir)
	if code != 0 || strings.Contains(stderr, "Which template") || !strings.Contains(stderr, `using "basic"`) {
		t.Fatalf("non-interactive: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "migrations", "0001_create_customer.sql")); err != nil {
		t.Errorf("non-interactive: not the basic template: %v", err)
	}
}

// The templates' ledgers: an applied migration or one-time change that was
// edited afterwards stops the redeployment, and nothing of it is kept.
func TestInitTemplatesRefuseEditedHistory(t *testing.T) {
	testpg.Require(t, clusterErr)
	for tmpl, edit := range map[string]string{
		"basic":    "migrations/0002_create_customer_note.sql",
		"advanced": "changes/0001_product_discontinued.sql",
	} {
		t.Run(tmpl, func(t *testing.T) {
			dir := initProject(t, tmpl)
			db := freshName(t)
			dropAfter(t, db)
			deploy := []string{"deploy", dir, "-d", db, "--connection", cluster.ConnString("postgres")}
			if code, _, stderr := (cli{}).run(t, deploy...); code != 0 {
				t.Fatalf("first deploy: exit %d\n%s", code, stderr)
			}
			p := filepath.Join(dir, filepath.FromSlash(edit))
			data, _ := os.ReadFile(p)
			if err := os.WriteFile(p, append(data, "CREATE TABLE app.sneaked_in (id int);\n"...), 0o644); err != nil {
				t.Fatal(err)
			}
			if tmpl == "advanced" {
				// A new SQL file without <pgmi-meta> is reported, not run.
				if err := os.WriteFile(filepath.Join(dir, "functions", "stray.sql"), []byte("CREATE TABLE app.stray (id int);\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, _, stderr := cli{}.run(t, deploy...)
			if code != 13 || !strings.Contains(stderr, "changed after it") || !strings.Contains(stderr, "./"+edit) {
				t.Fatalf("redeploy after editing %s: exit %d, want 13\n%s", edit, code, stderr)
			}
			if tmpl == "advanced" && !strings.Contains(stderr, "./functions/stray.sql has no <pgmi-meta> block") {
				t.Errorf("no warning about the file without metadata:\n%s", stderr)
			}
			if queryBool(t, db, `SELECT to_regclass('app.sneaked_in') IS NOT NULL OR to_regclass('app.stray') IS NOT NULL`) {
				t.Error("the refused deployment left tables behind")
			}
		})
	}
}
