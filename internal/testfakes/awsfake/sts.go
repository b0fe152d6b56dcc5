package awsfake

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// STS is a loopback Security Token Service that answers AssumeRole.
type STS struct {
	// URL is the AWS_ENDPOINT_URL_STS value.
	URL string
	// Issued are the credentials AssumeRole returns.
	Issued Credentials
	// Deny, when set, refuses every AssumeRole with AccessDenied.
	Deny bool

	mu    sync.Mutex
	calls []AssumeRoleCall
}

// AssumeRoleCall is what one AssumeRole request carried.
type AssumeRoleCall struct {
	RoleARN, RoleSessionName string
	// From the SigV4 Authorization header and X-Amz-Security-Token: which
	// credentials signed the call, for which service and region.
	SigningKeyID, SigningService, SigningRegion, SecurityToken string
}

// StartSTS serves AssumeRole until tb ends.
func StartSTS(tb testing.TB) *STS {
	tb.Helper()
	s := &STS{Issued: NewCredentials(900)}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Use points the SDK's STS client at the fake through the environment.
func (s *STS) Use(tb testing.TB) { tb.Setenv("AWS_ENDPOINT_URL_STS", s.URL) }

// Calls returns the AssumeRole requests seen so far.
func (s *STS) Calls() []AssumeRoleCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]AssumeRoleCall(nil), s.calls...)
}

func (s *STS) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		stsError(w, http.StatusBadRequest, "InvalidRequest", "expected a POSTed form")
		return
	}
	if r.PostForm.Get("Action") != "AssumeRole" || r.PostForm.Get("Version") != "2011-06-15" {
		stsError(w, http.StatusBadRequest, "InvalidAction", "only AssumeRole (2011-06-15) is served")
		return
	}
	call := AssumeRoleCall{
		RoleARN:         r.PostForm.Get("RoleArn"),
		RoleSessionName: r.PostForm.Get("RoleSessionName"),
		SecurityToken:   r.Header.Get("X-Amz-Security-Token"),
	}
	call.SigningKeyID, call.SigningRegion, call.SigningService = sigV4Scope(r.Header.Get("Authorization"))
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if s.Deny {
		stsError(w, http.StatusForbidden, "AccessDenied", fmt.Sprintf("not authorized to perform sts:AssumeRole on resource: %s", call.RoleARN))
		return
	}
	s.assumed(w, call)
}

// sigV4Scope reads "Credential=AKID/date/region/service/aws4_request".
func sigV4Scope(authz string) (keyID, region, service string) {
	_, rest, ok := strings.Cut(authz, "Credential=")
	if !ok {
		return "", "", ""
	}
	scope, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(scope, "/")
	if len(parts) != 5 {
		return "", "", ""
	}
	return parts[0], parts[2], parts[3]
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type assumeRoleResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result  struct {
		Credentials stsCredentials `xml:"Credentials"`
		User        struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
	} `xml:"AssumeRoleResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func (s *STS) assumed(w http.ResponseWriter, call AssumeRoleCall) {
	var resp assumeRoleResponse
	resp.Result.Credentials = stsCredentials{
		AccessKeyID: s.Issued.AccessKeyID, SecretAccessKey: s.Issued.SecretAccessKey,
		SessionToken: s.Issued.SessionToken, Expiration: s.Issued.Expiration.Format(time.RFC3339),
	}
	resp.Result.User.Arn = strings.NewReplacer(":iam::", ":sts::", ":role/", ":assumed-role/").Replace(call.RoleARN) + "/" + call.RoleSessionName
	resp.Result.User.AssumedRoleID = "AROAPGMITEST:" + call.RoleSessionName
	resp.RequestID = "pgmi-fake-" + randomString(8, digits)
	w.Header().Set("Content-Type", "text/xml")
	xml.NewEncoder(w).Encode(resp)
}

type errorResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	var e errorResponse
	e.Error.Type, e.Error.Code, e.Error.Message = "Sender", code, msg
	e.RequestID = "pgmi-fake-" + randomString(8, digits)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	xml.NewEncoder(w).Encode(e)
}
