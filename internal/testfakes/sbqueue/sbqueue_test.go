package sbqueue

import (
	"context"
	"testing"
	"time"

	"gocloud.dev/pubsub"
)

// TestSendReceive: a message sent through pubsub.OpenTopic on a testsb://
// URL arrives at the Queue with its body and metadata, and Service Bus's
// enqueue fields set.
func TestSendReceive(t *testing.T) {
	q := NewQueue(t, "fleet")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	topic, err := pubsub.OpenTopic(ctx, q.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Shutdown(ctx)
	for _, body := range []string{`{"n":1}`, `{"n":2}`} {
		if err := topic.Send(ctx, &pubsub.Message{Body: []byte(body), Metadata: map[string]string{"pgmi-rollout": "7"}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []string{`{"n":1}`, `{"n":2}`} {
		m, err := q.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Body) != want || m.Properties["pgmi-rollout"] != "7" || m.SequenceNumber != int64(i+1) || len(m.ID) != 32 || m.EnqueuedTime.IsZero() {
			t.Errorf("message %d = %+v", i, m)
		}
	}
	if q.Sent() != 2 {
		t.Errorf("Sent = %d", q.Sent())
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if _, err := q.Receive(short); err == nil {
		t.Error("Receive on an empty queue returned")
	}
}

func TestOpenTopicRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"testsb://127.0.0.1:1", "testsb://127.0.0.1:1/a/b", "testsb://127.0.0.1:1/q?x=1"} {
		if _, err := pubsub.OpenTopic(t.Context(), u); err == nil {
			t.Errorf("%s opened", u)
		}
	}
}
