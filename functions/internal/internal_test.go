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
	ok := `{"action":"reset","bundle":"s3://bkt/app/1.tgz","version":"v1","database":"app_dev","schedule":"arn@2026-11-25T02:00:00Z"}`
	req, err := ParsePayload([]byte(ok), "aws", "scheduler")
	if err != nil {
		t.Fatal(err)
	}
	if req.Action != deploy.ActionReset || req.Bundle != "s3://bkt/app/1.tgz" || req.Version != "v1" || req.Database != "app_dev" ||
		req.Trigger.Schedule != "arn@2026-11-25T02:00:00Z" || req.Trigger.Platform != "aws" || req.Trigger.Source != "scheduler" {
		t.Fatalf("request %+v", req)
	}
	for name, bad := range map[string]string{
		"typo":            `{"action":"deploy","bundel":"s3://bkt/k"}`,
		"unknown action":  `{"action":"migrate","bundle":"s3://bkt/k"}`,
		"deploy no url":   `{"action":"deploy"}`,
		"reset no db":     `{"action":"reset","bundle":"s3://bkt/k"}`,
		"two values":      `{"action":"deploy","bundle":"s3://bkt/k"} {}`,
		"not an object":   `["deploy"]`,
		"bad bundle URL":  `{"action":"deploy","bundle":"no-scheme"}`,
		"bucket, no key":  `{"action":"deploy","bundle":"s3://bucket"}`,
		"empty action":    `{"action":"","bundle":"s3://bkt/k"}`,
		"action not text": `{"action":1,"bundle":"s3://bkt/k"}`,
	} {
		if _, err := ParsePayload([]byte(bad), "aws", "direct"); err == nil {
			t.Errorf("%s: %s accepted", name, bad)
		}
	}
	if IsPayload([]byte(`{"Records":[]}`)) || !IsPayload([]byte(`{"action":"deploy"}`)) {
		t.Error("IsPayload")
	}
}

// An action payload is exactly one JSON value, white space around it
// allowed. This pins that anything after it is refused with the "more than
// one JSON value" error, including a stray ']' or '}', before which
// json.Decoder.More reports no more values.
func TestParsePayloadRefusesTrailingData(t *testing.T) {
	const payload = `{"action":"deploy","bundle":"s3://bkt/app/r1.tgz"}`
	for _, tail := range []string{"]", "}", "]]}", " \n}", "{}", " 1", "x"} {
		req, err := ParsePayload([]byte(payload+tail), "aws", "direct")
		if err == nil || err.Error() != "invalid action payload: more than one JSON value" {
			t.Errorf("%s: %s %s, error %v; want invalid action payload: more than one JSON value", payload+tail, req.Action, req.Bundle, err)
		}
	}
	for _, ws := range []string{"", "\n", " \t\r\n "} {
		if _, err := ParsePayload([]byte(ws+payload+ws), "aws", "direct"); err != nil {
			t.Errorf("%q around the payload: %v", ws, err)
		}
	}
}

// The bucket part of a payload's bundle URL is opened as a gocloud bucket
// URL, so a '?' there would turn the rest into driver parameters
// (endpoint=…, universe_domain=…, domain=…) and send the fetch elsewhere.
// This pins that such a payload is refused, on every scheme, with an error
// naming the bucket.
func TestParsePayloadRefusesBundleBucketWithParameters(t *testing.T) {
	for _, bundle := range []string{
		"s3://bundles?endpoint=https%3A%2F%2Fevil.example&use_path_style=true/app/r1.tgz",
		"gs://bundles?universe_domain=evil.example&anonymous=true/app/r1.tgz",
		"azblob://bundles?domain=evil.example&protocol=https/app/r1.tgz",
		"file:///srv/bundles?create_dir=true/app/r1.tgz",
		"s3://bundles#x/app/r1.tgz",
	} {
		raw := `{"action":"deploy","bundle":"` + bundle + `"}`
		req, err := ParsePayload([]byte(raw), "aws", "direct")
		if err == nil || !strings.Contains(err.Error(), "invalid action payload: invalid bundle URL") {
			t.Errorf("%s: accepted as %q (error %v), want an invalid bundle URL error", raw, req.Bundle, err)
		}
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
			Report: &deploy.Report{Outcome: deploy.StatusFailed, Action: deploy.ActionDeploy, Bundle: deploy.BundleInfo{URL: "s3://bkt/k", Key: "k"}}}
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
		`{"action":"deploy","bundle":"s3://bkt/k"}`,
		`{"action":"reset","bundle":"gs://bkt/a b.tgz","version":"1","database":"d","schedule":"s"}`,
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
