package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go/logging"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

const testInvocation = "0c5d7e2f-8a41-4b6c-9d3e-1f2a3b4c5d6e"

// want is an expected item; Err is a substring of the item's error, and
// EventID, when set, the event id the error carries for the log line.
type want struct {
	Request   deploy.Request
	Ignore    string
	Err       string
	MessageID string
	EventID   string
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func s3Trigger(eventID, at string) deploy.Trigger {
	return deploy.Trigger{Platform: "aws", Source: "s3", EventID: eventID, InvocationID: testInvocation, Time: ts(at)}
}

func sqsTrigger(eventID, at string) deploy.Trigger {
	t := s3Trigger(eventID, at)
	t.Source = "sqs"
	return t
}

func deployOf(bundle, version, sequencer string, trig deploy.Trigger) deploy.Request {
	return deploy.Request{Action: deploy.ActionDeploy, Bundle: bundle, Version: version, Sequencer: sequencer, Trigger: trig}
}

func TestParseEventFixtures(t *testing.T) {
	tests := []struct {
		file    string
		wantSQS bool
		want    []want
	}{
		{file: "s3-put.json", want: []want{{Request: deployOf(
			"s3://bundles/app/releases/app 1.4+hotfix.tgz", "Lk8yUKwQ2nB.5mJx0sQ9cYvFtR3pZa7e", "0064A1C3F2B7D910AE",
			s3Trigger("8F3B2C7D41E90A65:0064A1C3F2B7D910AE", "2026-11-25T09:14:03.512Z"))}}},
		{file: "s3-multi.json", want: []want{
			{Request: deployOf("s3://bundles/billing/2026-11/billing.tgz", "wq0Zr8N6Xy1vT4uB.eKd3mHs9LpA2cFj", "0064A1C5A8E3B2C1F4",
				s3Trigger("1A2B3C4D5E6F7081:0064A1C5A8E3B2C1F4", "2026-11-25T09:20:11.004Z"))},
			{Request: deployOf("s3://bundles/reports/nightly.tgz", "", "0064A1C5A8F0113D27",
				s3Trigger("1A2B3C4D5E6F7082:0064A1C5A8F0113D27", "2026-11-25T09:20:11.380Z"))},
		}},
		{file: "s3-delete.json", want: []want{{Ignore: "ObjectRemoved:Delete is not an upload"}}},
		{file: "s3-test-event.json", want: []want{{Ignore: "s3:TestEvent"}}},
		{file: "s3-bad-escape.json", want: []want{
			{Err: `S3 record 0: object key "app/releases/100%zz.tgz" is not URL-encoded correctly`, EventID: "77AA0B1C2D3E4F50:0064A1CA11E0F2D3A4"},
			{Request: deployOf("s3://bundles/app/releases/app 1.5.tgz", "c8Zy.rO3dS6uX9aB2eG5hI8kL1nQ4tWv", "0064A1CA11E1A0B9C8",
				s3Trigger("77AA0B1C2D3E4F51:0064A1CA11E1A0B9C8", "2026-11-25T09:40:00.120Z"))},
		}},
		{file: "eventbridge-object-created.json", want: []want{{Request: deployOf(
			"s3://bundles/app/releases/app 1.4+hotfix.tgz", "Lk8yUKwQ2nB.5mJx0sQ9cYvFtR3pZa7e", "0064A1C3F2B7D910AE",
			deploy.Trigger{Platform: "aws", Source: "eventbridge", EventID: "c1f7a6de-3b52-4e0a-9d8c-5f2e61b0a7d4",
				InvocationID: testInvocation, Time: ts("2026-11-25T09:14:04Z")})}}},
		{file: "eventbridge-object-deleted.json", want: []want{{Ignore: `"Object Deleted" is not an upload`}}},
		{file: "sqs-s3.json", wantSQS: true, want: []want{
			{MessageID: "5f0c7a2e-9b1d-4e38-a6c4-2d8e1f7b3a90", Request: deployOf(
				"s3://bundles/app/releases/app 1.4.tgz", "dA9z.sP4eT7vY0bC3fH6iJ9lM2oR5uXw", "0064A1D0B4C3D2E1F0",
				sqsTrigger("AB12CD34EF56A789:0064A1D0B4C3D2E1F0", "2026-11-25T10:00:00.100Z"))},
			{MessageID: "9e3d1b4c-7a2f-4c85-b0e6-4f1a8d2c6b17", Request: deployOf(
				"s3://bundles/billing/releases/billing 2.0.tgz", "eB0a.tQ5fU8wZ1cD4gI7jK0mN3pS6vYx", "0064A1D0B7E2F3A4B5",
				sqsTrigger("AB12CD34EF56A78A:0064A1D0B7E2F3A4B5", "2026-11-25T10:00:02.900Z"))},
			{MessageID: "9e3d1b4c-7a2f-4c85-b0e6-4f1a8d2c6b17", Ignore: "ObjectRemoved:DeleteMarkerCreated is not an upload"},
		}},
		{file: "sqs-eventbridge.json", wantSQS: true, want: []want{{MessageID: "a2b4c6d8-1e3f-4a5b-8c7d-9e0f1a2b3c4d",
			Request: deployOf("s3://bundles/app/releases/app 1.4.tgz", "gD2c.vS7hW0yB3eF6iK9lM2oP5rU8xAz", "0064A1D1E5F4A3B2C1",
				deploy.Trigger{Platform: "aws", Source: "sqs", EventID: "3e8f2a1b-6c4d-4b7e-9a0f-1d2c3b4a5e6f",
					InvocationID: testInvocation, Time: ts("2026-11-25T10:05:00Z")})}}},
		{file: "sqs-test-event.json", wantSQS: true, want: []want{
			{MessageID: "b7c9d1e3-5f70-4a92-8b14-c6d8e0f2a4b6", Ignore: "s3:TestEvent"}}},
		{file: "sqs-bad-body.json", wantSQS: true, want: []want{
			{MessageID: "c0d2e4f6-0819-4b3c-9d5e-7f9a1b3c5d7e", Err: "SQS message c0d2e4f6-0819-4b3c-9d5e-7f9a1b3c5d7e: unrecognised event: not a JSON object"},
			{MessageID: "d1e3f5a7-192a-4c4d-8e6f-8a0b2c4d6e8f", Request: deploy.Request{
				Action: deploy.ActionDeploy, Bundle: "s3://bundles/app/releases/app 1.4.tgz", Database: "app",
				Trigger: deploy.Trigger{Platform: "aws", Source: "sqs", EventID: "d1e3f5a7-192a-4c4d-8e6f-8a0b2c4d6e8f",
					InvocationID: testInvocation, Time: ts("2026-11-25T10:10:00.250Z")}}},
		}},
		{file: "scheduler-reset.json", want: []want{{Request: deploy.Request{
			Action: deploy.ActionReset, Bundle: "s3://bundles/app/releases/app 1.4.tgz",
			Version: "Lk8yUKwQ2nB.5mJx0sQ9cYvFtR3pZa7e", Database: "app_dev",
			Trigger: deploy.Trigger{Platform: "aws", Source: "scheduler", InvocationID: testInvocation,
				Schedule: "arn:aws:scheduler:us-east-1:123456789012:schedule/default/pgmi-nightly-reset@2026-11-25T03:00:00Z"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			items, sqs, err := parseEvent(readFixture(t, tt.file), testInvocation)
			if err != nil {
				t.Fatalf("parseEvent: %v", err)
			}
			if sqs != tt.wantSQS {
				t.Errorf("sqs = %v, want %v", sqs, tt.wantSQS)
			}
			checkItems(t, items, tt.want)
		})
	}
}

func TestParseEventRejects(t *testing.T) {
	tests := []struct {
		name, payload, wantErr string
	}{
		{"not JSON", string(readFixture(t, "not-json.txt")), "unrecognised event: not a JSON object"},
		{"empty object", string(readFixture(t, "empty-object.json")), "unrecognised event (want an S3 notification"},
		{"empty payload", "", "not a JSON object"},
		{"JSON array", `[{"Records":[]}]`, "not a JSON object"},
		{"null", "null", "not a JSON object"},
		{"truncated", `{"Records":[{"eventSource":"aws:s3"`, "unrecognised event: unexpected end of JSON input"},
		{"no records", `{"Records":[]}`, "Records is empty"},
		{"SNS", `{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"{}"}}]}`, `unsupported eventSource "aws:sns"`},
		{"mixed sources", `{"Records":[{"eventSource":"aws:s3"},{"eventSource":"aws:sqs"}]}`, `mix eventSource "aws:s3" and "aws:sqs"`},
		{"EventBridge rule schedule", `{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`,
			`unsupported EventBridge event (source "aws.events", detail-type "Scheduled Event")`},
		{"Records not a list", `{"Records":{"eventSource":"aws:s3"}}`, "unrecognised event: json: cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, _, err := parseEvent([]byte(tt.payload), testInvocation)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseEvent error = %v, want one containing %q", err, tt.wantErr)
			}
			if items != nil {
				t.Errorf("items = %+v alongside an error", items)
			}
		})
	}
}

// Records and messages that fail on their own become items with Err; the
// rest of the event still parses.
func TestParseEventRecordErrors(t *testing.T) {
	s3rec := func(name, key, created string) string {
		return fmt.Sprintf(`{"eventSource":"aws:s3","eventName":%q,"eventTime":%q,
			"s3":{"bucket":{"name":"bundles"},"object":{"key":%q,"sequencer":"0A"}}}`, name, created, key)
	}
	tests := []struct {
		name, payload string
		wantSQS       bool
		want          []want
	}{
		{"bad key in a deletion is still ignored",
			`{"Records":[` + s3rec("ObjectRemoved:Delete", "a%zz", "2026-11-25T00:00:00Z") + `]}`, false,
			[]want{{Ignore: "ObjectRemoved:Delete is not an upload"}}},
		{"malformed eventTime",
			`{"Records":[` + s3rec("ObjectCreated:Put", "a.tgz", "yesterday") + `]}`, false,
			[]want{{Err: "S3 record 0: malformed S3 record: parsing time", EventID: "0A"}}},
		{"no eventName",
			`{"Records":[` + s3rec("", "a.tgz", "2026-11-25T00:00:00Z") + `]}`, false,
			[]want{{Err: "S3 record 0: the record has no eventName"}}},
		{"no key",
			`{"Records":[` + s3rec("ObjectCreated:Put", "", "2026-11-25T00:00:00Z") + `]}`, false,
			[]want{{Err: `the event names no object (bucket "bundles", key "")`}}},
		{"s3: prefix on the event name",
			`{"Records":[` + s3rec("s3:ObjectCreated:Post", "a.tgz", "2026-11-25T00:00:00Z") + `]}`, false,
			[]want{{Request: deployOf("s3://bundles/a.tgz", "", "0A", s3Trigger("0A", "2026-11-25T00:00:00Z"))}}},
		{"action payload with a typo",
			`{"action":"reset","bundle":"s3://bkt/k","databse":"app_dev"}`, false,
			[]want{{Err: `invalid action payload: json: unknown field "databse"`}}},
		{"reset without database",
			`{"action":"reset","bundle":"s3://bkt/k"}`, false,
			[]want{{Err: "a reset request needs a database"}}},
		{"EventBridge detail without object",
			`{"id":"e1","source":"aws.s3","detail-type":"Object Created","time":"2026-11-25T00:00:00Z","detail":{"bucket":{"name":"b"}}}`, false,
			[]want{{Err: `EventBridge event e1: the event names no object (bucket "b", key "")`, EventID: "e1"}}},
		{"EventBridge with a malformed time",
			`{"id":"e1","source":"aws.s3","detail-type":"Object Created","time":"soon","detail":{}}`, false,
			[]want{{Err: "malformed EventBridge event", EventID: "e1"}}},
		{"SQS message with an undecodable binary attribute",
			`{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":"{}","messageAttributes":{"a":{"binaryValue":"%%%","dataType":"Binary"}}}]}`, true,
			[]want{{MessageID: "m1", Err: "SQS record 0: malformed message", EventID: "m1"}}},
		{"SQS message holding an SQS batch",
			`{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":"{\"Records\":[{\"eventSource\":\"aws:sqs\"}]}"}]}`, true,
			[]want{{MessageID: "m1", Err: "SQS message m1: the body is itself an SQS batch"}}},
		{"SQS message with an empty body",
			`{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":""}]}`, true,
			[]want{{MessageID: "m1", Err: "SQS message m1: unrecognised event: not a JSON object", EventID: "m1"}}},
		{"SQS message with an S3 record that fails",
			`{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":` +
				strconvQuote(`{"Records":[`+s3rec("ObjectCreated:Put", "100%", "2026-11-25T00:00:00Z")+`]}`) + `}]}`, true,
			[]want{{MessageID: "m1", Err: `SQS message m1: S3 record 0: object key "100%" is not URL-encoded correctly`, EventID: "0A"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, sqs, err := parseEvent([]byte(tt.payload), testInvocation)
			if err != nil {
				t.Fatalf("parseEvent: %v", err)
			}
			if sqs != tt.wantSQS {
				t.Errorf("sqs = %v, want %v", sqs, tt.wantSQS)
			}
			checkItems(t, items, tt.want)
		})
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// What parseS3Record assumes of aws-lambda-go: S3Object.UnmarshalJSON fills
// URLDecodedKey when an SQS body is decoded in a second step, but it also
// rejects the whole event for one bad key, which is why records are decoded
// one at a time.
func TestS3EventDecodingAssumptions(t *testing.T) {
	var batch events.SQSEvent
	if err := json.Unmarshal(readFixture(t, "sqs-s3.json"), &batch); err != nil {
		t.Fatal(err)
	}
	var inner events.S3Event
	if err := json.Unmarshal([]byte(batch.Records[0].Body), &inner); err != nil {
		t.Fatal(err)
	}
	if got := inner.Records[0].S3.Object.URLDecodedKey; got != "app/releases/app 1.4.tgz" {
		t.Errorf("URLDecodedKey from a nested body = %q", got)
	}
	var whole events.S3Event
	if err := json.Unmarshal(readFixture(t, "s3-bad-escape.json"), &whole); err == nil {
		t.Errorf("events.S3Event accepted a record with a malformed key; per-record decoding may no longer be needed")
	}
}

// The adapter contract: each route delivers the same upload (or the reset
// payload) as exactly one Request.
func TestContractFixtures(t *testing.T) {
	upload := deploy.Request{
		Action:    deploy.ActionDeploy,
		Bundle:    "s3://bundles/app/releases/app 1.4.tgz",
		Version:   "3HL4kqtJlcpXroDTDmJ.rHSiFjWMS3dy",
		Sequencer: "0055AED6DCD90281E5",
	}
	reset := deploy.Request{
		Action:   deploy.ActionReset,
		Bundle:   "s3://bundles/app/releases/app 1.4.tgz",
		Version:  "3HL4kqtJlcpXroDTDmJ.rHSiFjWMS3dy",
		Database: "app_dev",
	}
	for file, want := range map[string]deploy.Request{
		"s3.json": upload, "eventbridge.json": upload, "sqs.json": upload, "reset.json": reset,
	} {
		t.Run(file, func(t *testing.T) {
			items, _, err := parseEvent(readFixture(t, filepath.Join("contract", file)), testInvocation)
			if err != nil {
				t.Fatalf("parseEvent: %v", err)
			}
			if len(items) != 1 || items[0].Err != nil || items[0].Ignore != "" {
				t.Fatalf("want exactly one request, got %+v", items)
			}
			got := items[0].Request
			functest.CheckContract(t, got, want.Action, "s3", want.Version, platform)
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if got.Trigger.Platform != "aws" || got.Trigger.InvocationID != testInvocation {
				t.Errorf("trigger = %+v, want platform aws and the invocation id", got.Trigger)
			}
			got.Trigger = deploy.Trigger{}
			if got != want {
				t.Errorf("request =\n  %+v\nwant\n  %+v", got, want)
			}
		})
	}
}

func FuzzParseEvent(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	contract, _ := filepath.Glob(filepath.Join("testdata", "contract", "*.json"))
	for _, name := range append(files, contract...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Records":[{"eventSource":"aws:sqs","messageId":"m","body":"{\"action\":\"deploy\",\"bundle\":\"s3://bkt/k\"}"}]}`))
	f.Add([]byte(`{"Event":"s3:TestEvent"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		items, sqs, err := parseEvent(raw, "inv")
		if err != nil {
			if len(items) != 0 {
				t.Fatalf("items alongside error %v", err)
			}
			return
		}
		if len(items) == 0 {
			t.Fatal("no items and no error")
		}
		for i, it := range items {
			n := 0
			if it.Request.Action != "" {
				n++
				if err := it.Request.Validate(); err != nil {
					t.Errorf("item %d: invalid request %+v: %v", i, it.Request, err)
				}
			} else if it.Request != (deploy.Request{}) {
				t.Errorf("item %d: request without action %+v", i, it.Request)
			}
			if it.Ignore != "" {
				n++
			}
			if it.Err != nil {
				n++
			}
			if n != 1 {
				t.Errorf("item %d has %d of Request/Ignore/Err: %+v", i, n, it)
			}
			if !sqs && it.MessageID != "" {
				t.Errorf("item %d: MessageID %q outside SQS", i, it.MessageID)
			}
		}
	})
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkItems(t *testing.T, got []item, want []want) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d items, want %d:\n%s", len(got), len(want), formatItems(got))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.MessageID != w.MessageID {
			t.Errorf("item %d: MessageID = %q, want %q", i, g.MessageID, w.MessageID)
		}
		if g.Ignore != w.Ignore {
			t.Errorf("item %d: Ignore = %q, want %q", i, g.Ignore, w.Ignore)
		}
		switch {
		case w.Err == "" && g.Err != nil:
			t.Errorf("item %d: unexpected error %v", i, g.Err)
		case w.Err != "" && (g.Err == nil || !strings.Contains(g.Err.Error(), w.Err)):
			t.Errorf("item %d: error = %v, want one containing %q", i, g.Err, w.Err)
		case w.EventID != "" && internal.EventIDOf(g.Err) != w.EventID:
			t.Errorf("item %d: the error carries event id %q, want %q", i, internal.EventIDOf(g.Err), w.EventID)
		}
		if !functest.SameRequest(g.Request, w.Request) {
			t.Errorf("item %d: request =\n  %+v\nwant\n  %+v", i, g.Request, w.Request)
		}
	}
}

func formatItems(items []item) string {
	var sb strings.Builder
	for i, it := range items {
		fmt.Fprintf(&sb, "  %d: %+v\n", i, it)
	}
	return sb.String()
}

// A fleet message (deploy.FleetMessage, published to PGMI_FLEET_TOPIC)
// comes back in an SQS batch: an action payload with a rollout, parsed as
// one with source sqs, the message id as event id and its SentTimestamp as
// time. A malformed one is a permanent error of its message only.
func TestParseEventFleetMessages(t *testing.T) {
	fleetMsg := func(m deploy.FleetMessage) string {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	good := fleetMsg(deploy.FleetMessage{Action: deploy.ActionDeploy, Rollout: 12, Database: "tenant_07", Bundle: "s3://bkt/tenants/r1.tgz", Version: "v1"})
	record := func(id, body string) string {
		return `{"eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:000000000000:pgmi-fleet","messageId":"` + id +
			`","receiptHandle":"AQEBx","body":` + strconvQuote(body) +
			`,"attributes":{"ApproximateReceiveCount":"1","SentTimestamp":"1764028800123"},` +
			`"messageAttributes":{"pgmi-rollout":{"stringValue":"12","stringListValues":[],"binaryListValues":[],"dataType":"String"}},` +
			`"md5OfBody":"x","awsRegion":"us-east-1"}`
	}
	trig := deploy.Trigger{Platform: "aws", Source: "sqs", EventID: "f1", InvocationID: testInvocation, Time: ts("2025-11-25T00:00:00.123Z")}
	fleetReq := deploy.Request{Action: deploy.ActionDeploy, Bundle: "s3://bkt/tenants/r1.tgz", Version: "v1", Database: "tenant_07", Rollout: 12, Trigger: trig}

	tests := []struct {
		name, payload string
		want          []want
	}{
		{"one fleet message",
			`{"Records":[` + record("f1", good) + `]}`,
			[]want{{MessageID: "f1", Request: fleetReq}}},
		{"a fleet message beside a malformed one and a reset",
			`{"Records":[` + record("f1", good) + `,` +
				record("f2", `{"action":"deploy","rollout":12,"database":"tenant_08","bundle":"s3://bkt/tenants/r1.tgz","wave":2}`) + `,` +
				record("f3", `{"action":"reset","bundle":"s3://bkt/k","database":"app_dev"}`) + `]}`,
			[]want{
				{MessageID: "f1", Request: fleetReq},
				{MessageID: "f2", Err: `SQS message f2: invalid action payload: json: unknown field "wave"`, EventID: "f2"},
				{MessageID: "f3", Request: deploy.Request{Action: deploy.ActionReset, Bundle: "s3://bkt/k", Database: "app_dev",
					Trigger: deploy.Trigger{Platform: "aws", Source: "sqs", EventID: "f3", InvocationID: testInvocation, Time: ts("2025-11-25T00:00:00.123Z")}}},
			}},
		{"a fleet message without a database",
			`{"Records":[` + record("f1", `{"action":"deploy","rollout":12,"bundle":"s3://bkt/k"}`) + `]}`,
			[]want{{MessageID: "f1", Err: "SQS message f1: invalid action payload: a fleet message (rollout 12) needs", EventID: "f1"}}},
		{"a fleet message that is not JSON",
			`{"Records":[` + record("f1", `{"action":"deploy","rollout":12,`) + `]}`,
			[]want{{MessageID: "f1", Err: "SQS message f1: unrecognised event", EventID: "f1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, sqs, err := parseEvent([]byte(tt.payload), testInvocation)
			if err != nil {
				t.Fatalf("parseEvent: %v", err)
			}
			if !sqs {
				t.Error("not parsed as an SQS batch")
			}
			checkItems(t, items, tt.want)
		})
	}
}

// A bucket name S3 could never hold ('?', '=' and '&' are not allowed in
// bucket names) must not reach the pipeline: it opens everything before the
// key's '/' as a gocloud bucket URL, so s3://bundles?endpoint=…/key would
// fetch the bundle from, and write the result to, a server the event chose,
// with the function's credentials. Anyone who can send to the queue or
// invoke the function can write such an event. This pins that every route
// into a Request (S3 notification, EventBridge, SQS bodies, action payloads
// and fleet messages) refuses it as a permanent error naming the bad field,
// and that nothing reaches the server named in the parameters.
func TestParseEventRefusesHostileBucketName(t *testing.T) {
	var hits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer evil.Close()
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	bucket := "bundles?endpoint=" + url.QueryEscape(evil.URL) + "&use_path_style=true&disable_https=true"

	s3Notification := `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"2026-11-25T00:00:00Z",
		"s3":{"bucket":{"name":"` + bucket + `"},"object":{"key":"app/r1.tgz","versionId":"v1","sequencer":"0A"}}}]}`
	eventBridge := `{"id":"e1","source":"aws.s3","detail-type":"Object Created","time":"2026-11-25T00:00:00Z",
		"detail":{"bucket":{"name":"` + bucket + `"},"object":{"key":"app/r1.tgz","version-id":"v1","sequencer":"0A"}}}`
	payload := `{"action":"deploy","bundle":"s3://` + bucket + `/app/r1.tgz","version":"v1"}`
	fleet := `{"action":"deploy","rollout":12,"database":"tenant_07","bundle":"s3://` + bucket + `/app/r1.tgz","version":"v1"}`
	sqs := func(body string) string {
		return `{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":` + strconvQuote(body) + `}]}`
	}
	inEvent := fmt.Sprintf("invalid bucket name %q in the event: an S3 bucket name is", bucket)
	inPayload := fmt.Sprintf("invalid action payload: invalid bundle URL %q: bucket %q: an S3 bucket name is", "s3://"+bucket+"/app/r1.tgz", bucket)
	for _, c := range []struct{ name, raw, wantErr string }{
		{"S3 notification", s3Notification, inEvent},
		{"EventBridge", eventBridge, "EventBridge event e1: " + inEvent},
		{"action payload", payload, inPayload},
		{"S3 notification in SQS", sqs(s3Notification), "SQS message m1: S3 record 0: " + inEvent},
		{"EventBridge in SQS", sqs(eventBridge), "SQS message m1: EventBridge event e1: " + inEvent},
		{"action payload in SQS", sqs(payload), "SQS message m1: " + inPayload},
		{"fleet message in SQS", sqs(fleet), "SQS message m1: " + inPayload},
	} {
		t.Run(c.name, func(t *testing.T) {
			items, _, err := parseEvent([]byte(c.raw), testInvocation)
			if err != nil {
				t.Fatalf("parseEvent: %v (want the record refused on its own)", err)
			}
			if len(items) != 1 || items[0].Err == nil || !strings.Contains(items[0].Err.Error(), c.wantErr) {
				t.Errorf("items:\n%swant one error containing %q", formatItems(items), c.wantErr)
			}
			for _, it := range items {
				if it.Err != nil || it.Ignore != "" {
					continue
				}
				// What the pipeline would do with it: open the bucket URL and
				// read the key.
				bucketURL, key, _ := deploy.SplitBundleURL(it.Request.Bundle)
				before := hits.Load()
				if b, err := bucketMux(logging.Nop{}).OpenBucket(context.Background(), bucketURL); err == nil {
					_, _ = b.Attributes(context.Background(), key)
					b.Close()
				}
				t.Errorf("accepted bundle %q: the pipeline opens bucket URL %q, and %d requests reached %s",
					it.Request.Bundle, bucketURL, hits.Load()-before, evil.URL)
			}
		})
	}
}
