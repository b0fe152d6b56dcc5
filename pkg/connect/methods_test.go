package connect_test

// Resolution of the registered auth methods, with the three providers this
// repository ships linked in. The root package names no method; these tests
// check that their descriptors (flags, variables, pgmi.yaml keys, offline
// validation) keep the behaviour the resolver had when it knew them itself.

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
	"github.com/pgmi-cloud/pgmi/pkg/connect/entra"
	"github.com/pgmi-cloud/pgmi/pkg/connect/rdsiam"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

func envOf(kv ...string) connect.Env {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// baseEnv has a user and no home, so nothing on this machine leaks in.
func baseEnv(kv ...string) connect.Env { return envOf(append([]string{"USER", "osuser"}, kv...)...) }

// flags is f with the auth flags kv (name, value …) set; "" as a value of a
// boolean flag's name is written "true".
func flags(f connect.Flags, kv ...string) connect.Flags {
	if f.Database == "" {
		f.Database = "d"
	}
	f.Auth = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Auth[kv[i]] = kv[i+1]
	}
	return f
}

// yml is a connection block with the auth methods' keys kv.
func yml(method string, kv ...string) pgmiyaml.Connection {
	c := pgmiyaml.Connection{AuthMethod: method, Auth: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Auth[kv[i]] = kv[i+1]
	}
	return c
}

func resolveErr(t *testing.T, f connect.Flags, env connect.Env, y pgmiyaml.Connection, want string) error {
	t.Helper()
	_, err := connect.ResolveConfig(f, env, y, nil)
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if fault.KindOf(err) != fault.Config {
		t.Errorf("kind %v, want config: %v", fault.KindOf(err), err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	return err
}

// settings is s as a map, for comparisons.
func settings(s connect.AuthSettings) map[string]string {
	out := map[string]string{}
	for _, k := range s.Keys() {
		out[k] = s.Get(k)
	}
	return out
}

func sameSettings(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

type kv = map[string]string

const (
	inst   = "proj:us-east1:inst"
	arn    = "arn:aws:iam::123456789012:role/r"
	deploy = "arn:aws:iam::123456789012:role/deploy"
)

func TestResolveAuthMethods(t *testing.T) {
	u := connect.Flags{User: "iam_user", Database: "d"}
	none := pgmiyaml.Connection{}
	cases := []struct {
		name string
		f    connect.Flags
		env  []string
		yml  pgmiyaml.Connection
		want connect.AuthMethod
		set  kv
	}{
		{"default is password", flags(u), nil, none, connect.AuthPassword, kv{}},
		{"ambient AZURE_* alone stays password", flags(u), []string{"AZURE_CLIENT_ID", "c", "AWS_REGION", "r"}, none, connect.AuthPassword, kv{}},
		{"--azure", flags(u, "azure", "true"), []string{"AZURE_TENANT_ID", "t", "AZURE_CLIENT_ID", "c"}, none, entra.AuthMethod, kv{"tenant_id": "t", "client_id": "c"}},
		// pgmi's B2: id flags alone imply their method.
		{"--azure-tenant-id implies azure", flags(u, "azure-tenant-id", "ft", "azure-client-id", "fc"), []string{"AZURE_TENANT_ID", "t"}, none, entra.AuthMethod, kv{"tenant_id": "ft", "client_id": "fc"}},
		{"--aws-region implies aws", flags(u, "aws-region", "us-west-2"), []string{"AWS_REGION", "eu-west-1"}, none, rdsiam.AuthMethod, kv{"region": "us-west-2"}},
		{"--google-instance implies google", flags(u, "google-instance", inst), nil, none, cloudsql.AuthMethod, kv{"instance": inst}},
		{"aws region precedence: AWS_REGION", flags(u, "aws", "true"), []string{"AWS_REGION", "a", "AWS_DEFAULT_REGION", "b"}, yml("", "aws_region", "c"), rdsiam.AuthMethod, kv{"region": "a"}},
		{"aws region precedence: AWS_DEFAULT_REGION", flags(u, "aws", "true"), []string{"AWS_DEFAULT_REGION", "b"}, yml("", "aws_region", "c"), rdsiam.AuthMethod, kv{"region": "b"}},
		{"yaml role ARN implies aws", flags(u), nil, yml("", "aws_role_arn", arn, "aws_region", "c"), rdsiam.AuthMethod, kv{"region": "c", "role_arn": arn}},
		{"yaml ip type with instance", flags(u), nil, yml("", "google_instance", inst, "google_ip_type", "Private"), cloudsql.AuthMethod, kv{"instance": inst, "ip_type": "private"}},
		{"aws region precedence: PGMI_AWS_REGION", flags(u, "aws", "true"), []string{"PGMI_AWS_REGION", "p", "AWS_REGION", "a"}, none, rdsiam.AuthMethod, kv{"region": "p"}},
		{"yaml auth_method aws with its region", flags(u), nil, yml("aws", "aws_region", "c"), rdsiam.AuthMethod, kv{"region": "c"}},
		{"yaml auth_method is case-insensitive", flags(u), nil, yml("Azure"), entra.AuthMethod, kv{}},
		{"yaml ids, env beats them", flags(u), []string{"AZURE_TENANT_ID", "et"}, yml("azure", "azure_tenant_id", "yt", "azure_client_id", "yc"), entra.AuthMethod, kv{"tenant_id": "et", "client_id": "yc"}},
		{"flag id beats env and yaml", flags(u, "azure", "true", "azure-client-id", "fc"), []string{"AZURE_CLIENT_ID", "ec"}, yml("", "azure_client_id", "yc"), entra.AuthMethod, kv{"client_id": "fc"}},
		{"PGMI_AUTH google", flags(u), []string{"PGMI_AUTH", "google", "PGMI_GOOGLE_INSTANCE", inst, "PGMI_GOOGLE_IP_TYPE", "PSC"}, none, cloudsql.AuthMethod, kv{"instance": inst, "ip_type": "psc"}},
		{"yaml google instance, flag wins", flags(u, "google-instance", "fproj:us-east1:inst"), nil, yml("google", "google_instance", "yproj:us-east1:inst"), cloudsql.AuthMethod, kv{"instance": "fproj:us-east1:inst"}},
		{"domain-scoped google project", flags(u, "google", "true", "google-instance", "example.com:"+inst), nil, none, cloudsql.AuthMethod, kv{"instance": "example.com:" + inst}},
		{"aws role", flags(u, "aws-region", "r", "aws-role-arn", deploy), nil, none, rdsiam.AuthMethod, kv{"region": "r", "role_arn": deploy}},
		{"explicit password method", flags(u), []string{"PGMI_AUTH", "password"}, yml("password"), connect.AuthPassword, kv{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := connect.ResolveConfig(tc.f, baseEnv(tc.env...), tc.yml, nil)
			if err != nil {
				t.Fatalf("ResolveConfig: %v", err)
			}
			if got := settings(c.AuthSettings); c.Auth != tc.want || !sameSettings(got, tc.set) {
				t.Errorf("auth %s settings %v, want %s %v", c.Auth, got, tc.want, tc.set)
			}
		})
	}
	c, err := connect.ResolveConfig(flags(u), baseEnv(), none, &connect.Options{DefaultAuth: rdsiam.AuthMethod})
	if err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("a default method is validated too: %v %v", c, err)
	}
	c, err = connect.ResolveConfig(flags(u), baseEnv("AWS_REGION", "r"), none, &connect.Options{DefaultAuth: rdsiam.AuthMethod})
	if err != nil || c.Auth != rdsiam.AuthMethod || c.AuthSettings.Get(rdsiam.SettingRegion) != "r" {
		t.Errorf("default method: %v %v", c, err)
	}
}

// ARCHITECTURE §9: conflicting methods are an error whatever their source
// (pgmi's B3 let yaml google silently beat --azure).
func TestResolveAuthConflicts(t *testing.T) {
	u := connect.Flags{User: "u", Database: "d"}
	none := pgmiyaml.Connection{}
	cases := []struct {
		f    connect.Flags
		env  []string
		yml  pgmiyaml.Connection
		want []string
	}{
		{flags(u, "azure", "true", "aws", "true"), nil, none, []string{"--azure asks for azure", "--aws asks for aws"}},
		{flags(u, "azure", "true"), nil, yml("google"), []string{"--azure", "pgmi.yaml connection.auth_method asks for google"}},
		{flags(u, "aws-region", "r"), nil, yml("azure"), []string{"--aws-region asks for aws"}},
		{flags(u, "google", "true", "azure-client-id", "c"), nil, none, []string{"--azure-client-id"}},
		{flags(u), []string{"PGMI_AUTH", "aws"}, yml("google"), []string{"PGMI_AUTH asks for aws"}},
		{flags(u, "aws", "true"), nil, yml("password"), []string{"asks for password"}},
		{flags(u), nil, yml("aws", "google_instance", inst), []string{"google_instance asks for google"}},
	}
	for _, tc := range cases {
		resolveErr(t, tc.f, baseEnv(tc.env...), tc.yml, "conflicting authentication methods")
		_, err := connect.ResolveConfig(tc.f, baseEnv(tc.env...), tc.yml, nil)
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v lacks %q", err, w)
			}
		}
	}
}

func TestResolveCloudValidation(t *testing.T) {
	none := pgmiyaml.Connection{}
	u := connect.Flags{User: "u"}
	cases := []struct {
		f    connect.Flags
		env  []string
		yml  pgmiyaml.Connection
		want string
	}{
		{flags(u, "aws", "true"), nil, none, "region"},
		{flags(connect.Flags{}, "aws", "true", "aws-region", "r"), nil, none, "-U/--username"},
		{flags(u, "aws-region", "r", "aws-role-arn", "role/x"), nil, none, "role ARN"},
		{flags(u, "google", "true"), nil, none, "--google-instance"},
		{flags(u, "google-instance", "just-a-name"), nil, none, "project:region:instance"},
		{flags(connect.Flags{}, "google-instance", inst), nil, none, "-U/--username"},
		{flags(u, "google-instance", inst, "google-ip-type", "carrier-pigeon"), nil, none, "IP type"},
		{flags(u), []string{"PGMI_AUTH", "kerberos"}, none, "PGMI_AUTH"},
		{flags(u), nil, yml("ldap"), "auth_method"},
		{flags(u), []string{"PGMI_AUTH", "kerberos"}, none, "use password, aws, azure or google"},
	}
	for _, tc := range cases {
		resolveErr(t, tc.f, baseEnv(tc.env...), tc.yml, tc.want)
	}
}

// An invalid cloud setting is named the way it was given: the flag, the
// environment variable or the pgmi.yaml key it came from.
func TestInvalidCloudSettingsNameTheirSource(t *testing.T) {
	none := pgmiyaml.Connection{}
	u := connect.Flags{User: "u"}
	cases := []struct {
		name string
		f    connect.Flags
		env  []string
		yml  pgmiyaml.Connection
		want string
	}{
		{"instance flag", flags(u, "google-instance", "just-a-name"), nil, none, "--google-instance"},
		{"instance env", flags(connect.Flags{}), []string{"PGMI_GOOGLE_INSTANCE", "just-a-name", "PGUSER", "u"}, none, "PGMI_GOOGLE_INSTANCE"},
		{"instance yaml", flags(u), nil, yml("", "google_instance", "just-a-name"), "connection.google_instance"},
		{"ip type flag", flags(u, "google-instance", inst, "google-ip-type", "carrier-pigeon"), nil, none, "--google-ip-type"},
		{"ip type env", flags(connect.Flags{}), []string{"PGMI_GOOGLE_INSTANCE", inst, "PGMI_GOOGLE_IP_TYPE", "carrier-pigeon", "PGUSER", "u"}, none, "PGMI_GOOGLE_IP_TYPE"},
		{"ip type yaml", flags(u, "google-instance", inst), nil, yml("", "google_ip_type", "carrier-pigeon"), "connection.google_ip_type"},
		{"role flag", flags(u, "aws-region", "r", "aws-role-arn", "role/x"), nil, none, "--aws-role-arn"},
		{"role env", flags(connect.Flags{}), []string{"PGMI_AWS_REGION", "r", "PGMI_AWS_ROLE_ARN", "role/x", "PGUSER", "u"}, none, "PGMI_AWS_ROLE_ARN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := resolveErr(t, tc.f, baseEnv(tc.env...), tc.yml, tc.want)
			if env := connect.ForEnvironment(err); env.Error() != err.Error() {
				t.Errorf("ForEnvironment changed an error that names its source:\n%v\n%v", err, env)
			}
		})
	}
}

// A missing setting is explained with the CLI's flags on the command line
// and, through ForEnvironment, with environment variables only for a
// function, which has no flags.
func TestMissingSettingsForTheEnvironment(t *testing.T) {
	cases := []struct {
		name     string
		env      []string
		cli, fn  string
		wantKind fault.Kind
	}{
		{"google instance", []string{"PGMI_AUTH", "google", "PGUSER", "u"}, "--google-instance", "PGMI_GOOGLE_INSTANCE", fault.Config},
		{"google user", []string{"PGMI_GOOGLE_INSTANCE", inst}, "-U/--username", "PGUSER", fault.Config},
		{"aws region", []string{"PGMI_AUTH", "aws", "PGUSER", "u"}, "--aws-region", "AWS_REGION", fault.Config},
		{"aws user", []string{"PGMI_AWS_REGION", "r"}, "-U/--username", "PGUSER", fault.Config},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := connect.ResolveConfig(flags(connect.Flags{}), envOf(tc.env...), pgmiyaml.Connection{}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.cli) {
				t.Fatalf("CLI message %v, want one naming %s", err, tc.cli)
			}
			env := connect.ForEnvironment(err)
			if fault.KindOf(env) != tc.wantKind || !strings.Contains(env.Error(), tc.fn) {
				t.Fatalf("for the environment: kind %v, %v; want one naming %s", fault.KindOf(env), env, tc.fn)
			}
			if strings.Contains(env.Error(), "pass -") || strings.Contains(env.Error(), "--") {
				t.Errorf("for the environment, the message names a flag: %v", env)
			}
		})
	}
	if err := connect.ForEnvironment(nil); err != nil {
		t.Errorf("ForEnvironment(nil) = %v", err)
	}
}

// pgmi.yaml's connection block accepts the registered methods' keys and
// refuses others by name; a key that looks like another method's says that
// this build does not include it.
func TestPgmiYAMLAuthKeys(t *testing.T) {
	f, err := pgmiyaml.Parse([]byte("connection:\n  auth_method: aws\n  aws_region: eu-west-1\n  google_ip_type: psc\n"))
	if err != nil || f.Connection.Auth["aws_region"] != "eu-west-1" || f.Connection.IsZero() {
		t.Fatalf("registered keys: %+v, %v", f.Connection, err)
	}
	for doc, want := range map[string]string{
		"connection:\n  hots: db\n":                "unknown key connection.hots",
		"connection:\n  password: hunter2\n":       "unknown key connection.password",
		"connection:\n  kerberos_realm: EXAMPLE\n": `no auth method "kerberos"`,
	} {
		_, err := pgmiyaml.Parse([]byte(doc))
		if fault.KindOf(err) != fault.Config || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: %v, want a configuration error with %q", doc, err, want)
		}
	}
	_, err = connect.ResolveConfig(flags(connect.Flags{User: "u"}), baseEnv(), yml("", "aws_regoin", "x"), nil)
	if fault.KindOf(err) != fault.Config || !strings.Contains(err.Error(), "connection.aws_regoin") {
		t.Errorf("a hand-built block with an unknown key: %v", err)
	}
}

// Config.Describe is the method's own description of the destination.
func TestDescribeComesFromTheMethod(t *testing.T) {
	c, err := connect.ResolveConfig(flags(connect.Flags{User: "u"}, "google-instance", inst), baseEnv(), pgmiyaml.Connection{}, nil)
	if err != nil || c.Describe() != "Cloud SQL "+inst {
		t.Fatalf("%v: %q", err, c.Describe())
	}
	if d := (connect.Config{}).Describe(); d != "" {
		t.Errorf("password: %q", d)
	}
	if got := c.Clone(); got.AuthSettings.Get(cloudsql.SettingInstance) != inst || !strings.Contains(c.String(), "instance="+inst) {
		t.Errorf("clone %v / string %s", got.AuthSettings, c)
	}
}

// Register refuses a method that would clash with a registered one, before
// it changes anything.
func TestRegisterRefusesClashes(t *testing.T) {
	nop := func(context.Context, *connect.Config, *slog.Logger) (connect.Provider, error) { return nil, nil }
	for name, m := range map[string]connect.Method{
		"no name":         {Flag: "zz", Factory: nop},
		"password":        {Name: connect.AuthPassword, Flag: "zz", Factory: nop},
		"twice":           {Name: rdsiam.AuthMethod, Flag: "zz", Factory: nop},
		"taken flag":      {Name: "zz", Flag: "zz", Factory: nop, Settings: []connect.Setting{{Key: "r", Flag: "aws-region"}}},
		"unprefixed yaml": {Name: "zz", Flag: "zz", Factory: nop, Settings: []connect.Setting{{Key: "r", Flag: "zz-r", YAML: "region"}}},
		"taken yaml":      {Name: "zz", Flag: "zz", Factory: nop, Settings: []connect.Setting{{Key: "r", Flag: "zz-r", YAML: "host"}}},
		"without factory": {Name: "zz", Flag: "zz"},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			connect.Register(m)
		})
	}
	if got := connect.RegisteredMethods(); len(got) != 4 || got[0] != connect.AuthPassword {
		t.Errorf("registered: %v", got)
	}
	if _, ok := connect.ParseAuthMethod("zz"); ok {
		t.Error("a refused method parses")
	}
}
