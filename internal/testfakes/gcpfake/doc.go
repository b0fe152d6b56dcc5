// Package gcpfake stands up the Google Cloud endpoints a Cloud SQL
// connection touches, on loopback, speaking the real protocols, so the real
// cloud.google.com/go/cloudsqlconn and Google auth libraries run against
// them and a real PostgreSQL checks the login:
//
//   - Metadata (StartMetadata): the GCE metadata server, the ambient
//     identity of Compute Engine, Cloud Run and Cloud Run functions. Use
//     points Application Default Credentials at it (GCE_METADATA_HOST) and
//     hides every other credential source with t.Setenv. It hands out one
//     access token per set of scopes and knows each token's scopes.
//   - AdminAPI (StartAdmin): the Cloud SQL Admin API methods the connector
//     calls, connectSettings and generateEphemeralCert, over plain HTTP
//     (cloudsqlconn.WithAdminAPIEndpoint accepts it), with bearer-token and
//     login-token scope checks. An unknown instance answers 403
//     notAuthorized, like the real API. Faults in front of it inject other
//     answers (APIError builds Google's JSON error body).
//   - Instance (AdminAPI.AddInstance): a Cloud SQL instance with public,
//     private and PSC addresses. Each address has a server-side proxy, a TLS
//     1.3 listener requiring a client certificate the Admin API issued for
//     that instance (server certificate CN project:instance, the PSC name as
//     a SAN, signed by the CA connectSettings returns). The connector always
//     dials port 3307. Two ways to reach the proxies: give an instance
//     loopback addresses (LoopbackIP), where each proxy listens on port 3307
//     itself, so a connector with no hook at all (a shipped binary under
//     test, pointed at the fake by PGMI_CLOUDSQL_ADMIN_API_ENDPOINT) gets
//     there; or use any address and AdminAPI.DialFunc (in DialerOptions,
//     with WithBuiltInMetrics(false)), which routes each address to its
//     listener and records it, so a test sees which address type was used.
//     InstanceConfig.Down leaves an instance without proxies.
//
// The proxy stands in for Cloud SQL's IAM database login: when the client
// certificate was requested with an access token, the proxy logs in to the
// instance's PostgreSQL as the startup message's user with that token as
// the password (so PostgreSQL's scram check is what accepts or refuses the
// token), then answers the client as a server that needed no password and
// splices the two connections. Cancel requests are forwarded. Without an
// access token it relays the client's own authentication.
//
// Simplifications: no metadata exchange (the instances do not advertise
// mdxProtocolSupport), no CAS-mode server certificates other than the PSC
// SAN, no custom DNS names, PostgreSQL wire protocol 3.0 towards the server.
// Which status the real API uses for a login token without the
// sqlservice.login scope is not known here; the fake answers 400.
package gcpfake
