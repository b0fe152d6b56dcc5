package main

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/sqsfake"
)

// fleetRetryDelay is how long a message the function asked to retry stays
// invisible. Lambda leaves it until the queue's visibility timeout ends
// (minutes); the suite needs no more than a pause.
const fleetRetryDelay = 200 * time.Millisecond

// FleetQueue is an SQS queue on sqsfake, which the function publishes to
// through gocloud's awssnssqs driver (SendMessageBatch over the JSON
// protocol); the URL's endpoint parameter points the SDK at the fake.
func (h *harness) FleetQueue(t *testing.T) (map[string]string, functest.FleetQueue) {
	q := sqsfake.Start(t).CreateQueue("pgmi-fleet")
	return map[string]string{"PGMI_FLEET_TOPIC": q.TopicURL()}, &fleetQueue{q: q}
}

// fleetQueue plays the SQS event source mapping of the fleet queue: batch
// size 1, ReportBatchItemFailures on.
type fleetQueue struct{ q *sqsfake.Queue }

// Serve runs concurrency pollers, each taking one message at a time and
// invoking the instance with it as an SQS batch of one (Lambda's runtime
// hands each invocation to a free process; Start gave the instance its
// processes). A message is deleted when the function succeeded for it, and
// visible again after fleetRetryDelay when the answer lists it in
// batchItemFailures or is a function error.
func (f *fleetQueue) Serve(t *testing.T, in functest.Instance, concurrency int) (stop func()) {
	inst, ok := in.(*instance)
	if !ok {
		t.Fatalf("Serve: %T is not this harness's instance", in)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := f.q.Receive(ctx, inst.deadline+30*time.Second)
				if err != nil {
					return // stopped
				}
				resp, err := inst.rt.Invoke(ctx, f.event(m), time.Now().Add(inst.deadline))
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					t.Errorf("fleet queue: invoking with message %s: %v", m.ID, err)
					f.q.Release(m.ReceiptHandle, fleetRetryDelay)
				case retried(resp, m.ID):
					f.q.Release(m.ReceiptHandle, fleetRetryDelay)
				default:
					f.q.Delete(m.ReceiptHandle)
				}
			}
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { cancel(); wg.Wait() }) }
}

// event is what the event source mapping sends Lambda for m.
func (f *fleetQueue) event(m sqsfake.Message) []byte {
	attrs := map[string]any{}
	for k, a := range m.MessageAttributes {
		attrs[k] = map[string]any{"stringValue": a.StringValue, "stringListValues": []string{}, "binaryListValues": []string{}, "dataType": a.DataType}
	}
	rec := map[string]any{
		"messageId":         m.ID,
		"receiptHandle":     m.ReceiptHandle,
		"body":              m.Body,
		"attributes":        m.Attributes,
		"messageAttributes": attrs,
		"md5OfBody":         m.MD5OfBody,
		"eventSource":       "aws:sqs",
		"eventSourceARN":    f.q.ARN(),
		"awsRegion":         sqsfake.Region,
	}
	if m.MD5OfMessageAttributes != "" {
		rec["md5OfMessageAttributes"] = m.MD5OfMessageAttributes
	}
	return mustJSON(map[string]any{"Records": []any{rec}})
}

// retried reports whether Lambda would leave the message on the queue: a
// function error, or the message among the batch item failures.
func retried(resp lambdafake.Response, id string) bool {
	if resp.Error {
		return true
	}
	var r struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if json.Unmarshal(resp.Body, &r) != nil {
		return true // Lambda fails the whole batch on an invalid response
	}
	for _, f := range r.BatchItemFailures {
		if f.ItemIdentifier == id {
			return true
		}
	}
	return false
}

// grantFleet does for the databases of the fleet routes in routes
// (PGMI_ROUTES) what an operator does before a rollout: the deploy role
// owns each target database and the control schema pgmi_fleet in the
// maintenance database (postgres), so it needs no CREATE there. The
// schema is dropped when the test ends, after the processes stopped.
func grantFleet(tb testing.TB, routes string) {
	tb.Helper()
	var rs []struct {
		Fleet *struct {
			Databases []string `json:"databases"`
		} `json:"fleet"`
	}
	if json.Unmarshal([]byte(routes), &rs) != nil {
		return // the function refuses them itself
	}
	var dbs []string
	for _, r := range rs {
		if r.Fleet != nil {
			dbs = append(dbs, r.Fleet.Databases...)
		}
	}
	if len(dbs) == 0 {
		return
	}
	pg.Exec(tb, "postgres", "CREATE SCHEMA IF NOT EXISTS pgmi_fleet AUTHORIZATION "+deployRole)
	ownedByDeployer(tb, dbs...)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
		if err != nil {
			tb.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS pgmi_fleet CASCADE"); err != nil {
			tb.Error(err)
		}
	})
}
