// Package kerberos is a stand-in fifth auth method for
// TestFifthAuthMethodTouchesOnlyItsFolder: the test overlays it at
// pkg/connect/kerberos and blank-imports it from cmd/pgmi, and nothing else
// in the tree changes.
package kerberos

import (
	"context"
	"log/slog"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// AuthMethod is the method's name.
const AuthMethod connect.AuthMethod = "kerberos"

func init() {
	connect.Register(connect.Method{
		Name:  AuthMethod,
		Title: "Kerberos authentication",
		Flag:  "kerberos", Usage: "authenticate with a Kerberos ticket",
		Settings: []connect.Setting{
			{Key: "realm", Flag: "kerberos-realm", Usage: "Kerberos realm (PGMI_KERBEROS_REALM); implies --kerberos",
				Env: []string{"PGMI_KERBEROS_REALM"}, Ambient: []string{"KRB5_REALM"}, YAML: "kerberos_realm", Fold: false},
		},
		Validate: func(s connect.AuthSettings, _ *connect.Config, _ bool) error {
			if s.Get("realm") == "" {
				return connect.Missing("Kerberos authentication needs the realm: pass --kerberos-realm",
					"Kerberos authentication needs the realm: set PGMI_KERBEROS_REALM")
			}
			return nil
		},
		Describe: func(s connect.AuthSettings) string { return "realm " + s.Get("realm") },
		Factory: func(_ context.Context, c *connect.Config, log *slog.Logger) (connect.Provider, error) {
			log.Debug("kerberos provider called")
			return nil, fault.Errorf(fault.Config, "kerberos provider reached: realm %s from %s",
				c.AuthSettings.Get("realm"), c.AuthSettings.Source("realm"))
		},
	})
}
