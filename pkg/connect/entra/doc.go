// Package entra adds the azure authentication method to pgmi/pkg/connect:
// Microsoft Entra ID authentication to Azure Database for PostgreSQL
// (flexible server). A binary links it with a blank import,
//
//	import _ "github.com/pgmi-cloud/pgmi/pkg/connect/entra"
//
// which registers the method from init(); nothing else happens at init.
//
// # What it does
//
// Before every physical connection (Provider.Prepare) the provider asks an
// azidentity credential for an access token for the scope
// https://ossrdbms-aad.database.windows.net/.default (ScopeFor picks the US
// Government and China clouds' scopes from their server domains;
// Options.Scope overrides) and makes it the password. azidentity caches the
// token until shortly before it expires, so most connections cost no
// request; a deploy that holds its session past the token's expiry keeps it,
// since the server checks the token at login.
//
// # How the identity is found
//
// The factory runs once per connect.Target, at its first connection, and
// builds one credential, without any request, from its settings (whose
// tenant the resolver takes from --azure-tenant-id, PGMI_AZURE_TENANT_ID,
// AZURE_TENANT_ID, pgmi.yaml azure_tenant_id, and whose client id from
// --azure-client-id, PGMI_AZURE_CLIENT_ID, AZURE_CLIENT_ID, pgmi.yaml
// azure_client_id) and the credential variables of the environment:
//
//  1. No client id: DefaultAzureCredential, with the tenant when one is
//     given. Its chain: EnvironmentCredential, workload identity, managed
//     identity (system-assigned), Azure CLI, Azure Developer CLI, Azure
//     PowerShell; AZURE_TOKEN_CREDENTIALS narrows it ("prod", "dev" or one
//     credential's name).
//  2. A client id and AZURE_CLIENT_SECRET: the service principal (client
//     id, tenant) with that secret.
//  3. A client id and AZURE_CLIENT_CERTIFICATE_PATH (a PEM or PKCS#12 file
//     with an RSA key; AZURE_CLIENT_CERTIFICATE_PASSWORD when encrypted):
//     the service principal with that certificate.
//  4. A client id and AZURE_FEDERATED_TOKEN_FILE: workload identity (AKS,
//     or any federated credential) for that client id and tenant.
//  5. A client id and none of those: the user-assigned managed identity
//     with that client id (an ARM resource id, /subscriptions/…, names it
//     by resource id). The tenant plays no part.
//
// Rules 2–4 need the tenant; without it the run stops with exit 10. An
// explicit client id never falls back to another identity: a laptop with
// AZURE_CLIENT_ID set but no secret gets rule 5, fails (there is no managed
// identity there), and the message says to set the secret or to drop the
// client id to use `az login`. The registered provider reads the four
// variables above with os.LookupEnv (Options.LookupEnv to change that);
// azidentity reads its own (AZURE_AUTHORITY_HOST, IDENTITY_ENDPOINT …).
//
// # Required settings
//
//   - User: the PostgreSQL role mapped to the identity (-U/--username or
//     PGUSER). For a managed identity it is usually the identity's name, for
//     a service principal the name given when it was mapped, for a user the
//     user principal name. Without -U, connect falls back to $USER, which is
//     rarely right.
//   - TLS: the token is a bearer credential valid for every server that
//     maps the identity, so it must never travel in clear. sslmode disable
//     is refused (exit 10); under allow and prefer (the default) only the
//     TLS attempts are made, so they behave as require. Use --sslmode
//     verify-full with the server's CA as --sslrootcert to also authenticate
//     the server.
//
// # Database-side setup
//
// Enable Microsoft Entra authentication on the server and set an Entra
// administrator. Connected as that administrator to the postgres database,
// map each principal to a role:
//
//	SELECT * FROM pgaadauth_create_principal('pgmi-deployer', false, false);             -- a managed identity or user, by name
//	SELECT * FROM pgaadauth_create_principal_with_oid('deployer', '<object id>', 'service', false, false);
//
// then grant the role what the deployment needs (CREATEDB for pgmi to
// create a missing target, ownership or privileges on the target
// database).
//
// # Errors
//
// All are *fault.Error kinds as connect reports them:
//
//   - fault.Config (exit 10): no user, sslmode disable, a Unix socket, a
//     service principal or workload identity without a tenant, an
//     unreadable or invalid certificate, an invalid AZURE_TOKEN_CREDENTIALS;
//   - fault.Connection (exit 11): no token (the message names the identity
//     and what to check, then azidentity's reasons, for the default chain
//     one per source), or the server rejecting the token (check the
//     principal mapping and the user name). Token failures are not retried
//     by connect: azidentity has retried its own requests;
//   - fault.Timeout (exit 16) when the deadline expires meanwhile.
//
// No message contains a token, a client secret, a certificate password or
// the managed identity header.
package entra
