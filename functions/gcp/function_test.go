package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcpfake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
)

var (
	pg    *testpg.Cluster
	pgErr error
)

// TestMain shares one cluster: TCP logins with scram, so the Cloud SQL
// fake's proxy can log in with the IAM token as the password.
func TestMain(m *testing.M) {
	var stop func()
	pg, stop, pgErr = testpg.StartMain(pgserver.WithPasswordAuth())
	code := m.Run()
	stop()
	os.Exit(code)
}

// TestFunction runs the function built as it ships (no build tag, no
// hook), as Cloud Run would, behind the fakes, and sends
// it what Eventarc sends: the scenario suite, then what is particular to
// this adapter.
func TestFunction(t *testing.T) {
	testpg.Require(t, pgErr)
	md := gcpfake.StartMetadata(t, testProject, testSA)
	createIAMUser(t, md.TokenFor(gcpfake.ScopeSQLLogin))
	s := functest.NewSetup(t, pg)
	for _, db := range []string{s.Database, s.ResetDB} {
		pg.Exec(t, "postgres", "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" OWNER TO "+pgx.Identifier{testDBUser}.Sanitize())
	}
	binary := lambdafake.BuildBinary(t, "./functions/gcp")
	c := newCloud(t, s, md, binary, dockerfileEnv(t, "FUNCTION_TARGET"))
	s.Secrets = append(s.Secrets, md.TokenFor(gcpfake.ScopeSQLLogin), md.TokenFor(gcpfake.ScopeSQLAdmin), pg.Password())

	functest.Run(t, s, c)
	t.Run("FleetRedelivery", func(t *testing.T) { fleetRedelivery(t, s, c) })
	t.Run("StructuredMode", func(t *testing.T) { structuredMode(t, s, c) })
	t.Run("OtherEventType", func(t *testing.T) { otherEventType(t, c) })
	t.Run("MalformedEvent", func(t *testing.T) { malformedEvent(t, c) })
	t.Run("DefaultTarget", func(t *testing.T) { defaultTarget(t, c) })
	t.Run("InvalidConfiguration", func(t *testing.T) { invalidConfiguration(t, c) })
	t.Run("Output", func(t *testing.T) { checkOutput(t, c) })
}

// createIAMUser makes the IAM database user a login role whose password is
// the metadata server's sqlservice.login token, which the fake proxy logs
// in with: PostgreSQL itself checks the token.
func createIAMUser(t *testing.T, token string) {
	t.Helper()
	role := pgx.Identifier{testDBUser}.Sanitize()
	pg.Exec(t, "postgres", "DROP ROLE IF EXISTS "+role)
	pg.Exec(t, "postgres", "CREATE ROLE "+role+" LOGIN CREATEDB PASSWORD '"+strings.ReplaceAll(token, "'", "''")+"'")
	t.Cleanup(func() {
		// Runs after the databases the role owns are dropped.
		conn, err := pgx.Connect(context.Background(), pg.ConnString("postgres"))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+role); err != nil {
			t.Error(err)
		}
	})
}

func signed(t *testing.T, s *functest.Setup, sql string) []byte {
	return testbundle.Pack(t, s.Key, "app", testbundle.Project(sql))
}

// structuredMode: an event in structured mode (the whole event as JSON,
// Content-Type application/cloudevents+json) is deployed like a binary one.
func structuredMode(t *testing.T, s *functest.Setup, c *cloud) {
	in := c.Start(t, functest.Options{}).(*instance)
	obj := c.Upload(t, "app/structured/one.tgz", signed(t, s, "CREATE TABLE structured_mode (id int);"))
	bin := storageEvent(c.eventID(obj), storageFinalized, obj)
	envelope := map[string]any{"data": json.RawMessage(bin.body), "datacontenttype": "application/json"}
	for k, v := range bin.headers {
		if name, ok := strings.CutPrefix(k, "ce-"); ok {
			envelope[name] = v
		}
	}
	envelope["subject"] = "objects/" + obj.Key // no header encoding in a JSON body
	body, _ := json.Marshal(envelope)
	r := in.post(t, event{headers: map[string]string{"Content-Type": "application/cloudevents+json; charset=utf-8"}, body: body})
	if r.Retry {
		t.Fatalf("structured event: %s", r.Detail)
	}
	if l := onlyOutcome(t, in); l.Outcome() != "deployed" || l["eventId"] != c.eventID(obj) || l["version"] != obj.Version {
		t.Fatalf("outcome line %v, want deployed with the event id and generation", l)
	}
	var n int
	conn := pg.Connect(t, s.Database)
	defer conn.Close(context.Background())
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_class WHERE relname = 'structured_mode'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("structured_mode table: %d, %v", n, err)
	}
}

// otherEventType: an event the function does not act on is acknowledged
// (200) and logged as ignored.
func otherEventType(t *testing.T, c *cloud) {
	in := c.Start(t, functest.Options{}).(*instance)
	obj := functest.Object{Key: "app/releases/gone.tgz", Version: "1700000000000009"}
	r := in.post(t, storageEvent(c.newID(), "google.cloud.storage.object.v1.deleted", obj))
	if r.Retry {
		t.Fatalf("an ignored event was not acknowledged: %s", r.Detail)
	}
	line := onlyOutcome(t, in)
	if line.Outcome() != "ignored" || line["severity"] != "INFO" || !strings.Contains(line["message"].(string), "object.v1.deleted") {
		t.Fatalf("outcome line %v, want an INFO ignored line naming the type", line)
	}
}

// malformedEvent: a storage event without a generation can never be
// deployed; it is acknowledged and logged as a permanent failure.
func malformedEvent(t *testing.T, c *cloud) {
	in := c.Start(t, functest.Options{}).(*instance)
	obj := functest.Object{Key: "app/releases/nogen.tgz", Version: ""}
	ev := storageEvent(c.newID(), storageFinalized, obj)
	ev.body = bytes.Replace(ev.body, []byte(`"generation":"",`), nil, 1)
	r := in.post(t, ev)
	if r.Retry {
		t.Fatalf("a malformed event was not acknowledged: %s", r.Detail)
	}
	line := onlyOutcome(t, in)
	errText, _ := line["error"].(string)
	if line.Outcome() != "failed" || line["retryable"] != false || line["severity"] != "ERROR" ||
		!strings.Contains(errText, "invalid event") || !strings.Contains(errText, "has no generation") {
		t.Fatalf("outcome line %v, want a permanent failure naming the missing generation", line)
	}
	if line["eventId"] != ev.headers["ce-id"] {
		t.Fatalf("outcome line %v, want the event's id %s as eventId", line, ev.headers["ce-id"])
	}
}

// defaultTarget: without FUNCTION_TARGET, main selects Deploy itself and
// the function is still served at /.
func defaultTarget(t *testing.T, c *cloud) {
	env := maps.Clone(c.base)
	delete(env, "FUNCTION_TARGET")
	in := &instance{cloud: c, proc: c.serve(t, env)}
	obj := functest.Object{Key: "app/releases/gone.tgz", Version: "1700000000000010"}
	if r := in.post(t, storageEvent(c.newID(), "google.cloud.storage.object.v1.deleted", obj)); r.Retry {
		t.Fatalf("without FUNCTION_TARGET: %s", r.Detail)
	}
	if line := onlyOutcome(t, in); line.Outcome() != "ignored" {
		t.Fatalf("outcome line %v", line)
	}
}

// invalidConfiguration: the process logs one ERROR line naming the
// variable and exits non-zero, without serving. The Admin API endpoint is
// left out, so this is the production cold start. The line
// speaks of what a Cloud Run service has, environment variables, never of
// the CLI's flags.
func invalidConfiguration(t *testing.T, c *cloud) {
	for _, tc := range []struct {
		name  string
		edit  func(env map[string]string)
		names []string
	}{
		{"LockWait", func(env map[string]string) { env["PGMI_LOCK_WAIT"] = "until-done" }, []string{"PGMI_LOCK_WAIT"}},
		{"BadInstance", func(env map[string]string) { env["PGMI_GOOGLE_INSTANCE"] = "just-a-name" }, []string{"PGMI_GOOGLE_INSTANCE"}},
		{"BadIPType", func(env map[string]string) { env["PGMI_GOOGLE_IP_TYPE"] = "carrier-pigeon" }, []string{"PGMI_GOOGLE_IP_TYPE"}},
		{"NoInstance", func(env map[string]string) { delete(env, "PGMI_GOOGLE_INSTANCE") }, []string{"PGMI_GOOGLE_INSTANCE"}},
		{"NoUser", func(env map[string]string) { delete(env, "PGUSER") }, []string{"PGUSER"}},
		{"MarginNotBelowTimeout", func(env map[string]string) {
			env["PGMI_TIMEOUT_MARGIN"] = "10s"
			env["CLOUD_RUN_TIMEOUT_SECONDS"] = "3"
		}, []string{"PGMI_TIMEOUT_MARGIN", "CLOUD_RUN_TIMEOUT_SECONDS"}},
		{"BadRunTimeout", func(env map[string]string) { env["CLOUD_RUN_TIMEOUT_SECONDS"] = "9m" }, []string{"CLOUD_RUN_TIMEOUT_SECONDS"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := maps.Clone(c.base)
			delete(env, cloudsql.AdminAPIEndpointVar)
			env["PORT"] = strings.Split(closedAddr(t), ":")[1]
			tc.edit(env)
			p := c.exec(t, env)
			exited, err := p.wait(readyWithin)
			if !exited {
				t.Fatal("the process still runs with an invalid configuration")
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1", err)
			}
			lines := jsonLines(t, p.stdout.String())
			if len(lines) != 1 {
				t.Fatalf("stdout has %d lines, want one:\n%s", len(lines), p.stdout.String())
			}
			msg, _ := lines[0]["message"].(string)
			if lines[0]["severity"] != "ERROR" || lines[0]["platform"] != "gcp" {
				t.Fatalf("line %v, want an ERROR line", lines[0])
			}
			for _, name := range tc.names {
				if !strings.Contains(msg, name) {
					t.Errorf("the ERROR line does not name %s: %s", name, msg)
				}
			}
			for _, flag := range []string{"--google", "-U/--username", "pass -"} {
				if strings.Contains(msg, flag) {
					t.Errorf("the ERROR line speaks of a CLI flag (%s), which a function does not have: %s", flag, msg)
				}
			}
		})
	}
}

// checkOutput: everything the processes printed on stdout is JSON lines
// (the framework adds blank lines on Cloud Run), and no output holds a
// token or the database password.
func checkOutput(t *testing.T, c *cloud) {
	secrets := append(c.md.Tokens(), pg.Password())
	for i, out := range c.outputs() {
		for _, secret := range secrets {
			if secret != "" && strings.Contains(out, secret) {
				t.Errorf("output %d contains a secret (%.12s…)", i, secret)
			}
		}
		if i%2 == 0 { // stdout
			jsonLines(t, out)
		}
	}
	outcomes := 0
	for i, out := range c.outputs() {
		if i%2 == 0 {
			outcomes += strings.Count(out, `"outcome":`)
		}
	}
	if len(c.md.Tokens()) == 0 || outcomes < 10 {
		t.Errorf("%d tokens made, %d outcome lines read: the scan above proves nothing", len(c.md.Tokens()), outcomes)
	}
}

// jsonLines parses stdout: every non-blank line must be one JSON object.
func jsonLines(t *testing.T, stdout string) []functest.Line {
	t.Helper()
	var lines []functest.Line
	for _, text := range strings.Split(stdout, "\n") {
		if strings.TrimSpace(text) == "" {
			continue
		}
		var l functest.Line
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			t.Errorf("stdout line is not JSON: %q", text)
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// onlyOutcome waits for the instance's one outcome line. (The HTTP answer
// can arrive before the line is read from the process's stdout pipe.)
func onlyOutcome(t *testing.T, in functest.Instance) functest.Line {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var found []functest.Line
		for _, l := range in.Logs(t) {
			if l.Outcome() != "" {
				found = append(found, l)
			}
		}
		if len(found) > 1 {
			t.Fatalf("%d outcome lines, want one: %v", len(found), found)
		}
		if len(found) == 1 {
			return found[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("no outcome line")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
