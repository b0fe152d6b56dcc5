package cloudsql_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/testfakes/gcpfake"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// TestAdminAPIEndpointVar: the registered provider, with no options, is
// pointed at another Admin API by the environment alone, and then dials the
// addresses that API returns with the connector's own dial function (a
// loopback address where the fake's proxy listens on port 3307).
func TestAdminAPIEndpointVar(t *testing.T) {
	c := newCloud(t)
	inst := c.api.AddInstance(t, gcpfake.InstanceConfig{
		Project: project, Region: region, Name: "loopback", PublicIP: gcpfake.LoopbackIP(t),
		PostgresHost: pg.Host(), PostgresPort: pg.Port(),
	})
	t.Setenv(cloudsql.AdminAPIEndpointVar, c.api.URL)
	f := connect.Flags{Auth: map[string]string{"google": "true", "google-instance": inst.ConnectionName}, User: c.user, Database: "postgres"}
	tg, err := connect.ResolveWith(f, emptyEnv, pgmiyaml.Connection{}, nil)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	t.Cleanup(func() { tg.Close() })
	conn, err := tg.Dial(t.Context(), "postgres")
	if err != nil {
		t.Fatalf("connect through the registered provider: %v", err)
	}
	defer conn.Close(context.Background())
	var who string
	if err := conn.QueryRow(t.Context(), "SELECT current_user").Scan(&who); err != nil || who != c.user {
		t.Fatalf("current_user = %q, %v; want %q", who, err, c.user)
	}
	if got := inst.Logins(); len(got) != 1 || got[0].Address != inst.Config.PublicIP || !got[0].IAM {
		t.Fatalf("logins %+v, want one IAM login at %s", got, inst.Config.PublicIP)
	}
	if d := c.api.Dials(); len(d) != 0 {
		t.Fatalf("the fake's DialFunc was used (%v); the connector should dial on its own", d)
	}
}

// TestAdminAPIEndpointVarInvalid: a value that is not an http(s) URL is a
// configuration error naming the variable, before anything is contacted.
func TestAdminAPIEndpointVarInvalid(t *testing.T) {
	for _, v := range []string{"sqladmin.example.com", "ftp://sqladmin.example.com/", "https://", "http://[::1"} {
		t.Run(v, func(t *testing.T) {
			t.Setenv(cloudsql.AdminAPIEndpointVar, v)
			f := connect.Flags{Auth: map[string]string{"google": "true", "google-instance": "my-project:us-central1:main"}, User: "deployer@my-project.iam", Database: "app"}
			tg, err := connect.ResolveWith(f, emptyEnv, pgmiyaml.Connection{}, nil)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			defer tg.Close()
			_, err = tg.Dial(t.Context(), "app") // the provider is made at the first connection
			if fault.KindOf(err) != fault.Config || !strings.Contains(err.Error(), cloudsql.AdminAPIEndpointVar) {
				t.Fatalf("err = %v, want a configuration error naming %s", err, cloudsql.AdminAPIEndpointVar)
			}
		})
	}
}
