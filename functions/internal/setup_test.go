package internal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "gocloud.dev/blob/fileblob"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql" // its offline validation names PGMI_GOOGLE_INSTANCE
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func envMap(m map[string]string) connect.Env {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// lines decodes a log buffer.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, text := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			t.Fatalf("not a JSON line: %q", text)
		}
		out = append(out, l)
	}
	return out
}

// A warning of the pipeline ("warning: …" progress, here the ignored
// connection block of a bundle's pgmi.yaml) is logged at the warning level
// at the default log level; other progress stays at debug, off by default.
func TestPipelineWarningsAreWarnLines(t *testing.T) {
	dir := t.TempDir()
	files := testbundle.Project("SELECT 1;")
	files["pgmi.yaml"] = "connection:\n  host: elsewhere.example.com\n"
	if err := os.WriteFile(filepath.Join(dir, "app.tgz"), testbundle.Pack(t, nil, "app", files), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format Format
		warn   string
	}{{LambdaFormat, "WARN"}, {CloudLoggingFormat, "WARNING"}, {AzureFormat, "WARN"}} {
		var buf bytes.Buffer
		log := NewLogger(&buf, "test", tc.format, false)
		f, err := setup("test", connect.AuthPassword, envMap(map[string]string{
			"PGMI_ALLOW_UNSIGNED": "true", "PGHOST": "127.0.0.1", "PGPORT": closedPort(t), "PGUSER": "u",
			"PGDATABASE": "d", "PGSSLMODE": "disable", "HOME": t.TempDir(),
		}), log, Limit{})
		if err != nil {
			t.Fatal(err)
		}
		o := f.Run(context.Background(), deploy.Request{Action: deploy.ActionDeploy, Bundle: "file://" + filepath.ToSlash(dir) + "/app.tgz"})
		f.Close()
		if o.Status != deploy.StatusFailed || !o.Retryable {
			t.Fatalf("outcome %s (retryable %v): %v; want the unreachable database's retryable failure", o.Status, o.Retryable, o.Err)
		}
		var warned []map[string]any
		for _, l := range lines(t, &buf) {
			if l[tc.format.Field] == "DEBUG" {
				t.Errorf("a DEBUG line with debug off: %v", l)
			}
			if msg, _ := l["message"].(string); strings.Contains(msg, "ignoring the connection block") {
				warned = append(warned, l)
			}
		}
		if len(warned) != 1 || warned[0][tc.format.Field] != tc.warn {
			t.Fatalf("%s: lines about the connection block %v, want one at %s; log:\n%s", tc.format.Field, warned, tc.warn, buf.String())
		}
	}
}

// A margin at or above the platform's time limit fails the cold start with
// one ERROR line naming both settings; one below it, or an unknown limit,
// passes.
func TestSetupRefusesAMarginWithoutTime(t *testing.T) {
	env := map[string]string{"PGMI_ALLOW_UNSIGNED": "true", "PGUSER": "u", "PGDATABASE": "d", "PGMI_TIMEOUT_MARGIN": "10s", "HOME": t.TempDir()}
	for _, tc := range []struct {
		limit Limit
		ok    bool
	}{
		{Limit{Timeout: 10 * time.Second, Setting: "CLOUD_RUN_TIMEOUT_SECONDS"}, false},
		{Limit{Timeout: 3 * time.Second, Setting: "host.json functionTimeout"}, false},
		{Limit{Timeout: 11 * time.Second, Setting: "CLOUD_RUN_TIMEOUT_SECONDS"}, true},
		{Limit{}, true},
	} {
		var buf bytes.Buffer
		f, err := setup("test", connect.AuthPassword, envMap(env), NewLogger(&buf, "test", CloudLoggingFormat, false), tc.limit)
		if tc.ok {
			if err != nil {
				t.Errorf("%+v: %v", tc.limit, err)
				continue
			}
			f.Close()
			continue
		}
		l := lines(t, &buf)
		if err == nil || len(l) != 1 || l[0][SeverityField] != "ERROR" {
			t.Fatalf("%+v: err %v, log:\n%s; want one ERROR line", tc.limit, err, buf.String())
		}
		for _, name := range []string{"PGMI_TIMEOUT_MARGIN", "10s", tc.limit.Setting, tc.limit.Timeout.String()} {
			if msg, _ := l[0]["message"].(string); !strings.Contains(msg, name) {
				t.Errorf("%+v: the line does not name %q: %s", tc.limit, name, msg)
			}
		}
	}
}

// A missing connection setting is named by its variable at a function's
// cold start, never by the CLI's flag.
func TestSetupNamesVariablesNotFlags(t *testing.T) {
	var buf bytes.Buffer
	_, err := setup("gcp", cloudsql.AuthMethod, envMap(map[string]string{
		"PGMI_ALLOW_UNSIGNED": "true", "PGUSER": "u", "PGDATABASE": "d",
	}), NewLogger(&buf, "gcp", CloudLoggingFormat, false), Limit{})
	if err == nil || !strings.Contains(err.Error(), "PGMI_GOOGLE_INSTANCE") || strings.Contains(buf.String(), "--google-instance") {
		t.Fatalf("err %v, log %s; want PGMI_GOOGLE_INSTANCE named and no flag", err, buf.String())
	}
}

// A rejected event's line carries the id of the event when the error has
// it.
func TestRejectNamesTheEvent(t *testing.T) {
	var buf bytes.Buffer
	f := &Function{Platform: "test", Log: NewLogger(&buf, "test", LambdaFormat, false)}
	f.Reject("inv-1", fmt.Errorf("wrapped: %w", WithEventID("ev-9", errors.New("no generation"))))
	f.Reject("inv-2", errors.New("not JSON"))
	l := lines(t, &buf)
	if len(l) != 2 || l[0]["eventId"] != "ev-9" || l[0]["invocationId"] != "inv-1" || l[1]["eventId"] != nil {
		t.Fatalf("lines %v", l)
	}
	if WithEventID("", nil) != nil || WithEventID("x", nil) != nil || EventIDOf(errors.New("x")) != "" {
		t.Error("WithEventID/EventIDOf on nothing")
	}
}

// A connection string whose unquoted password holds a space does not parse,
// and the cold start's ERROR line says where, without the password's tail.
func TestSetupLineHidesAPasswordTail(t *testing.T) {
	for _, s := range []string{
		"host=db user=u dbname=d password=Half S3cr3t!x=1",
		"host=db user=u dbname=d password=Half sslmode=S3cr3t",
		"Host=db;Username=u;Database=d;Password=Half;S3cr3t=x",
	} {
		var buf bytes.Buffer
		_, err := setup("aws", connect.AuthPassword, envMap(map[string]string{
			"PGMI_ALLOW_UNSIGNED": "true", "PGMI_CONNECTION_STRING": s,
		}), NewLogger(&buf, "aws", LambdaFormat, false), Limit{})
		if err == nil || !strings.Contains(buf.String(), "PGMI_CONNECTION_STRING") || !strings.Contains(buf.String(), "password") {
			t.Fatalf("%s: err %v, log %s; want an ERROR line naming PGMI_CONNECTION_STRING and the password", s, err, buf.String())
		}
		if strings.Contains(buf.String(), "S3cr3t") || strings.Contains(err.Error(), "S3cr3t") {
			t.Errorf("the password's tail is in the cold start's line: %s", buf.String())
		}
	}
}

// setup is Setup with only an auth method and a limit, as the tests need.
func setup(platform string, auth connect.AuthMethod, env connect.Env, log *slog.Logger, limit Limit) (*Function, error) {
	return Setup(context.Background(), platform, env, log, &Options{LoadOptions: deploy.LoadOptions{DefaultAuth: auth}, Limit: limit})
}

// Connection resolution logs through the function's log (LoadOptions.Log):
// a password file others may read is ignored with one WARN line in the
// platform's format, which does not quote the file.
func TestSetupLogsConnectionWarnings(t *testing.T) {
	passfile := filepath.Join(t.TempDir(), "pgpass")
	if err := os.WriteFile(passfile, []byte("*:*:*:*:hunter2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(passfile, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format Format
		warn   string
	}{{LambdaFormat, "WARN"}, {CloudLoggingFormat, "WARNING"}} {
		var buf bytes.Buffer
		f, err := setup("test", connect.AuthPassword, envMap(map[string]string{
			"PGMI_ALLOW_UNSIGNED": "true", "PGHOST": "127.0.0.1", "PGUSER": "u", "PGDATABASE": "d", "PGPASSFILE": passfile,
		}), NewLogger(&buf, "test", tc.format, false), Limit{})
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		var warned []map[string]any
		for _, l := range lines(t, &buf) {
			if msg, _ := l["message"].(string); strings.Contains(msg, "group or world access") {
				warned = append(warned, l)
			}
		}
		if len(warned) != 1 || warned[0][tc.format.Field] != tc.warn || strings.Contains(buf.String(), "hunter2") {
			t.Fatalf("%s: warnings %v; log:\n%s", tc.format.Field, warned, buf.String())
		}
	}
}
