package cloudsql

import (
	"github.com/pgmi-cloud/pgmi/pkg/connect"
)

// AuthMethod is the method's name: PGMI_AUTH=google, auth_method: google,
// --google.
const AuthMethod connect.AuthMethod = "google"

// The method's settings, by the keys of connect.AuthSettings.
const (
	// SettingInstance is the instance connection name, project:region:instance.
	SettingInstance = "instance"
	// SettingIPType is the address to dial: IPPublic ("" too), IPPrivate or IPPSC.
	SettingIPType = "ip_type"
)

// The IP types of SettingIPType.
const (
	IPPublic  = "public"
	IPPrivate = "private"
	IPPSC     = "psc"
)

const title = "Cloud SQL IAM authentication"

func init() { connect.Register(Method(NewFactory(nil))) }

// Method describes Cloud SQL IAM authentication with factory as its
// Provider factory; init registers it with NewFactory(nil).
func Method(factory connect.ProviderFactory) connect.Method {
	return connect.Method{
		Name:  AuthMethod,
		Title: title,
		Flag:  "google", Usage: "connect through the Cloud SQL connector with IAM authentication",
		Settings: []connect.Setting{
			{Key: SettingInstance, Flag: "google-instance", Usage: "Cloud SQL instance, project:region:instance; implies --google",
				Env: []string{"PGMI_GOOGLE_INSTANCE"}, YAML: "google_instance"},
			{Key: SettingIPType, Flag: "google-ip-type", Usage: "Cloud SQL address: public (default), private or psc (PGMI_GOOGLE_IP_TYPE); implies --google",
				Env: []string{"PGMI_GOOGLE_IP_TYPE"}, YAML: "google_ip_type", Fold: true},
		},
		Validate: validate,
		Describe: func(s connect.AuthSettings) string {
			if inst := s.Get(SettingInstance); inst != "" {
				return "Cloud SQL " + inst
			}
			return ""
		},
		Factory: factory,
	}
}
