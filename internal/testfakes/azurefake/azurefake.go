// Package azurefake serves the Microsoft Entra ID endpoints pgmi's azure
// provider reaches through azidentity, on loopback, so the real SDK (and
// MSAL inside it) runs against them:
//
//   - ManagedIdentity: the App Service / Azure Functions managed identity
//     endpoint (IDENTITY_ENDPOINT, IDENTITY_HEADER, api-version
//     2019-08-01), for system- and user-assigned identities;
//   - Authority: an Entra ID tenant's OpenID configuration and v2.0 token
//     endpoint over TLS (MSAL refuses an authority that is not https), for
//     service principals (client secret or certificate) and workload
//     identity (a federated token as client assertion).
//
// Tokens are random strings shaped like JWTs, a few kilobytes long as real
// ones are, so a test can make one a PostgreSQL role's password.
//
// Isolate clears the machine's Azure identity variables from a test's
// environment (with t.Setenv).
package azurefake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
)

// Isolate unsets every variable azidentity reads to pick or configure a
// credential, so only what the test sets takes part. (Unset, not empty:
// azidentity refuses an empty AZURE_TOKEN_CREDENTIALS.) t.Setenv restores
// them when the test ends.
func Isolate(tb testing.TB) {
	tb.Helper()
	for _, name := range []string{
		"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", "AZURE_USERNAME", "AZURE_PASSWORD",
		"AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "AZURE_TOKEN_CREDENTIALS", "AZURE_ADDITIONALLY_ALLOWED_TENANTS",
		"AZURE_REGIONAL_AUTHORITY_NAME", "AZURE_KUBERNETES_TOKEN_PROXY",
		"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET",
		"PGMI_AZURE_TENANT_ID", "PGMI_AZURE_CLIENT_ID",
	} {
		tb.Setenv(name, "")
		os.Unsetenv(name)
	}
	// The Azure CLI keeps its login here: an empty directory means none.
	tb.Setenv("AZURE_CONFIG_DIR", tb.TempDir())
}

// NewToken returns a random access token shaped like a JWT, of about n
// bytes, naming subject in its claims.
func NewToken(subject string, n int) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256","kid":"pgmi-fake"}`))
	filler := make([]byte, max(n*3/4-200, 16))
	rand.Read(filler)
	claims, _ := json.Marshal(map[string]string{
		"aud": "https://ossrdbms-aad.database.windows.net", "iss": "https://sts.windows.net/pgmi-fake/",
		"sub": subject, "xms_pgmi_fill": enc.EncodeToString(filler),
	})
	sig := make([]byte, 256)
	rand.Read(sig)
	return header + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString(sig)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NewID returns a random GUID, for tenant and client ids.
func NewID() string { return randomID() }
