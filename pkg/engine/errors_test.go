package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// kinded is another package's error that classifies itself (fault.Kinder).
type kinded fault.Kind

func (k kinded) Error() string         { return fmt.Sprintf("kinded %d", int(k)) }
func (k kinded) FaultKind() fault.Kind { return fault.Kind(k) }

func TestKindOfPrecedence(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("plain"), 1},
		{fault.Errorf(fault.Execution, "x"), 13},
		{fmt.Errorf("wrapped: %w", fault.Errorf(fault.Concurrent, "x")), 15},
		{context.DeadlineExceeded, 16},
		{context.Canceled, 130},
		{errors.Join(fault.Errorf(fault.Connection, "c"), fault.Errorf(fault.Config, "k")), 10},
		{fault.Wrap(fault.Connection, context.DeadlineExceeded, "dial"), 11},
		{errors.Join(fault.Errorf(fault.Execution, "e"), context.DeadlineExceeded), 16},
		{errors.Join(fault.Errorf(fault.Concurrent, "l"), context.Canceled), 130},
		{fmt.Errorf("other package: %w", kinded(fault.Connection)), 11},
		{kinded(fault.Approval), 12},
	}
	for _, tc := range cases {
		if got := exitcode.Of(tc.err); got != tc.want {
			t.Errorf("exitcode.Of(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestEnvelope(t *testing.T) {
	res := &Result{Database: "db", Duration: 1500 * time.Millisecond, FilesLoaded: 3, Started: true,
		ExecutionUnits: 4, UnitsCommitted: 2, ExecutionMode: "psql",
		Position: &Position{Line: 7, Column: 3, SourceLine: "SELECT 'postgres://u:pw@h/db'"}, FailedFile: "./__test__/a.sql"}
	pgErr := &pgconn.PgError{Code: "P0001", Message: "Failed in ./__test__/a.sql: boom password=hunter2", Detail: "d", Hint: "h"}
	env := NewEnvelope(res, &fault.Error{Kind: fault.Execution, Msg: "execution failed", Err: pgErr})
	want := map[string]any{
		"status": "failed", "exitCode": 13, "database": "db", "durationMs": int64(1500), "filesLoaded": 3,
		"executionUnits": 4, "unitsCommitted": 2, "executionMode": "psql", "sqlstate": "P0001", "detail": "d",
		"hint": "h", "failedFile": "./__test__/a.sql", "line": 7, "column": 3, "script": "deploy.sql",
		"scriptExpanded": false, "testMacros": 0,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %#v, want %#v", k, env[k], v)
		}
	}
	if s := fmt.Sprint(env); strings.Contains(s, "hunter2") || strings.Contains(s, ":pw@") {
		t.Errorf("secret in envelope: %s", s)
	}
	if _, ok := env["where"]; ok {
		t.Error("empty where should be absent")
	}
	ok := NewEnvelope(&Result{Database: "db"}, nil)
	if ok["status"] != "success" || ok["exitCode"] != 0 || ok["executionUnits"] != nil {
		t.Errorf("success envelope = %v", ok)
	}
	cfg := NewEnvelope(nil, fault.Errorf(fault.Config, "bad"))
	if len(cfg) != 3 {
		t.Errorf("config-error envelope should hold only status, exitCode, error: %v", cfg)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"password=hunter2 host=x":               "password=[redacted] host=x",
		"sslpassword='a b' x":                   "sslpassword=[redacted] x",
		"Password = \"p;w\";Host=h":             "Password = [redacted];Host=h",
		"postgres://user:s3cret@host/db":        "postgres://user:[redacted]@host/db",
		"postgresql://:s3cret@host/db":          "postgresql://:[redacted]@host/db",
		"postgres://u:p@ss@w0rd@host/db":        "postgres://u:[redacted]@host/db",
		"nothing to see":                        "nothing to see",
		"PWD=abc;Server=h":                      "PWD=[redacted];Server=h",
		"connect to user=postgres database=app": "connect to user=postgres database=app",
	} {
		if got := fault.Redact(in); got != want {
			t.Errorf("fault.Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParamsFile(t *testing.T) {
	p, err := ParseParamsFile("f", []byte("\xEF\xBB\xBF# c\n\nenv=file\n  spaced  =  trimmed  \nquoted=\"has spaces\"\nsingle='x'\nliteral=a=b\nhash=v#x\nexport KEY=v\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		got = append(got, k+"="+v)
	}
	want := "env=file,export KEY=v,hash=v#x,literal=a=b,quoted=has spaces,single=x,spaced=trimmed"
	if strings.Join(got, ",") != want {
		t.Errorf("params = %s\nwant     %s", strings.Join(got, ","), want)
	}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "export KEY") {
		t.Errorf("Validate should reject the key 'export KEY': %v", err)
	}
	for _, bad := range []string{"novalue\n", "=x\n"} {
		if _, err := ParseParamsFile("f", []byte(bad)); fault.KindOf(err) != fault.Config || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestParamFlagAndValidate(t *testing.T) {
	if k, v, err := ParseParamFlag("literal=a=b"); k != "literal" || v != "a=b" || err != nil {
		t.Errorf("got %q %q %v", k, v, err)
	}
	if _, v, err := ParseParamFlag("empty="); v != "" || err != nil {
		t.Errorf("empty value: %q %v", v, err)
	}
	for _, bad := range []string{"novalue", "=x"} {
		if _, _, err := ParseParamFlag(bad); fault.KindOf(err) != fault.Config {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for key, ok := range map[string]bool{"a": true, "_x1": true, "1abc": false, "a-b": false, strings.Repeat("a", 63): true, strings.Repeat("a", 64): false} {
		var p Params
		p.Set(key, "v")
		if err := p.Validate(); (err == nil) != ok {
			t.Errorf("key %q: err %v", key, err)
		}
	}
	var p Params
	p.Set("v", "bad\x00")
	if p.Validate() == nil {
		t.Error("a NUL byte in a value must be rejected")
	}
}

// The failing test file is read off the message of pgmi's test wrapper (or
// a RAISE of the same shape), as pgmi's failedFile is.
func TestFailedFile(t *testing.T) {
	for msg, want := range map[string]string{
		"Failed in ./__test__/a.sql: boom":                   "./__test__/a.sql",
		"Failed in ./__test__/x/b.sql:c.sql: boom":           "./__test__/x/b.sql:c.sql",
		"context: Failed in nothing then Failed in ./t.sql:": "./t.sql",
		"Failed in ./notes.txt: boom":                        "",
		"division by zero":                                   "",
		"Failed in .sql":                                     "",
	} {
		if got := failedFile(msg); got != want {
			t.Errorf("failedFile(%q) = %q, want %q", msg, got, want)
		}
	}
}
