package infratest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/pubsub/mempubsub"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// The SQL files run for real, with psql, against a throwaway PostgreSQL that
// stands in for the managed servers: the rds_iam role and the Entra
// pgaadauth_create_principal_with_oid function are created the way the
// platforms provide them (a role, a function that creates a login role).

func findPsql(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("psql"); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
	if len(matches) > 0 {
		return matches[len(matches)-1]
	}
	if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		t.Fatal("psql is not installed (make deps)")
	}
	t.Skip("psql is not installed (make deps); the SQL files were not run")
	return ""
}

type sqlRig struct {
	t    *testing.T
	pg   *testpg.Cluster
	psql string
	dir  string // infra/sql
}

func newSQLRig(t *testing.T) *sqlRig {
	psql := findPsql(t)
	pg := testpg.Start(t)
	pg.CreateDatabase(t, "app")
	return &sqlRig{t: t, pg: pg, psql: psql, dir: filepath.Join(repoRoot(t), "infra", "sql")}
}

// conninfo connects as role (trust authentication in the test cluster).
func (r *sqlRig) conninfo(role, db string) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
	return fmt.Sprintf("host=%s port=%d user=%s dbname=%s", r.pg.Host(), r.pg.Port(), q(role), q(db))
}

// run runs one file with psql as the postgres superuser; vars are -v pairs.
func (r *sqlRig) run(file, db string, vars ...string) (string, error) {
	args := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", r.pg.ConnString(db), "-f", filepath.Join(r.dir, file)}
	for _, v := range vars {
		args = append(args, "-v", v)
	}
	cmd := exec.Command(r.psql, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (r *sqlRig) mustRun(file, db string, vars ...string) {
	r.t.Helper()
	if out, err := r.run(file, db, vars...); err != nil {
		r.t.Fatalf("psql -f %s: %v\n%s", file, err, out)
	}
}

// as opens a session as role.
func (r *sqlRig) as(role, db string) *pgx.Conn {
	r.t.Helper()
	conn, err := pgx.Connect(r.t.Context(), r.conninfo(role, db))
	if err != nil {
		r.t.Fatalf("connect as %s to %s: %v", role, db, err)
	}
	r.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (r *sqlRig) scalar(db, query string, args ...any) any {
	r.t.Helper()
	conn := r.pg.Connect(r.t, db)
	var v any
	if err := conn.QueryRow(r.t.Context(), query, args...).Scan(&v); err != nil {
		r.t.Fatalf("%s: %v", query, err)
	}
	return v
}

// checkDeployer asserts the privileges a deploy needs, and no more.
func (r *sqlRig) checkDeployer(role string) {
	t := r.t
	t.Helper()
	want := map[string]any{
		`SELECT rolcanlogin FROM pg_roles WHERE rolname = $1`:                                              true,
		`SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolbypassrls FROM pg_roles WHERE rolname = $1`: false,
		`SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = $1`:                                     true,
		`SELECT has_database_privilege($1, 'app', 'CONNECT')`:                                              true,
		`SELECT has_database_privilege($1, 'app', 'TEMPORARY')`:                                            true,
		`SELECT has_database_privilege($1, 'app', 'CREATE')`:                                               false,
		`SELECT pg_get_userbyid(nspowner) = $1 FROM pg_namespace WHERE nspname = 'pgmi_ledger'`:            true,
	}
	for q, w := range want {
		if got := r.scalar("app", q, role); got != w {
			t.Errorf("%s (role %s): got %v, want %v", q, role, got, w)
		}
	}
	// What a deploy does: a ledger table in its schema, a temporary table;
	// and what it may not: a schema of its own without the optional grant.
	conn := r.as(role, "app")
	ctx := t.Context()
	for _, ok := range []string{
		`CREATE TABLE IF NOT EXISTS pgmi_ledger.deployments (id bigint PRIMARY KEY)`,
		`CREATE TEMP TABLE pgmi_session_probe (x int)`,
		`SELECT pg_advisory_lock(42), pg_advisory_unlock(42)`,
		`SET client_connection_check_interval = '2s'`,
	} {
		if _, err := conn.Exec(ctx, ok); err != nil {
			t.Errorf("as %s: %s: %v", role, ok, err)
		}
	}
	if _, err := conn.Exec(ctx, `CREATE SCHEMA pgmi_should_fail`); err == nil {
		t.Errorf("as %s: CREATE SCHEMA succeeded without the optional CREATE grant", role)
	}
}

func TestSQLAWS(t *testing.T) {
	t.Parallel()
	r := newSQLRig(t)
	r.pg.Exec(t, "postgres", `CREATE ROLE rds_iam NOLOGIN`) // RDS provides it
	for range 2 {                                           // idempotent
		r.mustRun("aws-rds-iam.sql", "app", "deployer=pgmi_deployer", "database=app")
	}
	r.checkDeployer("pgmi_deployer")
	if got := r.scalar("app", `SELECT pg_has_role('pgmi_deployer', 'rds_iam', 'MEMBER')`); got != true {
		t.Error("pgmi_deployer is not a member of rds_iam")
	}
}

func TestSQLGoogle(t *testing.T) {
	t.Parallel()
	r := newSQLRig(t)
	user := "pgmi-deployer@my-project.iam"
	if out, err := r.run("gcp-cloudsql-iam.sql", "app", "deployer="+user, "database=app"); err == nil {
		t.Fatalf("the file ran although the IAM user does not exist yet:\n%s", out)
	}
	r.pg.Exec(t, "postgres", `CREATE ROLE "`+user+`" LOGIN`) // google_sql_user does this
	r.mustRun("gcp-cloudsql-iam.sql", "app", "deployer="+user, "database=app")
	r.checkDeployer(user)
}

func TestSQLAzure(t *testing.T) {
	t.Parallel()
	r := newSQLRig(t)
	// The flexible server's function creates a login role for an Entra
	// principal; this stand-in records the object id in a comment.
	r.pg.Exec(t, "postgres", `
		CREATE FUNCTION pgaadauth_create_principal_with_oid(name text, oid text, kind text, admin boolean, mfa boolean)
		RETURNS text LANGUAGE plpgsql AS $$
		BEGIN
			IF kind <> 'service' OR admin OR mfa THEN
				RAISE EXCEPTION 'unexpected principal options % % %', kind, admin, mfa;
			END IF;
			EXECUTE format('CREATE ROLE %I LOGIN', name);
			EXECUTE format('COMMENT ON ROLE %I IS %L', name, oid);
			RETURN 'Created role for ' || name;
		END $$`)
	vars := []string{"deployer=pgmi-deployer-1a2b3c4d", "principal_id=0f0e0d0c-0000-4000-8000-000000000001", "database=app"}
	for range 2 {
		r.mustRun("azure-entra.sql", "postgres", vars...)
	}
	r.checkDeployer("pgmi-deployer-1a2b3c4d")
	if got := r.scalar("postgres", `SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = 'pgmi-deployer-1a2b3c4d'`); got != "0f0e0d0c-0000-4000-8000-000000000001" {
		t.Errorf("the principal was not created from its object id: %v", got)
	}
}

func TestSQLRefusesPowerfulDeployer(t *testing.T) {
	t.Parallel()
	r := newSQLRig(t)
	for role, attrs := range map[string]string{"too_super": "SUPERUSER", "too_roles": "CREATEROLE", "too_rls": "BYPASSRLS"} {
		r.pg.Exec(t, "postgres", `CREATE ROLE `+role+` LOGIN `+attrs)
		out, err := r.run("deployer-grants.sql", "app", "deployer="+role, "database=app")
		if err == nil || !strings.Contains(out, "a deployer needs none of them") {
			t.Errorf("%s (%s): want a refusal, got %v:\n%s", role, attrs, err, out)
		}
	}
	r.pg.Exec(t, "postgres", `CREATE ROLE azure_pg_admin NOLOGIN; CREATE ROLE too_admin LOGIN IN ROLE azure_pg_admin`)
	if out, err := r.run("deployer-grants.sql", "app", "deployer=too_admin", "database=app"); err == nil || !strings.Contains(out, "azure_pg_admin") {
		t.Errorf("a member of azure_pg_admin was accepted: %v\n%s", err, out)
	}
}

func TestSQLReset(t *testing.T) {
	t.Parallel()
	r := newSQLRig(t)
	r.pg.Exec(t, "postgres", `CREATE ROLE rds_iam NOLOGIN`)
	r.pg.CreateDatabase(t, "app_test")
	r.mustRun("aws-rds-iam.sql", "app", "deployer=pgmi_deployer", "database=app")
	r.mustRun("reset-grants.sql", "postgres", "deployer=pgmi_deployer", "reset_database=app_test")
	if got := r.scalar("postgres", `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app_test'`); got != "pgmi_deployer" {
		t.Fatalf("app_test is owned by %v, want pgmi_deployer", got)
	}
	// What a reset does, as the deployer, from the maintenance database.
	conn := r.as("pgmi_deployer", "postgres")
	for _, q := range []string{`DROP DATABASE app_test`, `CREATE DATABASE app_test`} {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("as the deployer: %s: %v", q, err)
		}
	}
	// And not to any other database.
	if _, err := conn.Exec(t.Context(), `DROP DATABASE app`); err == nil {
		t.Fatal("the deployer dropped a database it does not own")
	}
}

// fleet-grants.sql gives the deployer what a rollout needs in the
// maintenance database: without it the upload to a fleet route fails on
// the control tables (permission denied); with it (run twice: idempotent)
// the rollout starts, its control tables created by the deployer.
func TestSQLFleet(t *testing.T) {
	t.Parallel()
	r := newSQLRig(t)
	r.pg.Exec(t, "postgres", `CREATE ROLE rds_iam NOLOGIN`)
	r.mustRun("aws-rds-iam.sql", "app", "deployer=pgmi_deployer", "database=app")
	fleet := map[string]string{
		"PGMI_ROUTES":      `[{"prefix":"","fleet":{"databases":["app"],"waves":["100%"]}}]`,
		"PGMI_FLEET_TOPIC": "mem://sql-fleet-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")),
	}
	o := r.runAs("pgmi_deployer", "app", "SELECT 1;", fleet)
	if o.Status != deploy.StatusFailed || !strings.Contains(o.Err.Error(), "pgmi_fleet") {
		t.Fatalf("without fleet-grants.sql: %s %v, want a failure creating the control schema", o.Status, o.Err)
	}
	r.mustRun("fleet-grants.sql", "postgres", "deployer=pgmi_deployer")
	r.mustRun("fleet-grants.sql", "postgres", "deployer=pgmi_deployer")
	if o := r.runAs("pgmi_deployer", "app", "SELECT 1;", fleet); o.Status != deploy.StatusStarted {
		t.Fatalf("with fleet-grants.sql: %s %v, want the rollout started", o.Status, o.Err)
	}
	if got := r.scalar("postgres", `SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'pgmi_fleet.rollouts'::regclass`); got != "pgmi_deployer" {
		t.Fatalf("the control tables belong to %v", got)
	}
}

// deployAs runs the deploy pipeline every function runs, logged in as role
// (a password role stands in for the cloud identity: the test cluster
// trusts local connections), on an unsigned bundle of deploy.sql.
func (r *sqlRig) deployAs(role, db, sql string) *deploy.Outcome {
	r.t.Helper()
	return r.runAs(role, db, sql, nil)
}

// runAs is deployAs with more of the deployer's environment.
func (r *sqlRig) runAs(role, db, sql string, extra map[string]string) *deploy.Outcome {
	r.t.Helper()
	env := map[string]string{"PGMI_CONNECTION_STRING": r.conninfo(role, db) + " sslmode=disable", "PGMI_ALLOW_UNSIGNED": "true"}
	maps.Copy(env, extra)
	cfg, err := deploy.LoadConfig(r.t.Context(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	d := deploy.New(cfg, nil)
	defer d.Close()
	dir := r.t.TempDir()
	data := testbundle.Pack(r.t, nil, "app", testbundle.Project(sql))
	if err := os.WriteFile(filepath.Join(dir, "app.tgz"), data, 0o644); err != nil {
		r.t.Fatal(err)
	}
	bucket := "file://" + filepath.ToSlash(dir)
	return d.Run(r.t.Context(), deploy.Request{Action: deploy.ActionDeploy, Bucket: bucket, Bundle: bucket + "/app.tgz",
		Trigger: deploy.Trigger{Platform: "test", Source: "folder"}})
}

// Each cloud's file with each grant profile: a project that creates objects
// in public and a schema of its own deploys with profile objects and fails
// with the least-privilege default, the failure naming the privilege and
// pointing at the profile; a project that creates a role needs profile
// roles, which PostgreSQL before 16 refuses with the reason.
func TestSQLGrantProfiles(t *testing.T) {
	const objects = "CREATE TABLE public.widgets (id int);\nCREATE SCHEMA app;\n"
	const roles = "CREATE ROLE app_reader NOLOGIN;\n"
	clouds := map[string]func(r *sqlRig, profile string) (string, error){
		"AWS": func(r *sqlRig, profile string) (string, error) {
			r.pg.Exec(t, "postgres", `DO $$ BEGIN CREATE ROLE rds_iam NOLOGIN; EXCEPTION WHEN duplicate_object THEN END $$`)
			return r.run("aws-rds-iam.sql", "app", "deployer=pgmi_deployer", "database=app", "profile="+profile)
		},
		"Google": func(r *sqlRig, profile string) (string, error) {
			r.pg.Exec(t, "postgres", `DO $$ BEGIN CREATE ROLE pgmi_deployer LOGIN; EXCEPTION WHEN duplicate_object THEN END $$`)
			return r.run("gcp-cloudsql-iam.sql", "app", "deployer=pgmi_deployer", "database=app", "profile="+profile)
		},
		"Azure": func(r *sqlRig, profile string) (string, error) {
			r.pg.Exec(t, "postgres", `
				CREATE OR REPLACE FUNCTION pgaadauth_create_principal_with_oid(name text, oid text, kind text, admin boolean, mfa boolean)
				RETURNS text LANGUAGE plpgsql AS $$ BEGIN EXECUTE format('CREATE ROLE %I LOGIN', name); RETURN name; END $$`)
			return r.run("azure-entra.sql", "postgres", "deployer=pgmi_deployer", "principal_id=0f0e0d0c-0000-4000-8000-000000000001", "database=app", "profile="+profile)
		},
	}
	for name, setup := range clouds {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newSQLRig(t)
			if out, err := setup(r, "least"); err != nil {
				t.Fatalf("least: %v\n%s", err, out)
			}
			for sql, privilege := range map[string]string{objects: "permission denied for schema public", roles: "permission denied to create role"} {
				o := r.deployAs("pgmi_deployer", "app", sql)
				if o.Status != deploy.StatusFailed || o.Retryable || !strings.Contains(o.Err.Error(), privilege) ||
					!strings.Contains(o.Err.Error(), "grant profile") || !strings.Contains(o.Report.Message, "infra/sql/README.md") {
					t.Fatalf("least privilege, %q: %s %v; want a failure naming %q and pointing at the profiles", sql, o.Status, o.Err, privilege)
				}
			}
			if out, err := setup(r, "objects"); err != nil {
				t.Fatalf("objects: %v\n%s", err, out)
			}
			if o := r.deployAs("pgmi_deployer", "app", objects); o.Status != deploy.StatusDeployed {
				t.Fatalf("profile objects: %s %v", o.Status, o.Err)
			}
			r.checkRoleAttr(t, "rolcreaterole", false)
			out, err := setup(r, "roles")
			if r.serverVersion() < 160000 {
				if err == nil || !strings.Contains(out, "needs PostgreSQL 16 or later") {
					t.Fatalf("profile roles before PostgreSQL 16: %v\n%s", err, out)
				}
				r.checkRoleAttr(t, "rolcreaterole", false)
				return
			}
			if err != nil {
				t.Fatalf("roles: %v\n%s", err, out)
			}
			if o := r.deployAs("pgmi_deployer", "app", roles); o.Status != deploy.StatusDeployed {
				t.Fatalf("profile roles: %s %v", o.Status, o.Err)
			}
		})
	}
	t.Run("UnknownProfile", func(t *testing.T) {
		t.Parallel()
		r := newSQLRig(t)
		r.pg.Exec(t, "postgres", `CREATE ROLE pgmi_deployer LOGIN`)
		if out, err := r.run("deployer-grants.sql", "app", "deployer=pgmi_deployer", "database=app", "profile=admin"); err == nil || !strings.Contains(out, `unknown grant profile "admin"`) {
			t.Fatalf("want a refusal naming the profile: %v\n%s", err, out)
		}
	})
}

func (r *sqlRig) checkRoleAttr(t *testing.T, attr string, want bool) {
	t.Helper()
	if got := r.scalar("postgres", `SELECT `+attr+` FROM pg_roles WHERE rolname = 'pgmi_deployer'`); got != want {
		t.Fatalf("pgmi_deployer %s = %v, want %v", attr, got, want)
	}
}

func (r *sqlRig) serverVersion() int {
	var v int
	fmt.Sscan(fmt.Sprint(r.scalar("postgres", `SELECT current_setting('server_version_num')`)), &v)
	return v
}
