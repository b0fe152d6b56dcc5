package main

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	"gocloud.dev/blob/s3blob"

	"github.com/pgmi-cloud/pgmi/functions/internal"
)

// The lines aws-lambda-go and the AWS SDK print become JSON lines at a
// level that says what they are.
func TestRuntimeAndSDKLinesAreJSON(t *testing.T) {
	var buf bytes.Buffer
	log := internal.NewLogger(&buf, platform, internal.LambdaFormat, false)
	w := internal.LineWriter(log, runtimeLine)
	for _, line := range []string{
		`{"errorMessage":"retryable: failed: app.tgz → app: connection refused (will be retried)","errorType":"Retry"}`,
		`{"errorMessage":"PGMI_TIMEOUT_MARGIN (10s) is not less than the function's timeout (3s)","errorType":"Runtime.InvalidConfiguration"}`,
		`{"errorMessage":"runtime error: invalid memory address or nil pointer dereference","errorType":"runtimeError"}`,
		`WARNING! Failed to register internal extension! SIGTERM events may not be enabled! err: EOF`,
		`unexpected error occurred when sending the function functionResponse to the API: EOF`,
	} {
		if _, err := w.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	sdk := sdkLogger{log}
	sdk.Logf(logging.Debug, "Response has no supported checksum. Not validating response payload.")
	sdk.Logf(logging.Warn, "Skipped validation of multipart checksum.")
	var levels []string
	for _, text := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			t.Fatalf("not a JSON line: %q", text)
		}
		levels = append(levels, l["level"].(string))
	}
	want := []string{"INFO", "INFO", "ERROR", "WARN", "ERROR", "WARN"} // the SDK's DEBUG line is below the level
	if strings.Join(levels, " ") != strings.Join(want, " ") {
		t.Fatalf("levels %v, want %v; log:\n%s", levels, want, buf.String())
	}
}

// bucketMux's opener takes the S3 parameters s3blob's opener takes.
func TestS3Params(t *testing.T) {
	q, _ := url.ParseQuery("region=us-east-1&endpoint=http://127.0.0.1:9&use_path_style=true&disable_https=true&ssetype=aws:kms&kmskeyid=k1&accelerate=false")
	var b s3blob.Options
	fns, err := s3Params(q, &b)
	if err != nil {
		t.Fatal(err)
	}
	var o s3.Options
	for _, fn := range fns {
		fn(&o)
	}
	if !o.UsePathStyle || !o.EndpointOptions.DisableHTTPS || o.UseAccelerate || b.EncryptionType != types.ServerSideEncryptionAwsKms || b.KMSEncryptionID != "k1" {
		t.Fatalf("options %+v, bucket options %+v", o, b)
	}
	if got := q.Encode(); got != "endpoint=http%3A%2F%2F127.0.0.1%3A9&region=us-east-1" {
		t.Fatalf("left for the AWS configuration: %s", got)
	}
	for _, bad := range []string{"use_path_style=maybe", "ssetype=rot13"} {
		q, _ := url.ParseQuery(bad)
		if _, err := s3Params(q, &s3blob.Options{}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
