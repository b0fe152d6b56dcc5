package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// The output's logger prints records as pgmi prints its lines: progress
// bare, warnings after "warning: ", DEBUG only with --verbose and after
// "[VERBOSE] ", notices bare at any level.
func TestOutputLogLines(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var errb bytes.Buffer
		o := newOutput(streams{err: &errb}, false, verbose, time.Now())
		o.log.Info("Executing deploy.sql")
		o.log.Warn("password file \"/x\" has group or world access; ignoring it")
		o.log.Debug("deploy.sql splits into 2 execution units")
		engine.LogNotice(o.log, &pgconn.Notice{Severity: "WARNING", Code: "01000", Message: "careful", Detail: "d"})
		o.log.Error("failed")
		want := []string{"Executing deploy.sql", `warning: password file "/x" has group or world access; ignoring it`}
		if verbose {
			want = append(want, "[VERBOSE] deploy.sql splits into 2 execution units")
		}
		want = append(want, "careful", "DETAIL: d", "error: failed")
		got := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
		for i := range got {
			if verbose { // "[0.00s] " before each line
				_, got[i], _ = strings.Cut(got[i], "] ")
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("verbose %v: lines\n%s\nwant\n%s", verbose, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// Attributes follow the message as key=value, groups' keys qualified.
func TestLineHandlerAttributes(t *testing.T) {
	var lines []string
	log := newLineLogger(slog.LevelInfo, "", func(s string) { lines = append(lines, s) })
	log.With("a", 1).WithGroup("g").With("b", "x").Info("m", "c", true, slog.Group("h", "d", 2.5))
	if want := "m a=1 g.b=x g.c=true g.h.d=2.5"; len(lines) != 1 || lines[0] != want {
		t.Fatalf("lines %q, want %q", lines, want)
	}
}

// No password reaches the CLI's lines: not in the message, not in an
// attribute, an error or a group.
func TestLineHandlerRedacts(t *testing.T) {
	const conn = "postgresql://deployer:hunter2@db.example.com/app"
	var errb bytes.Buffer
	o := newOutput(streams{err: &errb}, false, true, time.Now())
	o.log.With("target", conn).Warn("connecting to "+conn, "dsn", conn, "err", errors.New("password=hunter2 refused"),
		slog.Group("g", "conn", "host=db password=hunter2"))
	o.log.Debug("host=db password=hunter2 user=u")
	if out := errb.String(); strings.Contains(out, "hunter2") || !strings.Contains(out, "db.example.com") || !strings.Contains(out, "warning: connecting") {
		t.Fatalf("output:\n%s", out)
	}
}
