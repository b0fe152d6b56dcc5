package azurefake

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ManagedIdentity is an App Service style managed identity endpoint.
type ManagedIdentity struct {
	// URL and Header are the IDENTITY_ENDPOINT and IDENTITY_HEADER values.
	URL, Header string

	mu       sync.Mutex
	tokens   map[string]string // by client id; "" is the system-assigned identity
	fail     int
	failBody string
	requests []MIRequest
}

// MIRequest is what one token request carried.
type MIRequest struct {
	APIVersion, Resource, ClientID, ResourceID, ObjectID string
	HeaderOK                                             bool // X-IDENTITY-HEADER matched
}

// StartManagedIdentity serves tokens until tb ends. No identity has a token
// until SetToken gives it one.
func StartManagedIdentity(tb testing.TB) *ManagedIdentity {
	tb.Helper()
	m := &ManagedIdentity{Header: "identity-header-" + randomID(), tokens: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(m.serve))
	tb.Cleanup(srv.Close)
	m.URL = srv.URL + "/msi/token"
	return m
}

// Use points azidentity at the endpoint through the environment.
func (m *ManagedIdentity) Use(tb testing.TB) {
	tb.Setenv("IDENTITY_ENDPOINT", m.URL)
	tb.Setenv("IDENTITY_HEADER", m.Header)
}

// SetToken makes the endpoint issue token to the identity with clientID
// ("" for the system-assigned identity).
func (m *ManagedIdentity) SetToken(clientID, token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens[clientID] = token
}

// Fail makes every request answer status with body.
func (m *ManagedIdentity) Fail(status int, body string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail, m.failBody = status, body
}

// Requests returns the requests seen so far.
func (m *ManagedIdentity) Requests() []MIRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]MIRequest(nil), m.requests...)
}

func (m *ManagedIdentity) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := MIRequest{
		APIVersion: q.Get("api-version"), Resource: q.Get("resource"), ClientID: q.Get("client_id"),
		ResourceID: q.Get("mi_res_id"), ObjectID: q.Get("object_id"),
		HeaderOK: r.Header.Get("X-IDENTITY-HEADER") == m.Header,
	}
	m.mu.Lock()
	m.requests = append(m.requests, req)
	fail, failBody := m.fail, m.failBody
	id := req.ClientID + req.ResourceID + req.ObjectID
	token, known := m.tokens[id]
	m.mu.Unlock()
	switch {
	case fail != 0:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fail)
		w.Write([]byte(failBody))
	case !req.HeaderOK:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401, "message": "X-IDENTITY-HEADER is missing or wrong"})
	case req.APIVersion != "2019-08-01" || req.Resource == "":
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": "api-version 2019-08-01 and resource are required"})
	case !known:
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": "No managed identity found for specified ClientId/ResourceId/PrincipalId."})
	default:
		writeJSON(w, http.StatusOK, map[string]string{
			"access_token": token,
			"expires_on":   strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10),
			"resource":     req.Resource,
			"token_type":   "Bearer",
			"client_id":    req.ClientID,
		})
	}
}
