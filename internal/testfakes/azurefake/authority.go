package azurefake

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Authority is an Entra ID authority over TLS serving any tenant. Point
// azidentity at it with AZURE_AUTHORITY_HOST=URL, trust it through Client's
// transport, and turn instance discovery off (MSAL would otherwise ask
// login.microsoftonline.com first).
type Authority struct {
	// URL is the https root, the AZURE_AUTHORITY_HOST value.
	URL string
	srv *httptest.Server

	mu       sync.Mutex
	clients  map[string]client // by client id
	requests []TokenRequest
}

type client struct {
	tenant, secret, assertion, token string
}

// TokenRequest is what one token request carried.
type TokenRequest struct {
	Tenant, ClientID, GrantType, Scope, AssertionType string
	SecretOK, AssertionOK                             bool
}

// StartAuthority serves until tb ends.
func StartAuthority(tb testing.TB) *Authority {
	tb.Helper()
	a := &Authority{clients: map[string]client{}}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	tb.Cleanup(a.srv.Close)
	a.URL = a.srv.URL
	return a
}

// Client is an HTTP client that trusts the authority's certificate.
func (a *Authority) Client() *http.Client { return a.srv.Client() }

// AddSecretClient registers an app in tenant that authenticates with
// secret and gets token.
func (a *Authority) AddSecretClient(tenant, clientID, secret, token string) {
	a.add(clientID, client{tenant: tenant, secret: secret, token: token})
}

// AddAssertionClient registers an app in tenant that authenticates with a
// client assertion: a certificate-signed JWT (assertion "") or exactly
// assertion (a federated workload identity token).
func (a *Authority) AddAssertionClient(tenant, clientID, assertion, token string) {
	a.add(clientID, client{tenant: tenant, assertion: assertion, token: token})
}

func (a *Authority) add(id string, c client) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.clients[id] = c
}

// Requests returns the token requests seen so far.
func (a *Authority) Requests() []TokenRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]TokenRequest(nil), a.requests...)
}

func (a *Authority) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[1] == "v2.0" && parts[2] == ".well-known" && parts[3] == "openid-configuration":
		a.openIDConfig(w, parts[0])
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token" && r.Method == http.MethodPost:
		a.token(w, r, parts[0])
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found", "error_description": "the fake authority does not serve " + r.URL.Path})
	}
}

func (a *Authority) openIDConfig(w http.ResponseWriter, tenant string) {
	base := a.URL + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"issuer":                                base + "/v2.0",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"code", "id_token", "token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"tenant_region_scope":                   "WW",
	})
}

func (a *Authority) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	f := r.PostForm
	req := TokenRequest{Tenant: tenant, ClientID: f.Get("client_id"), GrantType: f.Get("grant_type"), Scope: f.Get("scope"), AssertionType: f.Get("client_assertion_type")}
	a.mu.Lock()
	c, known := a.clients[req.ClientID]
	req.SecretOK = known && c.secret != "" && f.Get("client_secret") == c.secret
	req.AssertionOK = known && c.secret == "" && f.Get("client_assertion") != "" &&
		(c.assertion == "" || f.Get("client_assertion") == c.assertion)
	a.requests = append(a.requests, req)
	a.mu.Unlock()
	switch {
	case !known || c.tenant != tenant:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "unauthorized_client",
			"error_description": "AADSTS700016: Application with identifier '" + req.ClientID + "' was not found in the directory '" + tenant + "'.", "error_codes": []int{700016}})
	case !req.SecretOK && !req.AssertionOK:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client",
			"error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": []int{7000215}})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": c.token})
	}
}
