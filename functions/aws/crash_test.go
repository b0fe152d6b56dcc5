package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/crashtest"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// TestLambdaKilledMidDeployAppliesHeadOnce proves the exactly-once contract
// of ARCHITECTURE §6 ("Exactly once, even when things die") for the Lambda
// function: the built bootstrap, serving an S3 notification through the
// fake Runtime API, is killed with SIGKILL at one of many points spread over
// deploy.sql's atomic head and its psql tail; then a fresh instance gets the
// same event twice more (Lambda's retries). At every point the head's steps
// are applied exactly once, at most one tail unit runs twice, the ledger
// holds one succeeded row, the first redelivery deploys (it takes the dead
// run's row over) and the second answers duplicate.
//
// Each point has its own database and S3 object; points run at most
// crashtest.Concurrency at a time.
func TestLambdaKilledMidDeployAppliesHeadOnce(t *testing.T) {
	testpg.Require(t, pgErr)
	bin := lambdafake.BuildBinary(t, pkgPath, "lambda.norpc")
	setup := functest.NewSetup(t, pg)
	h := newHarness(t, setup, bin)

	points := crashtest.KillPoints()
	results := make([]string, len(points))
	sem := make(chan struct{}, crashtest.Concurrency)
	var wg sync.WaitGroup
	for i, at := range points {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run("kill_"+strings.ReplaceAll(crashtest.PointName(at, earlyKillPoint), " ", "_"), func(t *testing.T) {
				killLambdaAndRedeliver(t, h, at, &results[i])
			})
		}()
	}
	wg.Wait()
	t.Logf("per kill point (head+: time after deploy.sql's head reached the server):\n%s", strings.Join(results, "\n"))
}

// earlyKillPoint is the first kill point: as soon as the function has a
// session on the target database (before deploy.sql; the ledger row may or
// may not be written yet).
const earlyKillPoint = "connect"

// killLambdaAndRedeliver runs one kill point and writes a one-line account
// of it to account (also when the point fails).
func killLambdaAndRedeliver(t *testing.T, h *harness, at time.Duration, account *string) {
	var phase string
	var outcomes []string
	var state crashtest.State
	defer func() { *account = crashtest.Account(t, at, earlyKillPoint, phase, outcomes, state) }()

	admin := pg.ConnString("postgres")
	db := pg.NewDatabase(t)
	ownedByDeployer(t, db)
	obj := h.upload(t, "crash/"+db+".tgz", signed(t, h, crashtest.DeploySQL))
	event := h.s3Notification(obj)
	opts := functest.Options{Env: map[string]string{"PGDATABASE": db}, Deadline: 60 * time.Second}

	watch := crashtest.Connect(t, admin) // before the function starts: WaitForHead must not miss the head's start
	victim := h.start(t, opts)
	answered := invokeInBackground(victim, event)
	if at > 0 {
		time.Sleep(time.Until(crashtest.WaitForHead(t, watch, db, answered.done).Add(at)))
	} else {
		waitForSession(t, watch, db, answered.done)
	}
	phase = crashtest.StatementOf(t, watch, db)
	victim.procs[0].Stop() // SIGKILL (os.Process.Kill), then wait for the exit
	if answered.done() {
		t.Fatalf("the kill point is too late: the function had already answered %+v, %v (a harness timing problem)\n%s",
			answered.resp, answered.invoked, victim.output())
	}
	answered.abandon()
	t.Logf("SIGKILL %s, while running %s; the function had written:\n%s", crashtest.PointName(at, earlyKillPoint), phase, victim.output())

	// Lambda retries the event on a fresh instance. The first retry waits
	// for the lock the orphaned backend may still hold, then takes the dead
	// run's ledger row over.
	retry := h.start(t, opts)
	for i, want := range []string{"deployed", "duplicate"} {
		resp := retry.invoke(t, event)
		got := "error"
		if !resp.Error {
			if s := decodeSummary(t, resp); len(s.Outcomes) == 1 {
				got = string(s.Outcomes[0].Outcome)
			}
		}
		outcomes = append(outcomes, got)
		if got != want {
			t.Errorf("redelivery %d: outcome %q, want %s; response %s %s %s", i+1, got, want, resp.ErrorType, resp.ErrorMessage, resp.Body)
		}
	}
	if t.Failed() {
		t.Logf("the retried instance wrote:\n%s", retry.output())
	}

	state = crashtest.ReadState(t, admin, db)
	for _, problem := range state.Problems() {
		t.Error(problem)
	}
}

// pendingInvoke is an invocation whose answer is awaited in the background.
type pendingInvoke struct {
	cancel  context.CancelFunc
	exited  chan struct{}
	resp    lambdafake.Response
	invoked error
}

// invokeInBackground hands event to in's runtime without waiting for the
// answer.
func invokeInBackground(in *instance, event []byte) *pendingInvoke {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pendingInvoke{cancel: cancel, exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		p.resp, p.invoked = in.rt.Invoke(ctx, event, time.Now().Add(in.deadline))
	}()
	return p
}

// done reports whether the function answered (or the invocation ended).
func (p *pendingInvoke) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// abandon stops waiting for an answer that will never come.
func (p *pendingInvoke) abandon() {
	p.cancel()
	<-p.exited
}

// waitForSession polls pg_stat_activity until a backend is connected to db.
// gone reports a function that answered.
func waitForSession(t *testing.T, conn *pgx.Conn, db string, gone func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if gone() {
			t.Fatal("the function answered before it connected to the database")
		}
		if time.Now().After(deadline) {
			t.Fatal("the function did not connect to the database within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
