package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"gocloud.dev/pubsub"
	"gocloud.dev/pubsub/mempubsub"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// localFleetTopic is the fleet queue pgmi local serves when
// PGMI_FLEET_TOPIC is unset: a queue inside the process.
const localFleetTopic = "mem://pgmi-fleet"

// fleetRetries is how often a fleet message that failed retryably is
// delivered again before pgmi local --once gives up on its target, as a
// platform would dead-letter it.
const fleetRetries = localRetries

// isMemTopic reports a fleet queue that lives inside one process.
func isMemTopic(topicURL string) bool {
	return strings.HasPrefix(topicURL, mempubsub.Scheme+"://")
}

// fleetTopics is the URL mux a Deployer publishes fleet messages through:
// for mem:// one of this run's own, so that the queue is this run's alone
// (another run in the process, such as a test, has its own); else the
// drivers drivers.go links.
func fleetTopics(topicURL string) *pubsub.URLMux {
	if !isMemTopic(topicURL) {
		return pubsub.DefaultURLMux()
	}
	mux := new(pubsub.URLMux)
	o := new(mempubsub.URLOpener)
	mux.RegisterTopic(mempubsub.Scheme, o)
	mux.RegisterSubscription(mempubsub.Scheme, o)
	return mux
}

// fleetQueue is the fleet queue a run serves: its topic, opened first (a
// mem:// subscription needs its topic), and a subscription to it.
type fleetQueue struct {
	topic *pubsub.Topic
	sub   *pubsub.Subscription
}

// openFleetQueue opens topicURL and subscribes to it. A mem:// message is
// delivered again when it is not acknowledged within ackDeadline (a deploy
// that takes longer would run twice at once and wait for its lock).
func openFleetQueue(ctx context.Context, mux *pubsub.URLMux, topicURL string, ackDeadline time.Duration) (*fleetQueue, error) {
	topic, err := mux.OpenTopic(ctx, topicURL)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "opening the fleet queue PGMI_FLEET_TOPIC")
	}
	subURL := topicURL
	if isMemTopic(topicURL) {
		subURL += "?ackdeadline=" + url.QueryEscape(ackDeadline.String())
	}
	sub, err := mux.OpenSubscription(ctx, subURL)
	if err != nil {
		_ = topic.Shutdown(ctx)
		return nil, fault.Wrap(fault.Config, err, "subscribing to the fleet queue PGMI_FLEET_TOPIC (pgmi local serves mem:// or a queue that opens as both topic and subscription, such as awssqs://)")
	}
	return &fleetQueue{topic: topic, sub: sub}, nil
}

// close ends the subscription and the topic (the Deployer may have shut
// the shared topic down already: that error is no news).
func (q *fleetQueue) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = q.sub.Shutdown(ctx)
	_ = q.topic.Shutdown(ctx)
}

// fleetServer serves a fleet queue through a Deployer and follows the
// rollouts of this run: it prints every target's outcome and each
// rollout's end, and tells --once when they are all done.
type fleetServer struct {
	d      *deploy.Deployer
	printf func(format string, args ...any)
	once   bool // give up on a target after fleetRetries retryable failures

	mu       sync.Mutex
	rollouts map[int64]*followed
	tries    map[string]int
}

// followed is a rollout started (or resumed) by this run.
type followed struct {
	rep    *deploy.RolloutReport
	result string // its rollout result, for messages
	gaveUp error  // --once stopped waiting for a target
	told   bool   // its end was printed
}

func newFleetServer(d *deploy.Deployer, once bool, printf func(string, ...any)) *fleetServer {
	return &fleetServer{d: d, once: once, printf: printf, rollouts: map[int64]*followed{}, tries: map[string]int{}}
}

// serve runs a FleetWorker on q until ctx ends.
func (fs *fleetServer) serve(ctx context.Context, q *fleetQueue) error {
	w := &deploy.FleetWorker{Deployer: fs.d, Sub: q.sub, Concurrency: fs.d.FleetConcurrency(),
		Trigger: deploy.Trigger{Platform: "local", Source: "fleet"}, Outcome: fs.outcome}
	if err := w.Serve(ctx); err != nil {
		return fault.Wrap(fault.Connection, err, "receiving from the fleet queue")
	}
	return nil
}

// follow starts following a rollout this run started or resumed.
func (fs *fleetServer) follow(rep *deploy.RolloutReport, result string) {
	if rep == nil {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, ok := fs.rollouts[rep.Rollout]; !ok {
		fs.rollouts[rep.Rollout] = &followed{rep: rep, result: result}
	}
	fs.update(rep, result)
}

// outcome prints a target's outcome (one line) and notes its rollout.
func (fs *fleetServer) outcome(o *deploy.Outcome) {
	if o.Report == nil {
		fs.printf("failed: %v", o.Err)
		return
	}
	fs.printf("%s", o.Report.Summary())
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if o.Retryable && o.Report.Rollout != 0 {
		fs.retried(o)
	}
	if o.Rollout != nil {
		fs.update(o.Rollout, o.Report.RolloutResult)
	}
}

// retried counts a target's retryable failures; with --once, after
// fleetRetries redeliveries its rollout is no longer waited for.
func (fs *fleetServer) retried(o *deploy.Outcome) {
	key := fmt.Sprintf("%d/%s", o.Report.Rollout, o.Report.Target.Database)
	fs.tries[key]++
	f := fs.rollouts[o.Report.Rollout]
	if !fs.once || f == nil || fs.tries[key] <= fleetRetries || f.gaveUp != nil {
		return
	}
	f.gaveUp = o.Err
	fs.printf("failed: rollout %d: %s failed %d times, retryably: no longer waiting for it (a platform would dead-letter the message; "+
		"pgmi rollout resume queues it again)", o.Report.Rollout, o.Report.Target.Database, fs.tries[key])
}

// update keeps the newest state of a followed rollout (a done state is
// never replaced by an older running one) and prints its end once.
func (fs *fleetServer) update(rep *deploy.RolloutReport, result string) {
	f := fs.rollouts[rep.Rollout]
	if f == nil {
		f = &followed{rep: rep}
		fs.rollouts[rep.Rollout] = f
	}
	if result != "" && f.result == "" {
		f.result = result
	}
	if !f.rep.Done() || rep.UpdatedAt.After(f.rep.UpdatedAt) {
		f.rep = rep
	}
	if f.rep.Done() && !f.told {
		f.told = true
		fs.printf("%s", rolloutLine(f.rep))
		if f.result != "" {
			fs.printf("  rollout result: %s", quoteName(strings.TrimPrefix(f.result, "file://")))
		}
	}
}

// settled reports whether every followed rollout is done (or given up on),
// and the exit code of the first that did not complete.
func (fs *fleetServer) settled() (done bool, code int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	done = true
	first := int64(0)
	for id, f := range fs.rollouts {
		c := 0
		switch {
		case f.gaveUp != nil:
			c = exitcode.Of(f.gaveUp)
		case !f.rep.Done():
			done = false
			continue
		default:
			c = rolloutExitCode(f.rep)
		}
		if c != 0 && (first == 0 || id < first) {
			first, code = id, c
		}
	}
	return done, code
}

// rolloutExitCode is the exit code that stands for a rollout: 0 while it
// runs or once it completed, its exitCode when it halted (13 for a failed
// deploy.sql), 13 when it was aborted.
func rolloutExitCode(r *deploy.RolloutReport) int {
	switch r.Status {
	case "halted":
		if r.ExitCode != 0 {
			return r.ExitCode
		}
		return exitcode.For(fault.Execution)
	case "aborted":
		return exitcode.For(fault.Execution)
	}
	return 0
}

// rolloutLine is one line about a rollout's state.
func rolloutLine(r *deploy.RolloutReport) string {
	line := fmt.Sprintf("rollout %d %s: %s: %d deployed, %d failed, %d pending of %d", r.Rollout, r.Status,
		quoteName(r.Bundle.Key), r.Deployed, r.Failed, r.Pending, r.Total)
	if r.Message != "" {
		line += " (" + r.Message + ")"
	}
	if failed := r.FailedTargets(); len(failed) > 0 {
		names := make([]string, 0, len(failed))
		for _, t := range failed {
			names = append(names, t.Database)
		}
		line += "; failed: " + strings.Join(names, ", ")
	}
	return escapeLine(line)
}
