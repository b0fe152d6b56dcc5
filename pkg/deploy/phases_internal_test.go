package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// Phase names, in pipeline order, as RunPhases reports them. "fetch"
// opens the pinned object; verification reads its download as it arrives
// (teeSpool). "verify+scan" is verification and then the scan of the
// bundle as a project; PiecesAlone times each by itself. The session is
// opened while those run (connectEarly): "connect (rest)" is the wait left
// after them.
var PhaseNames = []string{"fetch", "verify+scan", "connect (rest)", "lock", "ledger check+claim",
	"engine", "ledger record", "result write", "close"}

// Indices into PhaseNames.
const (
	phEngine = 5
	phResult = 7
	phClose  = 8
	phVerify = 9
	phScan   = 10
	PhEngine = phEngine
	PhPipe   = phClose + 1 // phases [0, PhPipe) make up the event
)

// RunPhases runs one deploy request the way Run does (same pieces, same
// order), timing each phase. It exists for BenchmarkPipeline1MB only: it
// calls the pipeline's unexported steps directly, so the production code
// carries no timing hooks. It supports the plain deploy path (no signer
// refresh, no takeover, no stale check beyond what check does).
func RunPhases(ctx context.Context, d *Deployer, req Request) (*Outcome, []time.Duration) {
	ph := make([]time.Duration, len(PhaseNames))
	mark := time.Now()
	lap := func(i int) {
		now := time.Now()
		ph[i] += now.Sub(mark)
		mark = now
	}
	r := &run{d: d, req: req, start: time.Now()}
	r.rep = &Report{Action: req.Action, Platform: req.Trigger.Platform, Source: req.Trigger.Source,
		InvocationID: req.Trigger.InvocationID, EventID: req.Trigger.EventID, Schedule: req.Trigger.Schedule,
		StartedAt: r.start.UTC(), Target: d.targetInfo(req.Database)}
	r.rep.Bundle = BundleInfo{URL: req.Bundle, Version: req.Version, Sequencer: req.Sequencer}
	status, err := r.phases(ctx, lap)
	o := r.finish(ctx, status, err)
	lap(phResult)
	r.close()
	lap(phClose)
	return o, ph
}

func (r *run) phases(ctx context.Context, lap func(int)) (Status, error) {
	if err := r.req.Validate(); err != nil {
		return StatusFailed, err
	}
	r.bucketURL, r.key, _ = r.req.split()
	r.rep.Bundle.Key = r.key
	r.resultOK = true
	route, _ := r.d.cfg.route(r.key)
	r.database = route.Database
	r.rep.Target.Database = r.database
	var err error
	if r.params, err = routeParams(route); err != nil {
		return StatusFailed, err
	}
	lc := &connect.Lifecycle{Target: r.d.cfg.Target, Database: r.database, Log: r.d.log}
	early := connectEarly(ctx, lc)
	defer early.cancel()
	open, err := r.fetch(ctx)
	if err != nil {
		early.discard(ctx)
		return StatusFailed, err
	}
	lap(0)
	if err := r.verifyAndScan(ctx, open); err != nil {
		early.discard(ctx)
		return StatusFailed, err
	}
	lap(1)
	conn, err := early.take(ctx, lc)
	if err != nil {
		return StatusFailed, err
	}
	defer func() { conn.Close(context.WithoutCancel(ctx)); lap(phClose) }()
	lap(2)
	lg := &ledger{table: r.d.cfg.Ledger, conn: conn}
	if err := lockLedger(ctx, lg, time.Now().Add(r.d.cfg.LockWait)); err != nil {
		return StatusFailed, err
	}
	lap(3)
	status, a, prev, err := r.claimRow(ctx, lg, r.ledgerKey())
	if status != "" || err != nil {
		return status, err
	}
	r.rep.Ledger, r.rep.Attempt = a.id, a.number
	lap(4)
	res, derr := engine.DeployProject(ctx, conn, r.project, engine.Options{
		Params: r.params, LockHeld: true, Journal: lg.journal(a, prev), Log: r.d.log,
	})
	r.rep.Deploy = engine.NewEnvelope(res, derr)
	r.rep.ResumedAfterUnits = res.UnitsResumed
	lap(phEngine)
	if ferr := r.record(ctx, conn, lg, a, derr); ferr != nil {
		return StatusFailed, ferr
	}
	lap(6)
	if derr != nil {
		return StatusFailed, derr
	}
	return StatusDeployed, nil
}

// PiecesAlone times the two parts of verifyAndScan on the bytes of a
// bundle: verification (which opens it), and scanning it.
func PiecesAlone(ctx context.Context, d *Deployer, data []byte) (verify, scan time.Duration, err error) {
	r := &run{d: d, rep: &Report{}}
	open := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	opts, err := r.trustedOptions(ctx)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	_, b, err := bundle.VerifyOpen(ctx, open, opts)
	if err != nil {
		return 0, 0, err
	}
	defer b.Close()
	verify = time.Since(start)
	start = time.Now()
	sc := r.scan(b)
	scan = time.Since(start)
	return verify, scan, errors.Join(sc.ymlErr, sc.scanErr)
}
