package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// A connection string with a password, for the cluster of the tests.
func connWithPassword(t *testing.T) (conn, password string) {
	t.Helper()
	cfg, err := pgx.ParseConfig(cluster.ConnString("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	password = cfg.Password
	if password == "" {
		password = "S3cretPassw0rd" // the test cluster trusts TCP: any password does
	}
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(cfg.User, password),
		Host: "127.0.0.1:" + strconv.Itoa(int(cfg.Port)), Path: "/postgres", RawQuery: "sslmode=disable"}
	return u.String(), password
}

// -v is global: before the command (pgmi's pgmi -v deploy) and after it.
// Verbose prints the resolved connection, never the password.
func TestVerboseInBothPositionsShowsConnectionWithoutSecrets(t *testing.T) {
	testpg.Require(t, clusterErr)
	conn, password := connWithPassword(t)
	dir := project(t, "deploy.sql", "SELECT 1;")
	for _, args := range [][]string{{"-v", "deploy", dir}, {"deploy", dir, "-v"}, {"deploy", "--verbose", dir}} {
		db := freshName(t)
		dropAfter(t, db)
		args = append(args, "--connection", conn, "-d", db)
		code, stdout, stderr := cli{}.run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		for _, want := range []string{"[VERBOSE] Connection:", "Host:", "127.0.0.1", "Port:", "User:", "Database:", db,
			"Maintenance database:", "postgres", "SSL mode:", "disable", "Auth method:", "password"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, stderr)
			}
		}
		if strings.Contains(stdout+stderr, password) {
			t.Errorf("%v: the password was printed:\n%s%s", args, stdout, stderr)
		}
	}
	// Without -v there is no connection block.
	db := freshName(t)
	dropAfter(t, db)
	code, _, stderr := cli{}.run(t, "deploy", dir, "--connection", conn, "-d", db)
	if code != 0 || strings.Contains(stderr, "Connection:") {
		t.Errorf("without -v: exit %d\n%s", code, stderr)
	}
}

func TestVersionStaysAvailable(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		code, stdout, stderr := cli{}.run(t, args...)
		if code != 0 || stdout != "pgmi "+version+" (compat 1)\n" {
			t.Errorf("%v: exit %d\n%s%s", args, code, stdout, stderr)
		}
	}
}

func TestUsageErrorsExit2Everywhere(t *testing.T) {
	dir := project(t, "deploy.sql", "SELECT 1;")
	cases := [][]string{
		{"nosuchcommand"},
		{"deploy"},
		{"deploy", dir, "--no-such-flag"},
		{"bundle"},
		{"bundle", "--no-such-flag", dir},
		{"publish", dir},
		{"status"},
		{"history", "extra"},
		{"local", "extra"},
		{"version", "extra"},
		{"completion", "nosuchshell"},
		{"completion", "bash", "extra"},
		{"--no-such-flag"},
	}
	for _, args := range cases {
		code, stdout, stderr := cli{}.run(t, args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "Run 'pgmi --help'") {
			t.Errorf("%v: exit %d, want 2\nstdout %q\nstderr %s", args, code, stdout, stderr)
		}
	}
	_, _, stderr := cli{}.run(t, "deplyo")
	if !strings.Contains(stderr, `unknown command "deplyo"`) || !strings.Contains(stderr, "deploy") {
		t.Errorf("no suggestion for a typo:\n%s", stderr)
	}
}

// --trusted-signers, --bundle-version and --allow-unsigned belong to bundles:
// with a directory they are a usage error, not silently ignored.
func TestBundleFlagsWithADirectoryAreUsageErrors(t *testing.T) {
	dir := project(t, "deploy.sql", "SELECT 1;")
	for _, flags := range [][]string{{"--bundle-version", "3"}, {"--trusted-signers", "allowed"}, {"--allow-unsigned"}} {
		args := append([]string{"deploy", dir, "--json"}, flags...)
		code, stdout, stderr := cli{}.run(t, args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, flags[0]) || !strings.Contains(stderr, "bundles only") {
			t.Errorf("%v: exit %d\n%s%s", flags, code, stdout, stderr)
		}
	}
}

func TestNoDeploySQLNamesThePathAndSuggestsInit(t *testing.T) {
	dir := project(t, "schema.sql", "SELECT 1;")
	code, _, stderr := cli{}.run(t, "deploy", dir, "--connection", "postgresql://u@127.0.0.1:1/app")
	if code != 14 {
		t.Fatalf("exit %d, want 14\n%s", code, stderr)
	}
	for _, want := range []string{filepath.Join(dir, "deploy.sql"), "pgmi init"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestDeployHelpListsExitCodesAndExamples(t *testing.T) {
	code, stdout, stderr := cli{}.run(t, "deploy", "--help")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, c := range []int{0, 1, 2, 10, 11, 12, 13, 14, 15, 16, 17, 130} {
		if !strings.Contains(stdout, fmt.Sprintf("\n  %-4d ", c)) {
			t.Errorf("help lacks exit code %d", c)
		}
	}
	for _, want := range []string{"Exit codes:", "Examples:", "pgmi deploy ./myapp", ".tgz", "s3://", "--bundle-version",
		"--trusted-signers", "--overwrite --force", "--param", "-v, --verbose"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, stdout, stderr := cli{}.run(t, "completion", shell)
		if code != 0 || !strings.Contains(stdout, "pgmi") {
			t.Errorf("%s: exit %d\n%s", shell, code, stderr)
		}
	}
	// Commands and flags complete through cobra's hidden __complete.
	_, stdout, _ := cli{}.run(t, "__complete", "dep")
	if !strings.Contains(stdout, "deploy") {
		t.Errorf("command completion:\n%s", stdout)
	}
	_, stdout, _ = cli{}.run(t, "__complete", "deploy", "--bundle-v")
	if !strings.Contains(stdout, "--bundle-version") {
		t.Errorf("flag completion:\n%s", stdout)
	}
}
