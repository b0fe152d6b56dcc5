// Package awsfake serves the two AWS identity endpoints pgmi's RDS IAM
// provider talks to, on loopback, so the real SDK runs against them:
//
//   - ContainerEndpoint: the container credentials endpoint of ECS and EKS
//     Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI with
//     AWS_CONTAINER_AUTHORIZATION_TOKEN), the SDK's ambient identity;
//   - STS: the AssumeRole action of the Security Token Service (AWS query
//     protocol), reached through AWS_ENDPOINT_URL_STS.
//
// Isolate clears every other source of the SDK's default chain from a
// test's environment (with t.Setenv), so only what the test sets is used.
package awsfake

import (
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// Credentials are temporary AWS credentials a fake hands out.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// NewCredentials makes random temporary credentials valid for an hour, with
// a session token of tokenLen characters (real ones are several hundred).
func NewCredentials(tokenLen int) Credentials {
	return Credentials{
		AccessKeyID:     "ASIA" + randomString(16, upper),
		SecretAccessKey: randomString(40, upper+lower+digits),
		SessionToken:    randomString(tokenLen, upper+lower+digits),
		Expiration:      time.Now().Add(time.Hour).UTC().Truncate(time.Second),
	}
}

const (
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower  = "abcdefghijklmnopqrstuvwxyz"
	digits = "0123456789"
)

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Isolate makes the AWS SDK's default chain see nothing of the machine:
// no credential variables, no profile, config files that do not exist, no
// region, no endpoint overrides, and instance metadata turned off.
func Isolate(tb testing.TB) {
	tb.Helper()
	for _, name := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"PGMI_AWS_REGION", "PGMI_AWS_ROLE_ARN",
	} {
		tb.Setenv(name, "")
	}
	tb.Setenv("AWS_CONFIG_FILE", "/nonexistent/pgmi-test/aws-config")
	tb.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/pgmi-test/aws-credentials")
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// ContainerEndpoint is a loopback container credentials endpoint.
type ContainerEndpoint struct {
	// URL is the AWS_CONTAINER_CREDENTIALS_FULL_URI value.
	URL string
	// AuthToken is what the SDK must send as Authorization
	// (AWS_CONTAINER_AUTHORIZATION_TOKEN).
	AuthToken string
	// Creds are handed out on every request.
	Creds Credentials

	fetches, rejected atomic.Int64
}

// StartContainerEndpoint serves random credentials until tb ends.
func StartContainerEndpoint(tb testing.TB) *ContainerEndpoint {
	tb.Helper()
	e := &ContainerEndpoint{AuthToken: "container-auth-" + randomString(24, lower+digits), Creds: NewCredentials(600)}
	srv := httptest.NewServer(http.HandlerFunc(e.serve))
	tb.Cleanup(srv.Close)
	e.URL = srv.URL + "/v2/credentials/pgmi-test"
	return e
}

// Use points the SDK at the endpoint through the environment.
func (e *ContainerEndpoint) Use(tb testing.TB) {
	tb.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", e.URL)
	tb.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", e.AuthToken)
}

// Fetches counts the requests that got credentials.
func (e *ContainerEndpoint) Fetches() int { return int(e.fetches.Load()) }

// Rejected counts the requests refused for a wrong Authorization header.
func (e *ContainerEndpoint) Rejected() int { return int(e.rejected.Load()) }

func (e *ContainerEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != e.AuthToken {
		e.rejected.Add(1)
		http.Error(w, `{"code":"AccessDenied","message":"bad authorization token"}`, http.StatusForbidden)
		return
	}
	e.fetches.Add(1)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"AccessKeyId":     e.Creds.AccessKeyID,
		"SecretAccessKey": e.Creds.SecretAccessKey,
		"Token":           e.Creds.SessionToken,
		"Expiration":      e.Creds.Expiration.Format(time.RFC3339),
		"RoleArn":         "arn:aws:iam::111111111111:role/pgmi-test-task",
	})
}

// ClosedURL is a loopback URL where nothing listens: a port that was just
// free, under path.
func ClosedURL(tb testing.TB, path string) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + path
}
