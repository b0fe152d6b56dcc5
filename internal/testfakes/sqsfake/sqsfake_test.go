package sqsfake

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/awssnssqs"

	"github.com/pgmi-cloud/pgmi/internal/testfakes"
)

// The SDK sends, batch-sends and receives; it checks every MD5 of a body
// it sent or received, so a wrong one fails the call.
func TestSDKRoundTrip(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	c := s.Client()
	created, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("fleet")})
	if err != nil {
		t.Fatal(err)
	}
	qURL := aws.ToString(created.QueueUrl)
	if got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("fleet")}); err != nil || aws.ToString(got.QueueUrl) != qURL {
		t.Fatalf("GetQueueUrl: %v %v", got, err)
	}
	attrs := map[string]types.MessageAttributeValue{
		"pgmi-rollout": {DataType: aws.String("String"), StringValue: aws.String("12")},
	}
	one, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(qURL), MessageBody: aws.String(`{"action":"deploy","rollout":12}`), MessageAttributes: attrs})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(one.MD5OfMessageAttributes) != AttributesMD5(map[string]Attribute{"pgmi-rollout": {DataType: "String", StringValue: "12"}}) {
		t.Fatalf("MD5OfMessageAttributes %s", aws.ToString(one.MD5OfMessageAttributes))
	}
	var entries []types.SendMessageBatchRequestEntry
	for i := range 10 {
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String("bödy " + strconv.Itoa(i))})
	}
	batch, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(qURL), Entries: entries})
	if err != nil || len(batch.Successful) != 10 || len(batch.Failed) != 0 {
		t.Fatalf("SendMessageBatch: %v, %+v", err, batch)
	}
	qa, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(qURL), AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil || qa.Attributes["ApproximateNumberOfMessages"] != "11" || qa.Attributes["QueueArn"] != "arn:aws:sqs:us-east-1:000000000000:fleet" {
		t.Fatalf("GetQueueAttributes: %v %v", qa, err)
	}

	got, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(qURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
		MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"},
	})
	if err != nil || len(got.Messages) != 10 {
		t.Fatalf("ReceiveMessage: %v, %d messages", err, len(got.Messages))
	}
	m := got.Messages[0]
	if aws.ToString(m.Body) != `{"action":"deploy","rollout":12}` || aws.ToString(m.MessageAttributes["pgmi-rollout"].StringValue) != "12" ||
		aws.ToString(m.MD5OfMessageAttributes) != aws.ToString(one.MD5OfMessageAttributes) ||
		m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" {
		t.Fatalf("first message %+v", m)
	}
	// Deleted, released with a visibility of 0 and left in flight.
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(qURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(qURL), ReceiptHandle: got.Messages[1].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	again, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(qURL), MaxNumberOfMessages: 10, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	counts := map[string]string{}
	for _, m := range again.Messages {
		counts[aws.ToString(m.MessageId)] = m.Attributes["ApproximateReceiveCount"]
	}
	// The one never received yet and the one released.
	if err != nil || len(again.Messages) != 2 || counts[aws.ToString(got.Messages[1].MessageId)] != "2" {
		t.Fatalf("after a release: %v, %+v", err, again.Messages)
	}

	// A wrong body MD5 is caught by the SDK: the fake's are checked.
	s.Faults.Inject(corruptMD5())
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(qURL), MessageBody: aws.String("x")})
	if err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("a wrong MD5OfMessageBody was accepted: %v", err)
	}
}

// The errors an SDK caller tells apart arrive with their codes.
func TestSDKErrors(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	c := s.Client(func(o *sqs.Options) { o.RetryMaxAttempts = 1 })
	q := s.CreateQueue("q")
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.URL + "/000000000000/missing"), MessageBody: aws.String("x")})
	var qdne *types.QueueDoesNotExist
	if !errors.As(err, &qdne) {
		t.Fatalf("a missing queue: %v", err)
	}
	var entries []types.SendMessageBatchRequestEntry
	for i := range 11 {
		entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String("x")})
	}
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL()), Entries: entries})
	var tooMany *types.TooManyEntriesInBatchRequest
	if !errors.As(err, &tooMany) {
		t.Fatalf("11 entries: %v", err)
	}
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL()), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("ok"), MessageBody: aws.String("fine")},
		{Id: aws.String("bad"), MessageBody: aws.String("nul \x00")},
	}})
	if err != nil || len(out.Successful) != 1 || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Code) != "InvalidMessageContents" {
		t.Fatalf("a batch with one bad body: %v %+v", err, out)
	}
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Fatalf("GetQueueUrl of a missing queue: %v", err)
	}
}

// gocloud's awssnssqs topic publishes through the fake (SendMessageBatch),
// and Receive, Release and Delete settle what it sent.
func TestGocloudTopicAndReceive(t *testing.T) {
	s := Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/pgmi-test/aws-config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/pgmi-test/aws-credentials")
	q := s.CreateQueue("fleet")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topic, err := pubsub.OpenTopic(ctx, q.TopicURL())
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Shutdown(ctx)
	for i := range 3 {
		if err := topic.Send(ctx, &pubsub.Message{Body: []byte(`{"n":` + strconv.Itoa(i) + `}`), Metadata: map[string]string{"pgmi-rollout": "7"}}); err != nil {
			t.Fatal(err)
		}
	}
	_ = awssnssqs.SQSScheme
	m, err := q.Receive(ctx, time.Minute)
	if err != nil || m.Body != `{"n":0}` || m.MessageAttributes["pgmi-rollout"].StringValue != "7" || m.Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("Receive: %+v %v", m, err)
	}
	if !q.Release(m.ReceiptHandle, 0) {
		t.Fatal("Release")
	}
	seen := map[string]int{}
	for range 3 {
		m, err := q.Receive(ctx, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		seen[m.Body], _ = strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
		if !q.Delete(m.ReceiptHandle) {
			t.Fatal("Delete")
		}
	}
	if seen[`{"n":0}`] != 2 || len(seen) != 3 || q.Len() != 0 || q.Sent() != 3 {
		t.Fatalf("received %v; %d left, %d sent", seen, q.Len(), q.Sent())
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := q.Receive(short, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive on an empty queue: %v", err)
	}
}

// MD5OfMessageAttributes as SQS computes it (vectors from SQS's
// documentation and other SQS implementations).
func TestAttributesMD5(t *testing.T) {
	for _, c := range []struct {
		attrs map[string]Attribute
		want  string
	}{
		{map[string]Attribute{"SellerName": {DataType: "String", StringValue: "Example Store"}}, "cd28f3b68aeee4b2eac9c66f2f694b58"},
		{map[string]Attribute{"ordinal": {DataType: "Number", StringValue: "1"}, "category": {DataType: "String", StringValue: "test"}}, "d21ae90c49061e927f57df5f5d72be1f"},
	} {
		if got := AttributesMD5(c.attrs); got != c.want {
			t.Errorf("%v: %s, want %s", c.attrs, got, c.want)
		}
	}
}

// corruptMD5 answers one SendMessage with a body MD5 that matches nothing.
func corruptMD5() testfakes.Fault {
	return testfakes.Fault{
		Match: Op("SendMessage"), Times: 1, Status: 200,
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:   `{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"00000000000000000000000000000000"}`,
	}
}
