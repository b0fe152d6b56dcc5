package connect

import (
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// An invalid cloud setting is named the way it was given: the flag, the
// environment variable or the pgmi.yaml key it came from.
func TestInvalidCloudSettingsNameTheirSource(t *testing.T) {
	yml := pgmiyaml.Connection{}
	cases := []struct {
		name string
		f    Flags
		env  []string
		yml  pgmiyaml.Connection
		want string
	}{
		{"instance flag", Flags{GoogleInstance: "just-a-name", User: "u"}, nil, yml, "--google-instance"},
		{"instance env", Flags{}, []string{"PGMI_GOOGLE_INSTANCE", "just-a-name", "PGUSER", "u"}, yml, "PGMI_GOOGLE_INSTANCE"},
		{"instance yaml", Flags{User: "u"}, nil, pgmiyaml.Connection{GoogleInstance: "just-a-name"}, "connection.google_instance"},
		{"ip type flag", Flags{GoogleInstance: "p:r:i", GoogleIPType: "carrier-pigeon", User: "u"}, nil, yml, "--google-ip-type"},
		{"ip type env", Flags{}, []string{"PGMI_GOOGLE_INSTANCE", "p:r:i", "PGMI_GOOGLE_IP_TYPE", "carrier-pigeon", "PGUSER", "u"}, yml, "PGMI_GOOGLE_IP_TYPE"},
		{"ip type yaml", Flags{GoogleInstance: "p:r:i", User: "u"}, nil, pgmiyaml.Connection{GoogleIPType: "carrier-pigeon"}, "connection.google_ip_type"},
		{"role flag", Flags{AWSRegion: "r", AWSRoleARN: "role/x", User: "u"}, nil, yml, "--aws-role-arn"},
		{"role env", Flags{}, []string{"PGMI_AWS_REGION", "r", "PGMI_AWS_ROLE_ARN", "role/x", "PGUSER", "u"}, yml, "PGMI_AWS_ROLE_ARN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := resolveErr(t, withDB(tc.f), baseEnv(tc.env...), tc.yml, tc.want)
			if env := ForEnvironment(err); env.Error() != err.Error() {
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
		{"google user", []string{"PGMI_GOOGLE_INSTANCE", "p:r:i"}, "-U/--username", "PGUSER", fault.Config},
		{"aws region", []string{"PGMI_AUTH", "aws", "PGUSER", "u"}, "--aws-region", "AWS_REGION", fault.Config},
		{"aws user", []string{"PGMI_AWS_REGION", "r"}, "-U/--username", "PGUSER", fault.Config},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ResolveConfig(withDB(Flags{}), envOf(tc.env...), pgmiyaml.Connection{}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.cli) {
				t.Fatalf("CLI message %v, want one naming %s", err, tc.cli)
			}
			env := ForEnvironment(err)
			if fault.KindOf(env) != tc.wantKind || !strings.Contains(env.Error(), tc.fn) {
				t.Fatalf("for the environment: kind %v, %v; want one naming %s", fault.KindOf(env), env, tc.fn)
			}
			if strings.Contains(env.Error(), "pass -") || strings.Contains(env.Error(), "--") {
				t.Errorf("for the environment, the message names a flag: %v", env)
			}
		})
	}
	if err := ForEnvironment(nil); err != nil {
		t.Errorf("ForEnvironment(nil) = %v", err)
	}
}
