package archtest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// cloudWords are what the root of pkg/connect must not name: the methods,
// their clouds and their vocabulary live in the provider folders.
var cloudWords = []string{"aws", "azure", "google", "gcp", "rds", "entra", "cloudsql", "arn"}

// words splits an identifier or a literal into lower-case words: at
// non-letters and at camel-case humps (AuthAWS → auth, aws; IPPublic → ip,
// public).
func words(s string) []string {
	var out []string
	for _, chunk := range regexp.MustCompile(`[A-Za-z]+`).FindAllString(s, -1) {
		r := []rune(chunk)
		start := 0
		for i := 1; i < len(r); i++ {
			lowerToUpper := unicode.IsLower(r[i-1]) && unicode.IsUpper(r[i])
			acronymEnd := i+1 < len(r) && unicode.IsUpper(r[i-1]) && unicode.IsUpper(r[i]) && unicode.IsLower(r[i+1])
			if lowerToUpper || acronymEnd {
				out = append(out, strings.ToLower(string(r[start:i])))
				start = i
			}
		}
		out = append(out, strings.ToLower(string(r[start:])))
	}
	return out
}

// serverFacts are the literals of the root that name a cloud for another
// reason than authentication: probe.go recognises servers pgmi refuses
// (Aurora DSQL by its endpoint's domain) and lists the compatible ones. They
// are facts about PostgreSQL-compatible products, not an auth method's
// flags, variables or rules, so they stay; each is matched by its file and
// a fragment of its text, so a new literal is not covered.
var serverFacts = []struct{ file, fragment string }{
	{"probe.go", `".on.aws"`},
	{"probe.go", "pgmi needs PostgreSQL or a fully compatible server ("},
}

func isServerFact(file, text string) bool {
	for _, f := range serverFacts {
		if filepath.Base(file) == f.file && strings.Contains(text, f.fragment) {
			return true
		}
	}
	return false
}

// TestConnectRootNamesNoCloud: the non-test files directly in pkg/connect
// import no provider package and name no cloud or auth method in an
// identifier or a string literal (comments may point at the folders).
// Each method registers itself (connect.Register) from its own folder.
func TestConnectRootNamesNoCloud(t *testing.T) {
	dir := filepath.Join("..", "..", "pkg", "connect")
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in %s: %v", dir, err)
	}
	banned := map[string]bool{}
	for _, w := range cloudWords {
		banned[w] = true
	}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, module+"/pkg/connect/") {
				t.Errorf("%s imports the provider package %s", fset.Position(imp.Pos()), path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var text string
			switch n := n.(type) {
			case *ast.ImportSpec:
				return false // checked above; import paths name their modules
			case *ast.Ident:
				text = n.Name
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				text = n.Value
			default:
				return true
			}
			if isServerFact(file, text) {
				return true
			}
			for _, w := range words(text) {
				if banned[w] {
					t.Errorf("%s: %q names %q; the root of pkg/connect names no cloud (move it to the provider's folder)", fset.Position(n.Pos()), text, w)
				}
			}
			return true
		})
	}
}

func TestWordsSplitsIdentifiers(t *testing.T) {
	for in, want := range map[string]string{
		"AuthAWS": "auth aws", "GoogleIPPublic": "google ip public", "--aws-role-arn": "aws role arn",
		"Warn": "warn", "records": "records", "cloudsql.AuthMethod": "cloudsql auth method",
	} {
		if got := strings.Join(words(in), " "); got != want {
			t.Errorf("words(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFifthAuthMethodTouchesOnlyItsFolder builds pgmi with a fifth auth
// method added the way ARCHITECTURE §2 says one is: a new folder
// (pkg/connect/kerberos, from testdata/fifthmethod/kerberos.go) and one
// import line in the composition root (cmd/pgmi, testdata/fifthmethod/
// root.go), through go build -overlay, with no other file changed. The
// binary's help then lists the method's flags, its flag and its pgmi.yaml
// key claim it, its offline validation runs, and a deploy reaches its
// provider.
func TestFifthAuthMethodTouchesOnlyItsFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pgmi")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	testdata, err := filepath.Abs(filepath.Join("testdata", "fifthmethod"))
	if err != nil {
		t.Fatal(err)
	}
	overlay := map[string]string{
		filepath.Join(root, "pkg", "connect", "kerberos", "kerberos.go"): filepath.Join(testdata, "kerberos.go"),
		filepath.Join(root, "cmd", "pgmi", "zz_kerberos.go"):             filepath.Join(testdata, "root.go"),
	}
	for target := range overlay {
		rel, _ := filepath.Rel(root, target)
		if !strings.HasPrefix(rel, filepath.Join("pkg", "connect", "kerberos")+string(filepath.Separator)) &&
			!strings.HasPrefix(rel, filepath.Join("cmd", "pgmi")+string(filepath.Separator)) {
			t.Fatalf("the overlay touches %s: outside the method's folder and the composition root", rel)
		}
		if _, err := os.Stat(target); err == nil {
			t.Fatalf("%s exists: the overlay must only add files", target)
		}
	}
	tmp := t.TempDir()
	spec, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlayFile, spec, 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "pgmi")
	build := exec.Command("go", "build", "-tags", "grpcnotrace,disable_grpc_modules", "-overlay", overlayFile, "-o", bin, "./cmd/pgmi")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -overlay: %v\n%s", err, out)
	}

	run := func(env []string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"HOME=" + tmp, "PATH=" + os.Getenv("PATH"), "USER=nobody-in-particular"}, env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return string(out), code
	}

	help, _ := run(nil, "deploy", "--help")
	for _, want := range []string{
		"--kerberos ", "authenticate with a Kerberos ticket",
		"--kerberos-realm string", "Kerberos realm (PGMI_KERBEROS_REALM); implies --kerberos",
		"--aws ", "--azure ", "--google ", // the shipped methods are still there
	} {
		if !strings.Contains(help, want) {
			t.Errorf("deploy --help lacks %q:\n%s", want, help)
		}
	}

	project := filepath.Join(tmp, "project")
	if err := os.MkdirAll(project, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(project, "deploy.sql"), []byte("SELECT 1;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"deploy", project, "-h", "127.0.0.1", "-p", "1", "-U", "u", "-d", "app"}

	// Offline validation, its own message, exit 10 (configuration).
	out, code := run(nil, append(base, "--kerberos")...)
	if code != 10 || !strings.Contains(out, "Kerberos authentication needs the realm: pass --kerberos-realm") {
		t.Errorf("--kerberos without a realm: exit %d\n%s", code, out)
	}
	// Its setting flag implies it and reaches the provider.
	out, code = run(nil, append(base, "--kerberos-realm", "EXAMPLE.COM")...)
	if code != 10 || !strings.Contains(out, "kerberos provider reached: realm EXAMPLE.COM from --kerberos-realm") {
		t.Errorf("--kerberos-realm: exit %d\n%s", code, out)
	}
	// Its PGMI_* variable claims it too.
	out, _ = run([]string{"PGMI_KERBEROS_REALM=ENV.REALM"}, base...)
	if !strings.Contains(out, "kerberos provider reached: realm ENV.REALM from PGMI_KERBEROS_REALM") {
		t.Errorf("PGMI_KERBEROS_REALM:\n%s", out)
	}
	// A claim for another method conflicts, as for the shipped ones.
	out, code = run(nil, append(base, "--kerberos-realm", "EXAMPLE.COM", "--aws")...)
	if code != 10 || !strings.Contains(out, "conflicting authentication methods") || !strings.Contains(out, "--kerberos-realm asks for kerberos") {
		t.Errorf("conflict: exit %d\n%s", code, out)
	}
	// Its pgmi.yaml key is accepted and claims it.
	if err := os.WriteFile(filepath.Join(project, "pgmi.yaml"), []byte("connection:\n  kerberos_realm: YAML.REALM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ = run(nil, base...)
	if !strings.Contains(out, "kerberos provider reached: realm YAML.REALM from pgmi.yaml connection.kerberos_realm") {
		t.Errorf("pgmi.yaml kerberos_realm:\n%s", out)
	}
}
