// Package cloudsql adds Cloud SQL for PostgreSQL with IAM database
// authentication to pgmi: connections go through Google's Cloud SQL Go
// connector (cloud.google.com/go/cloudsqlconn), which authorises them with
// the Cloud SQL Admin API and opens a TLS 1.3 tunnel with an ephemeral
// client certificate to the instance. Importing the package registers the
// AuthMethod ("google") method; only binaries that deploy to Google
// Cloud import it, so no other binary links Google's SDK.
//
//	import _ "github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
//
// # Settings
//
// From connect.Config (resolved from flags, PGMI_* variables or pgmi.yaml):
//
//   - SettingInstance (--google-instance, PGMI_GOOGLE_INSTANCE,
//     connection.google_instance): the instance connection name
//     project:region:instance, or example.com:project:region:instance for a
//     domain-scoped project. `gcloud sql instances describe INSTANCE
//     --format='value(connectionName)'` prints it.
//   - SettingIPType (--google-ip-type, PGMI_GOOGLE_IP_TYPE): public
//     (the default), private (from inside the instance's VPC: Cloud Run and
//     functions need Direct VPC egress or a Serverless VPC Access connector)
//     or psc (Private Service Connect).
//   - User (-U, PGUSER): the IAM database user. For a service account it is
//     the e-mail without ".gserviceaccount.com" (deployer@my-project.iam for
//     deployer@my-project.iam.gserviceaccount.com); for a Google account, the
//     e-mail. A service account's full e-mail (ending in .gserviceaccount.com)
//     is trimmed to its user, so -U $SA_EMAIL works.
//   - Database and maintenance database as usual. Host, port, password,
//     sslmode and certificate settings are not used: the connector chooses
//     the address, provides TLS, and the login is the IAM token.
//
// All three are checked before anything is contacted.
//
// From the process environment, like Google's own variables below:
// PGMI_CLOUDSQL_ADMIN_API_ENDPOINT (AdminAPIEndpointVar) replaces the Admin
// API's base URL, https://sqladmin.googleapis.com/, with a Private Service
// Connect endpoint for Google APIs or a local fake. It must be an http or
// https URL, is checked before the first connection, and selects no auth
// method.
//
// # Identity
//
// Application Default Credentials, found the way Google's libraries find
// them: the file named by GOOGLE_APPLICATION_CREDENTIALS (service account
// key, workload identity federation, impersonation), else gcloud's
// $HOME/.config/gcloud/application_default_credentials.json (from `gcloud
// auth application-default login`), else the metadata server of Compute
// Engine, Cloud Run or Cloud Run functions (GCE_METADATA_HOST overrides its
// address). Two tokens come from that identity: one with the
// sqlservice.admin scope for the Admin API, one with sqlservice.login that
// the connector sends with each certificate request as the IAM login.
// Other variables Google's libraries read: GOOGLE_CLOUD_UNIVERSE_DOMAIN,
// GOOGLE_CLOUD_QUOTA_PROJECT, HTTPS_PROXY for the API calls, and ALL_PROXY
// for the connection to the instance. pgmi itself reads none of them.
//
// # Connections
//
// A factory (NewFactory; the registered one has default Options) makes its
// dialer at the first connection of the first Target that uses it, never at
// init, with IAM authentication, lazy refresh (a certificate is fetched when
// a connection needs one, which suits serverless runtimes whose CPU is
// throttled between requests) and the connector's built-in metrics off. The
// dialer, and with it the cached certificate, is shared by the factory's
// open Targets; Target.Close releases a Target's share and the last one
// closes the dialer. Every physical connection is dialled through it (the
// certificate is renewed before it or its token expires), with the
// connector's own retries of 5xx answers; pgmi retries what stays transient.
// An open session outlives its token.
//
// # Database-side setup
//
//   - Turn IAM authentication on for the instance: database flag
//     cloudsql.iam_authentication=on.
//   - Create the IAM database user: `gcloud sql users create
//     deployer@my-project.iam --instance=INSTANCE
//     --type=cloud_iam_service_account` (cloud_iam_user for a Google account).
//   - Grant the identity, in the instance's project, the Cloud SQL Client
//     role (roles/cloudsql.client: use the Admin API to connect) and the
//     Cloud SQL Instance User role (roles/cloudsql.instanceUser: log in as
//     IAM user). The Cloud SQL Admin API (sqladmin.googleapis.com) must be
//     enabled in the project.
//   - A new IAM user has no privileges in PostgreSQL. Grant what deploys
//     need, as the postgres user: for example
//     GRANT CONNECT, CREATE ON DATABASE app TO "deployer@my-project.iam", or
//     ALTER ROLE "deployer@my-project.iam" CREATEDB so that pgmi can create
//     the target; --overwrite drops it, which PostgreSQL allows its owner
//     (or a member of the owning role) only.
//
// # Errors
//
// Errors carry fault kinds (the CLI's exit codes in brackets):
//
//   - fault.Config (10): a missing or malformed instance connection name, an
//     unknown IP type or a missing user (all before any network), and what
//     the connector itself calls a configuration error: the region in the name differs from the
//     instance's, or the instance has no address of the requested type.
//   - fault.Connection (11): no usable credentials; a token the metadata
//     server or credentials could not give; the Admin API refusing (403:
//     missing role, disabled API, or an instance or project the identity
//     cannot see, which the real API also answers with 403; 404; 401); the
//     instance unreachable on its address; PostgreSQL refusing the login.
//     Messages name the instance, the identity when it is known, and what
//     to check. 5xx and 429 answers, unreachable instances and failing
//     metadata servers are retried; refusals are not.
//   - A deadline or interrupt while connecting stays a timeout (16) or an
//     interrupt (130).
//
// No message contains a token: errors are redacted, and tokens never pass
// through pgx's password.
package cloudsql
