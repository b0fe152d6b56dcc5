package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// At a terminal, --overwrite without --force asks for the database name;
// with --force it counts down, and an interrupt during the countdown drops
// nothing.
func TestOverwriteApprovalAtATerminal(t *testing.T) {
	testpg.Require(t, clusterErr)
	db := freshName(t)
	dropAfter(t, db)
	cluster.CreateDatabase(t, db)
	cluster.Exec(t, db, "CREATE TABLE keep_me (id int)")
	dir := project(t, "deploy.sql", "CREATE TABLE fresh (id int);")
	args := []string{"deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db, "--overwrite"}
	kept := func() bool {
		var ok bool
		_ = cluster.Connect(t, db).QueryRow(context.Background(), "SELECT to_regclass('keep_me') IS NOT NULL").Scan(&ok)
		return ok
	}

	code, _, stderr := cli{interactive: true, stdin: "not-the-name\n"}.run(t, args...)
	if code != 12 || !strings.Contains(stderr, "Type the database name to confirm") || !kept() {
		t.Fatalf("wrong name typed: exit %d, kept %v\n%s", code, kept(), stderr)
	}
	code, _, stderr = cli{interactive: true, stdin: ""}.run(t, args...)
	if code != 12 || !kept() {
		t.Fatalf("no input: exit %d\n%s", code, stderr)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	var out, errb bytes.Buffer
	code = run(ctx, append(args, "--force"), streams{in: strings.NewReader(""), out: &out, err: &errb, interactive: true,
		env: func(string) (string, bool) { return "", false }, setenv: func(string, string) error { return nil }})
	if code != 130 || !strings.Contains(errb.String(), "DROP DATABASE") || !kept() {
		t.Fatalf("interrupted countdown: exit %d, kept %v\n%s", code, kept(), errb.String())
	}

	code, _, stderr = cli{interactive: true, stdin: db + "\n"}.run(t, args...)
	if code != 0 || kept() {
		t.Fatalf("name confirmed: exit %d, kept %v\n%s", code, kept(), stderr)
	}
}
