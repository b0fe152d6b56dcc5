package entra

import (
	"github.com/pgmi-cloud/pgmi/pkg/connect"
)

// AuthMethod is the method's name: PGMI_AUTH=azure, auth_method: azure,
// --azure.
const AuthMethod connect.AuthMethod = "azure"

// The method's settings, by the keys of connect.AuthSettings.
const (
	// SettingTenantID is the Entra tenant of a service principal.
	SettingTenantID = "tenant_id"
	// SettingClientID is a service principal or user-assigned managed
	// identity.
	SettingClientID = "client_id"
)

func init() { connect.Register(Method(NewFactory(nil))) }

// Method describes Entra ID authentication with factory as its Provider
// factory; init registers it with NewFactory(nil).
func Method(factory connect.ProviderFactory) connect.Method {
	return connect.Method{
		Name:  AuthMethod,
		Title: "Entra ID authentication",
		Flag:  "azure", Usage: "authenticate with Microsoft Entra ID",
		Settings: []connect.Setting{
			{Key: SettingTenantID, Flag: "azure-tenant-id", Usage: "Entra tenant id (AZURE_TENANT_ID); implies --azure",
				Env: []string{"PGMI_AZURE_TENANT_ID"}, Ambient: []string{"AZURE_TENANT_ID"}, YAML: "azure_tenant_id"},
			{Key: SettingClientID, Flag: "azure-client-id", Usage: "Entra client id, e.g. a user-assigned managed identity (AZURE_CLIENT_ID); implies --azure",
				Env: []string{"PGMI_AZURE_CLIENT_ID"}, Ambient: []string{"AZURE_CLIENT_ID"}, YAML: "azure_client_id"},
		},
		Factory: factory,
	}
}
