package internal

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

func TestParsePayload(t *testing.T) {
	ok := `{"action":"reset","bundle":"s3://b/app/1.tgz","version":"v1","database":"app_dev","schedule":"arn@2026-11-25T02:00:00Z"}`
	req, err := ParsePayload([]byte(ok), "aws", "scheduler")
	if err != nil {
		t.Fatal(err)
	}
	if req.Action != deploy.ActionReset || req.Bundle != "s3://b/app/1.tgz" || req.Version != "v1" || req.Database != "app_dev" ||
		req.Trigger.Schedule != "arn@2026-11-25T02:00:00Z" || req.Trigger.Platform != "aws" || req.Trigger.Source != "scheduler" {
		t.Fatalf("request %+v", req)
	}
	for name, bad := range map[string]string{
		"typo":            `{"action":"deploy","bundel":"s3://b/k"}`,
		"unknown action":  `{"action":"migrate","bundle":"s3://b/k"}`,
		"deploy no url":   `{"action":"deploy"}`,
		"reset no db":     `{"action":"reset","bundle":"s3://b/k"}`,
		"two values":      `{"action":"deploy","bundle":"s3://b/k"} {}`,
		"not an object":   `["deploy"]`,
		"bad bundle URL":  `{"action":"deploy","bundle":"no-scheme"}`,
		"bucket, no key":  `{"action":"deploy","bundle":"s3://bucket"}`,
		"empty action":    `{"action":"","bundle":"s3://b/k"}`,
		"action not text": `{"action":1,"bundle":"s3://b/k"}`,
	} {
		if _, err := ParsePayload([]byte(bad), "aws", "direct"); err == nil {
			t.Errorf("%s: %s accepted", name, bad)
		}
	}
	if IsPayload([]byte(`{"Records":[]}`)) || !IsPayload([]byte(`{"action":"deploy"}`)) {
		t.Error("IsPayload")
	}
}

func TestLoggerFieldsAndRedaction(t *testing.T) {
	for _, tc := range []struct {
		format Format
		warn   string
	}{{LambdaFormat, "WARN"}, {CloudLoggingFormat, "WARNING"}, {AzureFormat, "WARN"}} {
		var buf bytes.Buffer
		log := NewLogger(&buf, "test", tc.format, false)
		log.Debug("hidden")
		log.Warn("connecting to postgresql://deployer:hunter2@db/app")
		o := &deploy.Outcome{Status: deploy.StatusFailed, Retryable: true, Err: errors.New("password=hunter2 refused"),
			Report: &deploy.Report{Outcome: deploy.StatusFailed, Action: deploy.ActionDeploy, Bundle: deploy.BundleInfo{URL: "s3://b/k", Key: "k"}}}
		LogOutcome(log, o)
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d lines (debug must be off): %q", len(lines), lines)
		}
		if strings.Contains(buf.String(), "hunter2") {
			t.Fatalf("a secret reached the log: %s", buf.String())
		}
		var warn, outcome map[string]any
		if json.Unmarshal([]byte(lines[0]), &warn) != nil || json.Unmarshal([]byte(lines[1]), &outcome) != nil {
			t.Fatalf("not JSON: %q", lines)
		}
		if warn[tc.format.Field] != tc.warn || outcome[tc.format.Field] != tc.warn || outcome["outcome"] != "failed" || outcome["retryable"] != true {
			t.Fatalf("%s: %v / %v", tc.format.Field, warn, outcome)
		}
	}
}

func TestRetryError(t *testing.T) {
	rep := &deploy.Report{Outcome: deploy.StatusFailed, Bundle: deploy.BundleInfo{Key: "k"}}
	if RetryError(&deploy.Outcome{Status: deploy.StatusFailed, Report: rep}) != nil {
		t.Error("a permanent failure asked for a retry")
	}
	cause := errors.New("connection refused")
	err := RetryError(&deploy.Outcome{Status: deploy.StatusFailed, Retryable: true, Err: cause, Report: rep})
	if err == nil || !errors.Is(err, cause) {
		t.Errorf("retryable outcome: %v", err)
	}
}

// Any bytes give a valid Request or an error, never a panic.
func FuzzParsePayload(f *testing.F) {
	for _, seed := range []string{
		`{"action":"deploy","bundle":"s3://b/k"}`,
		`{"action":"reset","bundle":"gs://b/a b.tgz","version":"1","database":"d","schedule":"s"}`,
		`{"action":"deploy","bundle":"file:///x/y.tgz"}`, `{}`, `null`, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := ParsePayload(data, "aws", "direct")
		if err == nil {
			if verr := req.Validate(); verr != nil {
				t.Fatalf("accepted an invalid request %+v: %v", req, verr)
			}
		}
	})
}
