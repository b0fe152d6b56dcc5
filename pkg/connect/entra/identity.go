package entra

import (
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// source is the kind of credential pickIdentity chose.
type source int

const (
	sourceDefault     source = iota // DefaultAzureCredential
	sourceSecret                    // service principal, client secret
	sourceCertificate               // service principal, client certificate
	sourceWorkload                  // workload identity (federated token file)
	sourceManaged                   // user-assigned managed identity
)

// identity is the credential the settings ask for. Its secrets never print.
type identity struct {
	source         source
	tenant, client string
	secret         connect.Secret // AZURE_CLIENT_SECRET
	certPath       string         // AZURE_CLIENT_CERTIFICATE_PATH
	certPassword   connect.Secret // AZURE_CLIENT_CERTIFICATE_PASSWORD
	tokenFile      string         // AZURE_FEDERATED_TOKEN_FILE
	check          string         // what to check when it fails
}

const missingTenant = "pass --azure-tenant-id, or set PGMI_AZURE_TENANT_ID, AZURE_TENANT_ID or connection.azure_tenant_id in pgmi.yaml"

// pickIdentity applies the rules of the package documentation: without a
// client id, DefaultAzureCredential; with one, a service principal when a
// secret or certificate is in the environment, workload identity when a
// federated token file is, otherwise the user-assigned managed identity.
func pickIdentity(s connect.AuthSettings, lookup func(string) (string, bool)) (identity, error) {
	get := func(name string) string { v, _ := lookup(name); return v }
	id := identity{tenant: s.Get(SettingTenantID), client: s.Get(SettingClientID)}
	id.secret = connect.Secret(get("AZURE_CLIENT_SECRET"))
	id.certPath = get("AZURE_CLIENT_CERTIFICATE_PATH")
	id.certPassword = connect.Secret(get("AZURE_CLIENT_CERTIFICATE_PASSWORD"))
	id.tokenFile = get("AZURE_FEDERATED_TOKEN_FILE")
	switch {
	case id.client == "":
		id.source = sourceDefault
		id.check = "check that one source of the chain is available to pgmi: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, workload identity, a managed identity (on Azure), or `az login`; AZURE_TOKEN_CREDENTIALS narrows the chain. Why each source failed"
	case id.secret != "":
		id.source = sourceSecret
		id.check = "check the tenant and client ids and that AZURE_CLIENT_SECRET is the app's current secret (secrets expire)"
	case id.certPath != "":
		id.source = sourceCertificate
		id.check = "check the tenant and client ids and that AZURE_CLIENT_CERTIFICATE_PATH holds a certificate registered on the app, with its private key"
	case id.tokenFile != "":
		id.source = sourceWorkload
		id.check = "check that the app or user-assigned identity has a federated credential for this workload's service account, and AZURE_FEDERATED_TOKEN_FILE"
	default:
		id.source = sourceManaged
		id.check = "check that this runs on Azure with that user-assigned identity attached (App Service and Functions set IDENTITY_ENDPOINT and IDENTITY_HEADER; VMs use instance metadata). " +
			"A client id without AZURE_CLIENT_SECRET, a certificate or a federated token file means a managed identity: for a service principal set AZURE_CLIENT_SECRET; to use `az login`, leave the client id unset"
	}
	if id.source != sourceDefault && id.source != sourceManaged && id.tenant == "" {
		return id, fault.Errorf(fault.Config, "%s needs its tenant: %s", id.describe(), missingTenant)
	}
	return id, nil
}

// describe names the identity, never a secret.
func (i identity) describe() string {
	switch i.source {
	case sourceSecret:
		return fmt.Sprintf("service principal %s in tenant %s (client secret from AZURE_CLIENT_SECRET)", i.client, i.tenant)
	case sourceCertificate:
		return fmt.Sprintf("service principal %s in tenant %s (certificate %s)", i.client, i.tenant, i.certPath)
	case sourceWorkload:
		return fmt.Sprintf("workload identity %s in tenant %s (federated token %s)", i.client, i.tenant, i.tokenFile)
	case sourceManaged:
		if isResourceID(i.client) {
			return "user-assigned managed identity " + i.client
		}
		return "user-assigned managed identity with client id " + i.client
	}
	if i.tenant != "" {
		return "DefaultAzureCredential for tenant " + i.tenant
	}
	return "DefaultAzureCredential"
}

// isResourceID: a user-assigned identity may be named by its ARM resource
// id instead of its client id.
func isResourceID(s string) bool { return strings.HasPrefix(strings.ToLower(s), "/subscriptions/") }

// credential builds the azidentity credential; it makes no request.
func (i identity) credential(o *Options) (azcore.TokenCredential, error) {
	switch i.source {
	case sourceSecret:
		return azidentity.NewClientSecretCredential(i.tenant, i.client, i.secret.Reveal(), &azidentity.ClientSecretCredentialOptions{
			ClientOptions: o.ClientOptions, DisableInstanceDiscovery: o.DisableInstanceDiscovery,
		})
	case sourceCertificate:
		return i.certificateCredential(o)
	case sourceWorkload:
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: o.ClientOptions, DisableInstanceDiscovery: o.DisableInstanceDiscovery,
			ClientID: i.client, TenantID: i.tenant, TokenFilePath: i.tokenFile,
		})
	case sourceManaged:
		var id azidentity.ManagedIDKind = azidentity.ClientID(i.client)
		if isResourceID(i.client) {
			id = azidentity.ResourceID(i.client)
		}
		return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: o.ClientOptions, ID: id})
	}
	return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{
		ClientOptions: o.ClientOptions, DisableInstanceDiscovery: o.DisableInstanceDiscovery, TenantID: i.tenant,
	})
}

func (i identity) certificateCredential(o *Options) (azcore.TokenCredential, error) {
	data, err := os.ReadFile(i.certPath)
	if err != nil {
		return nil, err
	}
	certs, key, err := azidentity.ParseCertificates(data, []byte(i.certPassword.Reveal()))
	if err != nil {
		return nil, fmt.Errorf("read the certificate %s (PEM or PKCS#12; AZURE_CLIENT_CERTIFICATE_PASSWORD for an encrypted one): %w", i.certPath, err)
	}
	return azidentity.NewClientCertificateCredential(i.tenant, i.client, certs, key, &azidentity.ClientCertificateCredentialOptions{
		ClientOptions: o.ClientOptions, DisableInstanceDiscovery: o.DisableInstanceDiscovery,
	})
}

// Format prints describe under every verb: fmt cannot reach the Secret
// fields' own redaction through unexported fields.
func (i identity) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "azure.identity{%q}", i.describe())
		return
	}
	fmt.Fprint(f, i.describe())
}
