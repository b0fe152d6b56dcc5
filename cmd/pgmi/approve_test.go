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

// --overwrite does not drop a database while a deployment holds its lock
// (pgmi bug B18): exit 15 and the data stays.
func TestOverwriteRefusedDuringADeploy(t *testing.T) {
	testpg.Require(t, clusterErr)
	db := freshName(t)
	dropAfter(t, db)
	cluster.CreateDatabase(t, db)
	cluster.Exec(t, db, "CREATE TABLE keep_me (id int)")
	holder := cluster.Connect(t, db)
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_lock(hashtextextended('pgmi.deploy.' || current_database(), 0))"); err != nil {
		t.Fatal(err)
	}
	dir := project(t, "deploy.sql", "SELECT 1;")
	code, _, stderr := cli{}.run(t, "deploy", dir, "--connection", cluster.ConnString("postgres"), "-d", db, "--overwrite", "--force")
	if code != 15 || !strings.Contains(stderr, "will not drop it") {
		t.Fatalf("exit %d, want 15\n%s", code, stderr)
	}
	var kept bool
	if err := holder.QueryRow(context.Background(), "SELECT to_regclass('keep_me') IS NOT NULL").Scan(&kept); err != nil || !kept {
		t.Fatalf("the running deployment's database was dropped (err %v)", err)
	}
}
