package gcpfake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
)

// Scopes the Cloud SQL connector asks the metadata server for.
const (
	ScopeCloudPlatform = "https://www.googleapis.com/auth/cloud-platform"
	ScopeSQLAdmin      = "https://www.googleapis.com/auth/sqlservice.admin"
	ScopeSQLLogin      = "https://www.googleapis.com/auth/sqlservice.login"
)

// TokenLifetime is the expires_in the metadata server reports, in seconds.
const TokenLifetime = 3599

// Metadata is a loopback GCE metadata server: the ambient identity of a
// Compute Engine VM, a Cloud Run service or a Cloud Run function. Google's
// client libraries use it when GCE_METADATA_HOST names it (Use sets that).
//
// It hands out one access token per set of scopes (the same token every
// time, so a test can make it a PostgreSQL password before anything asks
// for it), and remembers which scopes each token carries so the Admin API
// fake can refuse a token with the wrong ones.
type Metadata struct {
	URL       string            // http://127.0.0.1:port
	Host      string            // 127.0.0.1:port, the GCE_METADATA_HOST form
	ProjectID string            // project/project-id
	Email     string            // the default service account's e-mail
	Faults    *testfakes.Faults // in front of the server

	mu       sync.Mutex
	byScopes map[string]string   // sorted, comma-joined scopes → token
	scopesOf map[string][]string // token → scopes
	tokenReq atomic.Int64
}

// StartMetadata runs a metadata server for projectID whose default service
// account is email, for the duration of the test.
func StartMetadata(tb testing.TB, projectID, email string) *Metadata {
	tb.Helper()
	m := &Metadata{
		ProjectID: projectID,
		Email:     email,
		byScopes:  map[string]string{},
		scopesOf:  map[string][]string{},
	}
	m.Faults = testfakes.NewFaults(http.HandlerFunc(m.serve))
	srv := httptest.NewServer(m.Faults)
	tb.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	m.URL, m.Host = srv.URL, u.Host
	return m
}

// Use points Google's Application Default Credentials at this server for
// the rest of the test, and hides every other source of credentials on the
// machine: GOOGLE_APPLICATION_CREDENTIALS is cleared and HOME is an empty
// directory (no gcloud application_default_credentials.json).
func (m *Metadata) Use(tb testing.TB) {
	tb.Helper()
	Isolate(tb)
	tb.Setenv("GCE_METADATA_HOST", m.Host)
}

// Isolate clears what Google's libraries read from the environment, so a
// test sees no credentials but those it sets up.
func Isolate(tb testing.TB) {
	tb.Helper()
	for _, name := range []string{
		"GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "GCE_METADATA_IP",
		"GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_QUOTA_PROJECT", "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
		"GOOGLE_API_USE_CLIENT_CERTIFICATE", "GOOGLE_API_USE_MTLS_ENDPOINT", "GOOGLE_API_USE_MTLS",
		"GOOGLE_API_USE_S2A", "GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED",
		"ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
		"PGMI_GOOGLE_INSTANCE", "PGMI_GOOGLE_IP_TYPE", "PGMI_AUTH",
	} {
		tb.Setenv(name, "")
	}
	tb.Setenv("HOME", tb.TempDir())
	tb.Setenv("CLOUDSDK_CONFIG", tb.TempDir())
}

// TokenFor returns the access token the server hands out for exactly these
// scopes, making it now if nothing has asked yet.
func (m *Metadata) TokenFor(scopes ...string) string {
	key := scopeKey(scopes)
	m.mu.Lock()
	defer m.mu.Unlock()
	if tok, ok := m.byScopes[key]; ok {
		return tok
	}
	tok := "ya29.fake-" + randomToken()
	m.byScopes[key] = tok
	m.scopesOf[tok] = strings.Split(key, ",")
	return tok
}

// Tokens lists every token the server made, for scanning output for leaks.
func (m *Metadata) Tokens() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.scopesOf))
	for tok := range m.scopesOf {
		out = append(out, tok)
	}
	sort.Strings(out)
	return out
}

// HasScope reports whether token was made by this server with scope (or
// with cloud-platform, which includes every API scope but the login one).
func (m *Metadata) HasScope(token, scope string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	scopes, ok := m.scopesOf[token]
	if !ok {
		return false
	}
	return slices.Contains(scopes, scope) ||
		(scope != ScopeSQLLogin && slices.Contains(scopes, ScopeCloudPlatform))
}

// TokenRequests counts the token requests that reached the server (a
// request a fault answered is not counted).
func (m *Metadata) TokenRequests() int { return int(m.tokenReq.Load()) }

func scopeKey(scopes []string) string {
	if len(scopes) == 0 {
		scopes = []string{ScopeCloudPlatform}
	}
	s := slices.Clone(scopes)
	sort.Strings(s)
	return strings.Join(slices.Compact(s), ",")
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (m *Metadata) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "Missing required header \"Metadata-Flavor\": \"Google\"", http.StatusForbidden)
		return
	}
	w.Header().Set("Metadata-Flavor", "Google")
	path := strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/")
	if r.URL.Path == "/" || r.URL.Path == "/computeMetadata/v1/" {
		text(w, "computeMetadata/\n")
		return
	}
	if rest, ok := strings.CutPrefix(path, "instance/service-accounts/"); ok {
		m.serveAccount(w, r, rest)
		return
	}
	switch path {
	case "project/project-id":
		text(w, m.ProjectID)
	case "project/numeric-project-id":
		text(w, "123456789012")
	case "universe/universe-domain":
		text(w, "googleapis.com")
	case "instance/zone":
		text(w, "projects/123456789012/zones/us-central1-a")
	case "instance/region":
		text(w, "projects/123456789012/regions/us-central1")
	case "instance/id":
		text(w, "1234567890123456789")
	default:
		http.NotFound(w, r)
	}
}

// serveAccount answers instance/service-accounts/{default|email}/{email,token,scopes}.
func (m *Metadata) serveAccount(w http.ResponseWriter, r *http.Request, rest string) {
	account, item, _ := strings.Cut(rest, "/")
	if account != "default" && account != m.Email {
		http.NotFound(w, r)
		return
	}
	switch item {
	case "email":
		text(w, m.Email)
	case "scopes":
		text(w, ScopeCloudPlatform+"\n")
	case "token":
		m.tokenReq.Add(1)
		var scopes []string
		if s := r.URL.Query().Get("scopes"); s != "" {
			scopes = strings.Split(s, ",")
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": m.TokenFor(scopes...),
			"expires_in":   TokenLifetime,
			"token_type":   "Bearer",
		})
	default:
		http.NotFound(w, r)
	}
}

func text(w http.ResponseWriter, s string) {
	w.Header().Set("Content-Type", "application/text")
	w.Write([]byte(s))
}
