package engine_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// records is a slog.Handler that keeps what it is given.
type records struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.recs {
		out = append(out, rec.Level.String()+" "+rec.Message)
	}
	return out
}

// Progress lines are INFO records; the extra lines of Verbose are DEBUG
// records, and only with Verbose.
func TestProgressIsLogged(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		s := newSession(t)
		var got records
		if _, err := s.deploy(t, files("deploy.sql", "SELECT 1;\nCOMMIT;\nSELECT 2;"), engine.Options{Verbose: verbose, Log: slog.New(&got)}); err != nil {
			t.Fatal(err)
		}
		all := strings.Join(got.lines(), "\n")
		if !strings.Contains(all, "INFO Executing deploy.sql") || !strings.Contains(all, "INFO Preparing session") {
			t.Errorf("verbose %v: no INFO progress: %s", verbose, all)
		}
		if debug := strings.Contains(all, "DEBUG deploy.sql splits into"); debug != verbose {
			t.Errorf("verbose %v: DEBUG line present %v: %s", verbose, debug, all)
		}
	}
	s := newSession(t)
	if _, err := s.deploy(t, files("deploy.sql", "SELECT 1;"), engine.Options{}); err != nil {
		t.Fatalf("no logger: %v", err)
	}
}

// A notice is one record at the level of its severity, with its severity
// and SQLSTATE as attributes.
func TestLogNotice(t *testing.T) {
	var got records
	log := slog.New(&got)
	for _, n := range []*pgconn.Notice{
		{Severity: "AVISO", SeverityUnlocalized: "WARNING", Code: "01000", Message: "careful", Hint: "look"},
		{Severity: "NOTICE", Code: "00000", Message: "fyi"},
		{Severity: "DEBUG", SeverityUnlocalized: "DEBUG", Code: "00000", Message: "detail"},
		{Severity: "LOG", Code: "00000", Message: "log"},
	} {
		engine.LogNotice(log, n)
	}
	engine.LogNotice(nil, &pgconn.Notice{Message: "discarded"})
	want := []string{"WARN careful\nHINT: look", "INFO fyi", "DEBUG detail", "DEBUG log"}
	if strings.Join(got.lines(), "|") != strings.Join(want, "|") {
		t.Fatalf("records %q, want %q", got.lines(), want)
	}
	attrs := map[string]string{}
	got.recs[0].Attrs(func(a slog.Attr) bool {
		if a.Key == engine.NoticeKey {
			for _, g := range a.Value.Group() {
				attrs[g.Key] = g.Value.String()
			}
		}
		return true
	})
	if attrs["severity"] != "WARNING" || attrs["sqlstate"] != "01000" {
		t.Fatalf("notice attributes %v", attrs)
	}
}
