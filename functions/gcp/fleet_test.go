package main

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/jackc/pgx/v5"
	"gocloud.dev/pubsub"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// The fleet queue as infra/gcp makes it: a topic, and the push
// subscription Eventarc creates for its messagePublished trigger.
const (
	fleetTopic        = "projects/" + testProject + "/topics/pgmi-fleet"
	fleetSubscription = "projects/" + testProject + "/subscriptions/eventarc-" + testRegion + "-pgmi-fleet-sub-001"
	// fleetAckDeadline is the subscription's: Eventarc's subscriptions
	// give a push its whole time (600 s), so a long deploy is not
	// delivered a second time while it runs.
	fleetAckDeadline = 600
	// fleetRetryDelay stands in for Eventarc's backoff (10–600 s) before a
	// refused delivery comes again.
	fleetRetryDelay = 300 * time.Millisecond
)

// FleetQueue stands Pub/Sub up: Google's in-memory fake (pstest), over
// real gRPC on loopback, with the fleet topic and the trigger's
// subscription. The function publishes through gocloud's gcppubsubv2
// driver, which PUBSUB_EMULATOR_HOST points at the fake (plain gRPC, no
// credentials); nothing else in the function reads that variable.
func (c *cloud) FleetQueue(t *testing.T) (map[string]string, functest.FleetQueue) {
	t.Helper()
	srv := pstest.NewServer()
	t.Cleanup(func() { srv.Close() })
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	q := &fleetQueue{srv: srv, sub: pb.NewSubscriberClient(conn), replies: map[string][]functest.Reply{}}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := pb.NewPublisherClient(conn).CreateTopic(ctx, &pb.Topic{Name: fleetTopic}); err != nil {
		t.Fatalf("create the fleet topic: %v", err)
	}
	if _, err := q.sub.CreateSubscription(ctx, &pb.Subscription{Name: fleetSubscription, Topic: fleetTopic,
		AckDeadlineSeconds: fleetAckDeadline}); err != nil {
		t.Fatalf("create the trigger's subscription: %v", err)
	}
	return map[string]string{
		"PUBSUB_EMULATOR_HOST": srv.Addr,
		"PGMI_FLEET_TOPIC":     "gcppubsubv2://" + fleetTopic,
	}, q
}

// fleetQueue is the Eventarc trigger on the fleet topic: it takes each
// message from the subscription and pushes it to the function as a
// messagePublished CloudEvent; a 2xx answer acknowledges the message,
// anything else (or no answer) hands it back for another delivery.
type fleetQueue struct {
	srv *pstest.Server
	sub pb.SubscriberClient

	mu      sync.Mutex
	replies map[string][]functest.Reply // message id → the answer to each push
}

// pushes is the answers to the pushes of one message so far.
func (q *fleetQueue) pushes(id string) []functest.Reply {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]functest.Reply(nil), q.replies[id]...)
}

func (q *fleetQueue) Serve(t *testing.T, fi functest.Instance, concurrency int) (stop func()) {
	t.Helper()
	in, ok := fi.(*instance)
	if !ok {
		t.Fatalf("the fleet queue delivers to a GCP instance, not %T", fi)
	}
	concurrency = max(concurrency, 1)
	ctx, cancel := context.WithCancel(context.Background())
	slots := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			// Wait for a free slot, then take as many as are free.
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			free := 1
		fill:
			for free < concurrency {
				select {
				case slots <- struct{}{}:
					free++
				default:
					break fill
				}
			}
			resp, err := q.sub.Pull(ctx, &pb.PullRequest{Subscription: fleetSubscription, MaxMessages: int32(free)})
			if err != nil {
				release(slots, free)
				if ctx.Err() != nil {
					return
				}
				t.Errorf("pull from the fleet subscription: %v", err)
				time.Sleep(fleetRetryDelay)
				continue
			}
			release(slots, free-len(resp.ReceivedMessages))
			for _, rm := range resp.ReceivedMessages {
				wg.Go(func() {
					defer release(slots, 1)
					q.push(ctx, t, in, rm)
				})
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// push delivers one message and settles it.
func (q *fleetQueue) push(ctx context.Context, t *testing.T, in *instance, rm *pb.ReceivedMessage) {
	m := rm.GetMessage()
	ev := messagePublished(pushedMessage{topic: fleetTopic, subscription: fleetSubscription, id: m.GetMessageId(),
		data: m.GetData(), attributes: m.GetAttributes(), published: m.GetPublishTime().AsTime()})
	reply, err := in.send(ctx, ev)
	if ctx.Err() != nil {
		return // stopped: the message stays unacknowledged
	}
	q.mu.Lock()
	q.replies[m.GetMessageId()] = append(q.replies[m.GetMessageId()], reply)
	n := len(q.replies[m.GetMessageId()])
	q.mu.Unlock()
	if err == nil && !reply.Retry {
		if _, err := q.sub.Acknowledge(ctx, &pb.AcknowledgeRequest{Subscription: fleetSubscription, AckIds: []string{rm.GetAckId()}}); err != nil && ctx.Err() == nil {
			t.Errorf("acknowledge fleet message %s: %v", m.GetMessageId(), err)
		}
		return
	}
	t.Logf("fleet message %s, delivery %d: %s; delivered again", m.GetMessageId(), n, reply.Detail)
	select {
	case <-time.After(fleetRetryDelay):
	case <-ctx.Done():
		return
	}
	// A zero ack deadline hands the message back at once.
	if _, err := q.sub.ModifyAckDeadline(ctx, &pb.ModifyAckDeadlineRequest{Subscription: fleetSubscription,
		AckIds: []string{rm.GetAckId()}, AckDeadlineSeconds: 0}); err != nil && ctx.Err() == nil {
		t.Errorf("hand back fleet message %s: %v", m.GetMessageId(), err)
	}
}

// release frees n delivery slots.
func release(slots chan struct{}, n int) {
	for range n {
		<-slots
	}
}

// grantFleet does for the databases of the fleet routes in routes
// (PGMI_ROUTES) what an operator does before a rollout, as the IAM user's
// own databases are set up: the deployer owns each target database, and
// the control schema pgmi_fleet in the maintenance database (postgres),
// so it needs no CREATE there. When the test ends, after the function has
// stopped, it drops them again, so the IAM user can be dropped.
func (c *cloud) grantFleet(t *testing.T, routes string) {
	t.Helper()
	var rs []struct {
		Fleet *struct {
			Databases json.RawMessage `json:"databases"`
		} `json:"fleet"`
	}
	if json.Unmarshal([]byte(routes), &rs) != nil {
		return // the function refuses them itself
	}
	var dbs []string
	for _, r := range rs {
		var list []string
		if r.Fleet != nil && json.Unmarshal(r.Fleet.Databases, &list) == nil { // not a query
			dbs = append(dbs, list...)
		}
	}
	if len(dbs) == 0 {
		return
	}
	pg, role := c.setup.PG, pgx.Identifier{testDBUser}.Sanitize()
	pg.Exec(t, "postgres", "CREATE SCHEMA IF NOT EXISTS pgmi_fleet AUTHORIZATION "+role)
	for _, db := range dbs {
		pg.Exec(t, "postgres", "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" OWNER TO "+role)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		for _, db := range dbs {
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
				t.Error(err)
			}
		}
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS pgmi_fleet CASCADE"); err != nil {
			t.Error(err)
		}
	})
}

// TestTopicMux publishes through topicMux, as the deployer does, to
// Google's fake Pub/Sub: the long URL form infra/gcp sets and the short
// form reach the topic they name. gocloud's own opener sends the long form
// to projects/projects/topics/…; when it stops doing so, topicOpener can go.
func TestTopicMux(t *testing.T) {
	srv := pstest.NewServer()
	defer srv.Close()
	t.Setenv("PUBSUB_EMULATOR_HOST", srv.Addr)
	if _, err := srv.GServer.CreateTopic(t.Context(), &pb.Topic{Name: fleetTopic}); err != nil {
		t.Fatal(err)
	}
	send := func(mux *pubsub.URLMux, u, body string) error {
		topic, err := mux.OpenTopic(t.Context(), u)
		if err != nil {
			return err
		}
		defer topic.Shutdown(context.Background())
		return topic.Send(t.Context(), &pubsub.Message{Body: []byte(body)})
	}
	for _, u := range []string{"gcppubsubv2://" + fleetTopic, "gcppubsubv2://" + testProject + "/pgmi-fleet",
		"gcppubsubv2://" + fleetTopic + "?max_send_batch_size=10"} {
		if err := send(topicMux(), u, u); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	if got := len(srv.Messages()); got != 3 {
		t.Fatalf("%d messages on %s, want 3", got, fleetTopic)
	}
	switch err := send(pubsub.DefaultURLMux(), "gcppubsubv2://"+fleetTopic, "default"); {
	case err == nil:
		t.Log("gocloud's gcppubsubv2 opener now reads the long topic URL itself: topicOpener is no longer needed")
	case !strings.Contains(err.Error(), `"projects/projects/topics/pgmi-fleet"`):
		t.Errorf("gocloud's own opener, long form: %v", err)
	}
	for in, want := range map[string]string{
		"gcppubsubv2://projects/p-1/topics/t.x?max_send_batch_size=5": "gcppubsubv2://p-1/t.x?max_send_batch_size=5",
		"gcppubsubv2://p-1/t":                        "gcppubsubv2://p-1/t",
		"gcppubsubv2://projects/p-1/subscriptions/s": "gcppubsubv2://projects/p-1/subscriptions/s",
		"gcppubsubv2://projects/p-1/topics/":         "gcppubsubv2://projects/p-1/topics/",
		"gcppubsubv2://projects/topics/t":            "gcppubsubv2://projects/topics/t",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := shortTopicURL(u).String(); got != want {
			t.Errorf("shortTopicURL(%s) = %s, want %s", in, got, want)
		}
	}
}

// fleetRedelivery: a fleet message whose target cannot be reached yet is
// answered with a 5xx, so Eventarc (here the fake's subscription) delivers
// it again, with the same message id, until it is settled; a malformed one
// is answered 200 and delivered once.
func fleetRedelivery(t *testing.T, s *functest.Setup, c *cloud) {
	env, fq := c.FleetQueue(t)
	q := fq.(*fleetQueue)
	env["PGMI_ROUTES"] = `[{"prefix":"tenants/","fleet":{"databases":"SELECT datname FROM pg_database WHERE false","waves":["100%"]}}]`
	in := c.Start(t, functest.Options{Env: env, Unreachable: true}).(*instance)
	obj := c.Upload(t, "tenants/redelivered.tgz", signed(t, s, "SELECT 1;"))
	body, _ := json.Marshal(deploy.FleetMessage{Action: deploy.ActionDeploy, Rollout: 7, Database: "tenant_unreached",
		Bundle: "gs://" + testBucket + "/" + obj.Key, Version: obj.Version})
	retried := q.srv.Publish(fleetTopic, body, map[string]string{"pgmi-rollout": "7"})
	malformed := q.srv.Publish(fleetTopic, []byte(`{"action":"deploy","rollout":7,"database":"x","bundle":"gs://bkt/k","wave":1}`), nil)
	stop := q.Serve(t, in, 2)
	deadline := time.Now().Add(time.Minute)
	for len(q.pushes(retried)) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	pushes := q.pushes(retried)
	if len(pushes) < 3 {
		t.Fatalf("the unreachable target's message was pushed %d times, want 3 or more", len(pushes))
	}
	for i, r := range pushes {
		if !r.Retry || !strings.HasPrefix(r.Detail, "HTTP 5") {
			t.Fatalf("push %d of the unreachable target's message: %s, want a 5xx", i+1, r.Detail)
		}
	}
	if p := q.pushes(malformed); len(p) != 1 || p[0].Retry {
		t.Fatalf("the malformed message: pushes %+v, want one, acknowledged", p)
	}
	var failed int
	for _, l := range in.Logs(t) {
		if l["eventId"] == retried {
			if l.Outcome() != "failed" || l["retryable"] != true {
				t.Fatalf("a push of the unreachable target's message logged %v", l)
			}
			failed++
		}
	}
	if failed != len(pushes) {
		t.Fatalf("%d outcome lines for %d pushes of message %s", failed, len(pushes), retried)
	}
}
