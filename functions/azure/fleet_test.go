package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/azurefake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/sbqueue"
)

// testsbFile is the one file the test build adds to package main: the
// fleet queue's publishing side goes through sbqueue's testsb:// driver.
const testsbFile = `package main

// Added by functions/azure's test harness through go build -overlay, never
// on disk: no Service Bus emulator runs in tests, so PGMI_FLEET_TOPIC is a
// testsb:// URL, published through gocloud.dev/pubsub to an in-test queue.
import _ "github.com/pgmi-cloud/pgmi/internal/testfakes/sbqueue"
`

// buildHandler builds the custom handler as it ships (its tags, its
// files), plus testsbFile through go build -overlay, so the deployer can
// publish fleet messages to a testsb:// queue. The shipped binary
// (scripts/package.sh) never has that file; internal/archtest checks what
// it links.
func buildHandler(t *testing.T) string {
	t.Helper()
	gomod, err := exec.CommandContext(t.Context(), "go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	tmp := t.TempDir()
	target := filepath.Join(root, "functions", "azure", "zz_testsb.go")
	if _, err := os.Stat(target); err == nil {
		t.Fatalf("%s exists: the overlay must only add a file", target)
	}
	src := filepath.Join(tmp, "zz_testsb.go")
	if err := os.WriteFile(src, []byte(testsbFile), 0o600); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(map[string]any{"Replace": map[string]string{target: src}})
	overlay := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlay, spec, 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "handler")
	args := []string{"build", "-tags", strings.Join(lambdafake.ShippedTags, ","), "-overlay", overlay, "-o", bin, "./functions/azure"}
	cmd := exec.CommandContext(t.Context(), "go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// fleetQueueName is the queue's name, PGMI_FLEET_QUEUE (function.json's
// queueName).
const fleetQueueName = "fleet"

// maxDeliveries is the queue's max_delivery_count (infra/azure's
// fleet_max_deliveries default): a message failed that often is
// dead-lettered, which the scenario never expects.
const maxDeliveries = 5

// FleetQueue implements functest.FleetHarness.
//
// The publishing side is a test driver: no Service Bus emulator runs here
// (Service Bus speaks AMQP; Microsoft's emulator is a container), so the
// handler, built with sbqueue's testsb:// driver added (buildHandler),
// publishes through gocloud.dev/pubsub to an sbqueue.Queue on loopback
// instead of azuresb://. The delivery side is the Functions host's: Serve
// POSTs each message to /Fleet as the host's serviceBusTrigger invocation
// (function.json's binding "message", the Service Bus binding data in
// Metadata), completes it on a 2xx answer and, on a failed invocation,
// abandons it and delivers it again with DeliveryCount + 1, as Service Bus
// does.
func (h *harness) FleetQueue(t *testing.T) (map[string]string, functest.FleetQueue) {
	q := sbqueue.NewQueue(t, fleetQueueName)
	return map[string]string{"PGMI_FLEET_TOPIC": q.URL(), "PGMI_FLEET_QUEUE": q.Name()}, &fleetQueue{q: q}
}

type fleetQueue struct {
	q *sbqueue.Queue
}

// Serve delivers the queue's messages to in, at most concurrency at once
// (host.json's maxConcurrentCalls), until stop, which waits for the
// deliveries in flight.
func (fq *fleetQueue) Serve(t *testing.T, in functest.Instance, concurrency int) (stop func()) {
	inst := in.(*instance)
	ctx, cancel := context.WithCancel(context.Background())
	sem := make(chan struct{}, max(concurrency, 1))
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			m, err := fq.q.Receive(ctx)
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				fq.deliver(ctx, t, inst, m)
			}()
		}
	}()
	return func() {
		cancel()
		<-done
		wg.Wait()
	}
}

// deliver invokes /Fleet with m until the invocation succeeds (the host
// completes the message), delivering it again after a failed one (the host
// abandons it; Service Bus redelivers at once, with DeliveryCount + 1).
func (fq *fleetQueue) deliver(ctx context.Context, t *testing.T, in *instance, m sbqueue.Message) {
	for count := 1; ; count++ {
		r := in.invoke(t, fleetFunction, serviceBusInvocation(m, count, int(in.n.Add(1)%3)))
		if !r.Retry {
			return
		}
		if count == maxDeliveries {
			t.Errorf("fleet message %s dead-lettered after %d failed deliveries: %s\n%s", m.ID, count, r.Detail, m.Body)
			return
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}

// serviceBusInvocation is the host's ServiceBusTrigger invocation of Fleet
// for delivery count of m. form varies what the host's encoding is not
// certain about (EMULATION.md §2c): 0, the body as a JSON string holding
// it and the metadata as the host converts values (a string as a JSON
// string holding a JSON string, a number as a string); 1, the body as a
// string holding that string; 2, the body and the metadata as plain JSON.
func serviceBusInvocation(m sbqueue.Message, count, form int) []byte {
	var body any = string(m.Body)
	switch form {
	case 1:
		body = string(mustJSON(string(m.Body)))
	case 2:
		body = json.RawMessage(m.Body)
	}
	str := func(s string) any {
		if form == 2 {
			return s
		}
		return string(mustJSON(s))
	}
	num := func(n int64) any {
		if form == 2 {
			return n
		}
		return fmt.Sprint(n)
	}
	props := map[string]any{}
	for k, v := range m.Properties {
		props[k] = v
	}
	dotnet := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.9999999Z") }
	return mustJSON(map[string]any{
		"Data": map[string]any{fleetBinding: body},
		"Metadata": map[string]any{
			"MessageId":             str(m.ID),
			"DeliveryCount":         num(int64(count)),
			"SequenceNumber":        num(m.SequenceNumber),
			"EnqueuedTimeUtc":       dotnet(m.EnqueuedTime),
			"ExpiresAtUtc":          dotnet(m.EnqueuedTime.Add(14 * 24 * time.Hour)),
			"LockToken":             str(azurefake.NewID()),
			"ApplicationProperties": props,
			"UserProperties":        props,
			"sys":                   sysMetadata(fleetFunction),
		},
	})
}
