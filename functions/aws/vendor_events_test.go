package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// The Vendor tests feed the sample events github.com/aws/aws-lambda-go
// ships in events/testdata (read from the module cache at test time, not
// copied) to parseEvent: AWS's own examples of the payloads the function
// receives, next to the hand-written fixtures of events_test.go.

const vendorInvocation = "vendor-invocation-1"

// vendorSamples is the aws-lambda-go events/testdata directory of the
// version go.mod requires.
func vendorSamples(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m github.com/aws/aws-lambda-go: %v\n%s", err, stderr.String())
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "events", "testdata")
	if _, err := os.Stat(filepath.Join(dir, "s3-event.json")); err != nil {
		t.Fatalf("aws-lambda-go ships no events/testdata/s3-event.json any more (%v): find its samples again", err)
	}
	return dir
}

func vendorSample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(vendorSamples(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func vendorTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// The S3 notification sample: one ObjectCreated:Put record whose key
// "Happy%20Face.jpg" is URL-encoded, as S3 sends it.
func TestVendorS3Put(t *testing.T) {
	for _, name := range []string{"s3-event.json", "s3-event-with-decoded.json"} {
		t.Run(name, func(t *testing.T) {
			items, sqs, err := parseEvent(vendorSample(t, name), vendorInvocation)
			if err != nil || sqs || len(items) != 1 {
				t.Fatalf("parseEvent = %d items, sqs %v, err %v; want one S3 item", len(items), sqs, err)
			}
			want := deploy.Request{
				Action:    deploy.ActionDeploy,
				Bundle:    "s3://sourcebucket/Happy Face.jpg",
				Version:   "version",
				Sequencer: "Happy Sequencer",
				Trigger: deploy.Trigger{
					Platform:     "aws",
					Source:       "s3",
					EventID:      "C3D13FE58DE4C810:Happy Sequencer",
					InvocationID: vendorInvocation,
					Time:         vendorTime(t, "1970-01-01T00:00:00.123Z"),
				},
			}
			got := items[0]
			if got.Err != nil || got.Ignore != "" || got.MessageID != "" {
				t.Fatalf("item = %+v, want a request", got)
			}
			if !got.Request.Trigger.Time.Equal(want.Trigger.Time) {
				t.Errorf("Trigger.Time = %v, want %v", got.Request.Trigger.Time, want.Trigger.Time)
			}
			got.Request.Trigger.Time = want.Trigger.Time
			if got.Request != want {
				t.Errorf("request\n got %+v\nwant %+v", got.Request, want)
			}
		})
	}
}

// S3 notifications that are not uploads (restores, lifecycle transitions,
// tiering, replication failures) arrive in the same shape and are ignored,
// named by their eventName.
func TestVendorS3NotUploads(t *testing.T) {
	for name, event := range map[string]string{
		"s3-glacier-event.json":         "s3:ObjectRestore:Completed",
		"s3-restore-event.json":         "s3:ObjectRestore:Completed",
		"s3-lifecycle-event.json":       "s3:LifecycleTransition",
		"s3-intelligenttier-event.json": "s3:IntelligentTiering:TransitionAccess",
		"s3-replication-event.json":     "s3:Replication:OperationFailedReplication",
	} {
		t.Run(name, func(t *testing.T) {
			items, sqs, err := parseEvent(vendorSample(t, name), vendorInvocation)
			if err != nil || sqs || len(items) != 1 {
				t.Fatalf("parseEvent = %d items, sqs %v, err %v; want one S3 item", len(items), sqs, err)
			}
			if want := event + " is not an upload"; items[0].Ignore != want || items[0].Err != nil || items[0].Request.Action != "" {
				t.Errorf("item = %+v, want ignored: %q", items[0], want)
			}
		})
	}
}

// The SQS sample's body is plain text, not an event: the message fails on
// its own, carrying its messageId for the batch item failure report.
func TestVendorSQSPlainBody(t *testing.T) {
	items, sqs, err := parseEvent(vendorSample(t, "sqs-event.json"), vendorInvocation)
	if err != nil || !sqs || len(items) != 1 {
		t.Fatalf("parseEvent = %d items, sqs %v, err %v; want one SQS item", len(items), sqs, err)
	}
	it := items[0]
	if it.MessageID != "MessageID_1" || it.Err == nil || it.Request.Action != "" {
		t.Fatalf("item = %+v, want an error for MessageID_1", it)
	}
	for _, part := range []string{"SQS message MessageID_1", "not a JSON object"} {
		if !strings.Contains(it.Err.Error(), part) {
			t.Errorf("error %q does not contain %q", it.Err, part)
		}
	}
}

// The SQS sample carrying the S3 sample as its body (S3 → SQS → Lambda):
// the request is the S3 record's, its source sqs, and the item carries the
// messageId.
func TestVendorSQSCarryingS3(t *testing.T) {
	var batch map[string]any
	if err := json.Unmarshal(vendorSample(t, "sqs-event.json"), &batch); err != nil {
		t.Fatal(err)
	}
	batch["Records"].([]any)[0].(map[string]any)["body"] = string(vendorSample(t, "s3-event.json"))
	raw, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	items, sqs, err := parseEvent(raw, vendorInvocation)
	if err != nil || !sqs || len(items) != 1 {
		t.Fatalf("parseEvent = %d items, sqs %v, err %v; want one SQS item", len(items), sqs, err)
	}
	it := items[0]
	if it.Err != nil || it.MessageID != "MessageID_1" {
		t.Fatalf("item = %+v", it)
	}
	r := it.Request
	if r.Action != deploy.ActionDeploy || r.Bundle != "s3://sourcebucket/Happy Face.jpg" || r.Version != "version" ||
		r.Trigger.Source != "sqs" || r.Trigger.EventID != "C3D13FE58DE4C810:Happy Sequencer" ||
		!r.Trigger.Time.Equal(vendorTime(t, "1970-01-01T00:00:00.123Z")) || r.Trigger.InvocationID != vendorInvocation {
		t.Errorf("request = %+v", r)
	}
}

// Other services' events reach a misconfigured function as EventBridge
// events or records of another eventSource: each is refused, naming what it
// is.
func TestVendorForeignEvents(t *testing.T) {
	for name, wantErr := range map[string]string{
		"ecr-image-push-event.json":                  `unsupported EventBridge event (source "aws.ecr"`,
		"codebuild-state-change.json":                `unsupported EventBridge event (source "aws.codebuild"`,
		"autoscaling-event-launch-successful.json":   `unsupported EventBridge event (source "aws.autoscaling"`,
		"sns-event.json":                             `unsupported eventSource "aws:sns"`,
		"kinesis-event.json":                         `unsupported eventSource "aws:kinesis"`,
		"dynamodb-event.json":                        `unsupported eventSource "aws:dynamodb"`,
		"ses-s3-event.json":                          `unsupported eventSource "aws:ses"`,
		"cloudwatch-logs-event.json":                 "unrecognised event",
		"s3-batch-job-event-request-2.0.json":        "unrecognised event",
		"s3-object-lambda-event-get-object-iam.json": "unrecognised event",
	} {
		t.Run(name, func(t *testing.T) {
			items, _, err := parseEvent(vendorSample(t, name), vendorInvocation)
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("parseEvent = %d items, err %v; want an error containing %q", len(items), err, wantErr)
			}
		})
	}
}

// Every sample aws-lambda-go ships goes through parseEvent without a panic,
// and only the S3 upload samples (and the SQS sample, as a failed message)
// yield work: nothing else is mistaken for an upload.
func TestVendorAllSamples(t *testing.T) {
	dir := vendorSamples(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) < 50 {
		t.Fatalf("found %d samples in %s (%v)", len(files), dir, err)
	}
	deploys := map[string]bool{"s3-event.json": true, "s3-event-with-decoded.json": true}
	for _, f := range files {
		name := filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		items, _, err := parseEvent(data, vendorInvocation)
		var requests int
		for _, it := range items {
			if it.Request.Action != "" {
				requests++
			}
		}
		switch {
		case deploys[name] && (err != nil || requests != 1):
			t.Errorf("%s: %d requests (err %v), want 1", name, requests, err)
		case !deploys[name] && requests > 0:
			t.Errorf("%s: parsed as %d requests: %+v", name, requests, items)
		}
	}
}
