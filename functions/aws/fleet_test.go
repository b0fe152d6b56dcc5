package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"gocloud.dev/pubsub"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/internal/testfakes"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/awsfake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/sqsfake"
)

// topicMux publishes to SQS as gocloud's awssqs opener does, and what the
// SDK says on the way (here: a response whose Date header does not parse)
// becomes a JSON line of the function's log, not plain text on stderr.
func TestTopicMuxPublishesAndLogsToSlog(t *testing.T) {
	awsfake.Isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", sqsfake.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", sqsfake.SecretKey)
	srv := sqsfake.Start(t)
	q := srv.CreateQueue("pgmi-fleet")
	var buf bytes.Buffer
	log := internal.NewLogger(&buf, platform, internal.LambdaFormat, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topic, err := topicMux(sdkLogger{log}).OpenTopic(ctx, q.TopicURL())
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Shutdown(ctx)
	body := `{"action":"deploy","rollout":12,"database":"tenant_07","bundle":"s3://bkt/k","version":"v"}`
	if err := topic.Send(ctx, &pubsub.Message{Body: []byte(body), Metadata: map[string]string{"pgmi-rollout": "12"}}); err != nil {
		t.Fatal(err)
	}
	m, err := q.Receive(ctx, time.Minute)
	if err != nil || m.Body != body || m.MessageAttributes["pgmi-rollout"].StringValue != "12" {
		t.Fatalf("received %+v, %v", m, err)
	}

	srv.Faults.Inject(testfakes.Fault{
		Match: sqsfake.Op("SendMessageBatch"), Times: 1, Status: http.StatusOK,
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "Date": {"the day after tomorrow"}},
		Body:   `{"Successful":[{"Id":"0","MessageId":"5fea7756-0ea4-451a-a703-a558b933e274"}],"Failed":[]}`,
	})
	if err := topic.Send(ctx, &pubsub.Message{Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `"level":"WARN","message":"AWS SDK: failed to parse response Date header value`) {
		t.Fatalf("the SDK's warning is not a WARN line of the log:\n%s", out)
	}
}

// An unknown URL parameter fails the open, as with gocloud's opener.
func TestTopicMuxRejectsUnknownParameters(t *testing.T) {
	_, err := topicMux(sdkLogger{internal.NewLogger(&bytes.Buffer{}, platform, internal.LambdaFormat, false)}).
		OpenTopic(context.Background(), "awssqs://sqs.us-east-1.amazonaws.com/000000000000/q?region=us-east-1&colour=blue")
	if err == nil || !strings.Contains(err.Error(), `unknown query parameter "colour"`) {
		t.Fatalf("err = %v", err)
	}
}
