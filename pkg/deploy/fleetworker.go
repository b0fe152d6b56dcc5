package deploy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gocloud.dev/pubsub"
)

// FleetWorker runs fleet messages from a subscription through a Deployer,
// at most Concurrency at a time: what a platform's queue trigger does for a
// function (an SQS event source mapping, a Pub/Sub push, a Service Bus
// trigger), for pgmi local and tests. A message is acknowledged once its
// outcome is final; a retryable outcome is negatively acknowledged after
// RetryDelay, so the subscription delivers it again.
type FleetWorker struct {
	Deployer    *Deployer
	Sub         *pubsub.Subscription
	Concurrency int           // 0: the Deployer's FleetConcurrency, at least 1
	RetryDelay  time.Duration // 0: one second
	// MaxDeliveries is how often one message is delivered before the
	// worker gives up on it (acknowledges it, as a platform moves it to its
	// dead-letter queue; pgmi rollout resume publishes it again); 0 means 5.
	MaxDeliveries int
	Trigger       Trigger // Platform and Source of the requests
	// Outcome, when set, sees every outcome (and the unreadable
	// messages, as failed outcomes without a Report).
	Outcome func(*Outcome)

	mu         sync.Mutex
	deliveries map[string]int // retryable deliveries so far, by message body
}

// Serve receives until ctx ends or the subscription fails, waiting for the
// messages in flight before it returns.
func (w *FleetWorker) Serve(ctx context.Context) error {
	n := w.Concurrency
	if n <= 0 {
		n = max(w.Deployer.FleetConcurrency(), 1)
	}
	delay := w.RetryDelay
	if delay == 0 {
		delay = time.Second
	}
	if w.MaxDeliveries <= 0 {
		w.MaxDeliveries = 5
	}
	w.deliveries = map[string]int{}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		msg, err := w.Sub.Receive(ctx)
		if err != nil {
			<-sem
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.handle(ctx, msg, delay)
		}()
	}
}

func (w *FleetWorker) handle(ctx context.Context, msg *pubsub.Message, delay time.Duration) {
	trigger := w.Trigger
	trigger.EventID = msg.LoggableID
	req, err := ParseFleetMessage(msg.Body, trigger)
	if err != nil {
		msg.Ack() // the same bytes never parse
		if w.Outcome != nil {
			w.Outcome(&Outcome{Status: StatusFailed, Err: err})
		}
		return
	}
	o := w.Deployer.Run(ctx, req)
	if w.Outcome != nil {
		w.Outcome(o)
	}
	if !o.Retryable || !msg.Nackable() {
		msg.Ack()
		return
	}
	w.mu.Lock()
	w.deliveries[string(msg.Body)]++
	n := w.deliveries[string(msg.Body)]
	if n >= w.MaxDeliveries {
		delete(w.deliveries, string(msg.Body))
	}
	w.mu.Unlock()
	if n >= w.MaxDeliveries {
		w.Deployer.log.Warn(fmt.Sprintf("fleet message for %s (rollout %d) failed %d times, retryably; giving up on it as a dead-letter queue would (pgmi rollout resume publishes it again): %v",
			req.Database, req.Rollout, n, o.Err))
		msg.Ack()
		return
	}
	select {
	case <-time.After(delay):
	case <-ctx.Done():
	}
	msg.Nack()
}
