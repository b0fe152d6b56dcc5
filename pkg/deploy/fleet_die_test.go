package deploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"gocloud.dev/pubsub"

	"github.com/pgmi-cloud/pgmi/internal/testfakes/crashtest"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// fleetChildMessage carries the fleet message a child deployer process
// runs; its environment is the function's.
const fleetChildMessage = "PGMI_TEST_FLEET_CHILD_MESSAGE"

// fleetChild is a deployer process that runs one fleet message (as a
// function invocation would) and exits: 0 when the outcome is final.
func fleetChild(msg string) int {
	cfg, err := deploy.LoadConfig(context.Background(), os.LookupEnv, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	d := deploy.New(cfg, nil)
	defer d.Close()
	req, err := deploy.ParseFleetMessage([]byte(msg), deploy.Trigger{Source: "fleet"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	o := d.Run(context.Background(), req)
	fmt.Fprintln(os.Stderr, o.Report.Summary())
	if o.Retryable {
		return 1
	}
	return 0
}

// The deployer handling the first wave's message is killed (SIGKILL) in
// the middle of its target's atomic head, before the wave could close. The
// queue delivers the message again: the target's head runs exactly once
// (the row is taken over), the wave closes, the next wave runs, and every
// other target deploys once. A wave message delivered again afterwards
// changes nothing.
func TestFleetDeployerKilledMidWave(t *testing.T) {
	ff := newFleetFixture(t, 4, `{"databases":$DBS,"waves":[1,"100%"],"concurrency":2}`)
	ctx := context.Background()
	topic, err := pubsub.OpenTopic(ctx, ff.topic)
	if err != nil {
		t.Fatal(err)
	}
	defer topic.Shutdown(ctx)
	sub, err := pubsub.OpenSubscription(ctx, ff.topic)
	if err != nil {
		t.Fatal(err)
	}
	req := ff.put("tenants/crash.tgz", ff.signed(crashtest.DeploySQL), "")
	o := ff.run(req)
	want(t, o, deploy.StatusStarted, false)

	// The first wave's one message, taken off the queue by hand.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	m, err := sub.Receive(rctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	m.Ack()
	sub.Shutdown(ctx)
	var fm deploy.FleetMessage
	if err := json.Unmarshal(m.Body, &fm); err != nil || fm.Database != ff.dbs[0] {
		t.Fatalf("first wave message %s (%v), want one for %s", m.Body, err, ff.dbs[0])
	}

	// A deployer process runs it and is killed inside the head.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fleetChildMessage+"="+string(m.Body))
	for k, v := range ff.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inHead := `state = 'active' AND wait_event = 'PgSleep' AND query LIKE '%INSERT INTO head_steps VALUES (2)%'`
	deadline := time.Now().Add(20 * time.Second)
	for countIn(t, pg, fm.Database, "SELECT count(*)::int FROM pg_stat_activity WHERE "+inHead) == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the deployer never reached the head's second step: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if rep := ff.rollout(t, o); rep.Deployed != 0 || rep.Waves[0].Pending != 1 {
		t.Fatalf("after the kill: %d deployed, wave 1 %+v", rep.Deployed, rep.Waves[0])
	}

	// The queue delivers the message again; a worker serves the rest.
	ff.serve(t)
	again, err := deploy.ParseFleetMessage(m.Body, deploy.Trigger{Source: "fleet"})
	if err != nil {
		t.Fatal(err)
	}
	want(t, ff.run(again), deploy.StatusDeployed, false)
	rep := ff.wait(t, o)
	if rep.Status != "complete" || rep.Deployed != 4 {
		t.Fatalf("rollout %s, %d deployed", rep.Status, rep.Deployed)
	}
	checkOnce := func() {
		for _, db := range ff.dbs {
			if p := crashtest.ReadState(t, pg.ConnString("postgres"), db).Problems(); len(p) > 0 {
				t.Fatalf("%s: %s", db, strings.Join(p, "; "))
			}
		}
	}
	checkOnce()
	// The wave message once more: a duplicate; nothing runs again.
	want(t, ff.run(again), deploy.StatusDuplicate, false)
	checkOnce()
}
