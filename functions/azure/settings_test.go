package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadSettings(t *testing.T) {
	base := map[string]string{envPort: "7071", envAccount: "pgmibundles"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		check   func(*settings) bool
		wantErr string
	}{
		{"minimal", with(), func(s *settings) bool {
			return s.addr == "127.0.0.1:7071" && s.account == "pgmibundles" && s.resetDatabase == "" && s.resetBundle == "" && !s.pgmiTimeout
		}, ""},
		{"reset", with(envResetDatabase, " app_dev ", envResetBundle, "azblob://bundles/seed/app.tgz"), func(s *settings) bool {
			return s.resetDatabase == "app_dev" && s.resetBundle == "azblob://bundles/seed/app.tgz"
		}, ""},
		{"pgmi timeout", with("PGMI_TIMEOUT", "5m"), func(s *settings) bool { return s.pgmiTimeout }, ""},
		{"account from connection string", with(envAccount, "<unset>",
			"AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=fromcs;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"),
			func(s *settings) bool { return s.account == "fromcs" }, ""},
		{"account from bucket params", with(envAccount, "<unset>", "PGMI_BUCKET_URL_PARAMS", "storage_account=fromparams"),
			func(s *settings) bool { return s.account == "fromparams" }, ""},
		{"no port", with(envPort, "<unset>"), nil, envPort + " is not set"},
		{"port zero", with(envPort, "0"), nil, envPort + `="0" is not a TCP port`},
		{"port too big", with(envPort, "65536"), nil, "not a TCP port"},
		{"no account", with(envAccount, "<unset>"), nil, envAccount + " is not set"},
		{"reset bundle other cloud", with(envResetBundle, "gs://bundles/app.tgz"), nil, envResetBundle},
		{"reset bundle no key", with(envResetBundle, "azblob://bundles"), nil, "want azblob://<container>/<blob>"},
		{"reset bundle with query", with(envResetBundle, "azblob://bundles/app.tgz?domain=x"), nil, "PGMI_BUCKET_URL_PARAMS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := loadSettings(envOf(tc.env), t.TempDir())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(s) {
				t.Fatalf("settings %+v", s)
			}
		})
	}
}

func TestReadFunctionTimeout(t *testing.T) {
	tests := []struct {
		hostJSON string // "" = no host.json
		want     time.Duration
		warn     string
	}{
		{"", 0, ""},
		{`{"version":"2.0"}`, 0, ""},
		{`{"version":"2.0","functionTimeout":"00:10:00"}`, 10 * time.Minute, ""},
		{`{"functionTimeout":"-1"}`, 0, ""},
		{`{"functionTimeout":"1.02:00:00"}`, 26 * time.Hour, ""},
		{`{"functionTimeout":"ten minutes"}`, 0, "functionTimeout"},
		{`{ // a comment the host accepts
		   "functionTimeout":"00:05:00"}`, 0, "cannot parse host.json"},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		if tc.hostJSON != "" {
			if err := os.WriteFile(filepath.Join(dir, hostJSONFile), []byte(tc.hostJSON), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := readFunctionTimeout(dir)
		if got != tc.want || (tc.warn == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.warn)) {
			t.Errorf("%s: got %v, %v; want %v, warning %q", tc.hostJSON, got, err, tc.want, tc.warn)
		}
	}
	// The app's own host.json gives the deadline the README promises.
	if got, err := readFunctionTimeout("."); got != 30*time.Minute || err != nil {
		t.Errorf("host.json: functionTimeout %v, %v; want 30m", got, err)
	}
}

func TestParseTimeSpan(t *testing.T) {
	good := map[string]time.Duration{
		"00:00:05":     5 * time.Second,
		"00:05:00":     5 * time.Minute,
		"01:00:00":     time.Hour,
		"00:00:01.5":   1500 * time.Millisecond,
		"2.00:00:00":   48 * time.Hour,
		" 00:10:00 ":   10 * time.Minute,
		"-1":           0,
		"-1.00:00:00":  0,
		"23:59:59.999": 24*time.Hour - time.Millisecond,
	}
	for in, want := range good {
		if got, err := parseTimeSpan(in); err != nil || got != want {
			t.Errorf("parseTimeSpan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5m", "00:00", "00:60:00", "24:00:00", "00:00:00", "x.00:00:01", "-2.00:00:00", "00:-1:00", "1:2:3:4"} {
		if got, err := parseTimeSpan(in); err == nil {
			t.Errorf("parseTimeSpan(%q) = %v, want an error", in, got)
		}
	}
}
