package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"gocloud.dev/pubsub"

	"github.com/pgmi-cloud/pgmi/internal/backoff"
	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/lockkey"
	"github.com/pgmi-cloud/pgmi/pkg/bundle"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// Options tune a Deployer. nil means the defaults.
type Options struct {
	// Mux opens bucket URLs; nil means blob.DefaultURLMux() (the drivers the
	// composition root blank-imported).
	Mux *blob.URLMux
	// Log receives the pipeline's warnings at WARN (and server notices of
	// severity WARNING); its progress, the engine's and the other notices
	// are detail of one deployment, logged at DEBUG. nil discards it all.
	Log *slog.Logger
	// Topics opens PGMI_FLEET_TOPIC; nil means pubsub.DefaultURLMux() (the
	// drivers the composition root blank-imported).
	Topics *pubsub.URLMux
}

// Deployer runs Requests through the pipeline. One is built per cold start
// and shared by every invocation; Run is safe for concurrent use.
type Deployer struct {
	cfg    *Config
	mux    *blob.URLMux
	topics *pubsub.URLMux
	log    *slog.Logger // never nil

	topicMu  sync.Mutex
	topic    *pubsub.Topic // PGMI_FLEET_TOPIC, opened on first use
	controls controlPool   // idle connections to the maintenance database (fleet control tables)
}

// New builds a Deployer from a loaded configuration.
func New(cfg *Config, opts *Options) *Deployer {
	if opts == nil {
		opts = &Options{}
	}
	d := &Deployer{cfg: cfg, mux: opts.Mux, topics: opts.Topics, log: progressLog(opts.Log)}
	if d.mux == nil {
		d.mux = blob.DefaultURLMux()
	}
	if d.topics == nil {
		d.topics = pubsub.DefaultURLMux()
	}
	cfg.Target.Config.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { engine.LogNotice(d.log, n) }
	return d
}

// Config is the configuration the Deployer was built with.
func (d *Deployer) Config() *Config { return d.cfg }

// Close releases the connection provider (a Cloud SQL dialer …) and the
// fleet queue, after sending what it holds.
func (d *Deployer) Close() error {
	d.topicMu.Lock()
	defer d.topicMu.Unlock()
	var terr error
	if d.topic != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		terr = d.topic.Shutdown(ctx)
		cancel()
		d.topic = nil
	}
	d.controls.closeAll()
	return errors.Join(d.cfg.Target.Close(), terr)
}

// FleetConcurrency is the largest concurrency of the configured fleets, 0
// without fleets: the worker pool pgmi local runs fleet messages with.
func (d *Deployer) FleetConcurrency() int {
	n := 0
	for _, r := range d.cfg.Routes {
		if r.fleet != nil {
			n = max(n, r.fleet.Concurrency)
		}
	}
	return n
}

// Run does what req asks and reports the outcome. It always returns an
// Outcome; the result object has been written, or left as it stood
// (ResultKept), or ResultErr says why not.
func (d *Deployer) Run(ctx context.Context, req Request) *Outcome {
	r := &run{d: d, req: req, start: time.Now()}
	r.rep = &Report{Action: req.Action, Platform: req.Trigger.Platform, Source: req.Trigger.Source,
		InvocationID: req.Trigger.InvocationID, EventID: req.Trigger.EventID, Schedule: req.Trigger.Schedule,
		StartedAt: r.start.UTC(), Target: d.targetInfo(req.Database)}
	r.rep.Bundle = BundleInfo{URL: req.Bundle, Version: req.Version, Sequencer: req.Sequencer}
	r.rep.Rollout = req.Rollout
	dctx, cancel := d.withDeadline(ctx)
	defer cancel()
	status, err := r.run(dctx)
	defer r.close() // after the result is written into the bundle's bucket
	return r.finish(ctx, status, err)
}

// withDeadline applies the platform's deadline minus the margin, or
// PGMI_TIMEOUT when the platform gives none.
func (d *Deployer) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-d.cfg.TimeoutMargin))
	}
	if d.cfg.Timeout > 0 {
		return context.WithTimeout(ctx, d.cfg.Timeout)
	}
	return context.WithCancel(ctx)
}

func (d *Deployer) targetInfo(db string) TargetInfo {
	c := d.cfg.Target.Config
	return TargetInfo{Host: c.Host, Port: c.Port, Database: db, User: c.User, Auth: string(d.cfg.Target.Settings.Auth)}
}

// run is one Request going through the pipeline.
type run struct {
	d           *Deployer
	req         Request
	rep         *Report
	start       time.Time
	bucketURL   string
	key         string
	database    string
	params      engine.Params
	bucket      *blob.Bucket
	remote      *bundle.Remote
	verified    *bundle.Verified
	project     *engine.Project
	fsys        *bundle.Bundle
	resultOK    bool           // a result object may be written (never for keys under the results prefix)
	spooled     *teeSpool      // the bundle's download, when spool holds it in memory
	rollout     *RolloutReport // the rollout this upload started, or this target's after it finished
	redeliver   error          // the outcome stands, but the platform must deliver the event again
	retryFailed bool           // a resumed fleet target: a failed ledger row of this bundle runs again
	recorded    string         // a fleet target already done: the result its run wrote
	wantSHA     string         // a fleet target: the archive its rollout verified (an unversioned object may have changed since)
}

func (r *run) run(ctx context.Context) (Status, error) {
	if err := r.req.Validate(); err != nil {
		return StatusFailed, fault.Wrap(fault.Config, err, "invalid request")
	}
	if r.req.Bundle != "" {
		r.bucketURL, r.key, _ = r.req.split()
		r.rep.Bundle.Key = r.key
		if r.d.isResult(r.key) {
			return StatusIgnored, fmt.Errorf("%s is under the results prefix %q: results are never deployed", r.key, r.d.cfg.ResultsPrefix)
		}
		r.resultOK = true
	}
	if r.req.Action == ActionReset {
		return r.reset(ctx)
	}
	return r.deploy(ctx)
}

func (d *Deployer) isResult(key string) bool {
	p := d.cfg.ResultsPrefix
	return p != "" && len(key) >= len(p) && key[:len(p)] == p
}

func (r *run) close() {
	if r.fsys != nil {
		_ = r.fsys.Close()
	}
	if r.spooled != nil {
		r.spooled.close()
	}
	if r.remote != nil {
		_ = r.remote.Close()
	}
	if r.bucket != nil {
		_ = r.bucket.Close()
	}
}

func (r *run) deploy(ctx context.Context) (Status, error) {
	route, ok := r.d.cfg.route(r.key)
	if !ok {
		return StatusIgnored, fmt.Errorf("no route in PGMI_ROUTES matches %q", r.key)
	}
	switch {
	case route.fleet != nil && r.req.Rollout == 0:
		return r.startRollout(ctx, route)
	case route.fleet != nil:
		return r.fleetTarget(ctx, route)
	case r.req.Rollout != 0:
		return StatusFailed, configErr("fleet message for rollout %d refused: %s routes to database %q, not to a fleet", r.req.Rollout, r.key, route.Database)
	}
	if err := r.d.cfg.checkPayloadDatabase(r.req.Database, route.Database); err != nil {
		return StatusFailed, err
	}
	return r.deployTo(ctx, route, route.Database)
}

// deployTo deploys the bundle to database, a route's (or a fleet target):
// load, then the locked session.
func (r *run) deployTo(ctx context.Context, route Route, database string) (Status, error) {
	r.database = database
	r.rep.Target.Database = r.database
	var err error
	if r.params, err = routeParams(route); err != nil {
		return StatusFailed, fault.Wrap(fault.Config, err, "PGMI_ROUTES")
	}
	lc := &connect.Lifecycle{Target: r.d.cfg.Target, Database: r.database, Log: r.d.log}
	early := connectEarly(ctx, lc)
	defer early.cancel()
	if err := r.load(ctx); err != nil {
		early.discard(ctx)
		if superseded(err, r.req) {
			return StatusStale, fmt.Errorf("the object was replaced after this event, so a newer upload supersedes it: %w", err)
		}
		return StatusFailed, err
	}
	if r.wantSHA != "" && r.verified.ArchiveSHA256 != r.wantSHA {
		early.discard(ctx)
		return StatusStale, fmt.Errorf("the object now holds another bundle (SHA-256 %.12s…, the rollout's is %.12s…): a newer upload of the key replaced it, and its own rollout deploys it",
			r.verified.ArchiveSHA256, r.wantSHA)
	}
	conn, err := early.take(ctx, lc)
	if err != nil {
		return StatusFailed, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return r.session(ctx, conn)
}

// earlyConn is the deploy session being opened while the bundle is
// fetched, verified and scanned: connecting is mostly the server's (and
// the identity provider's) time, so the two overlap. It only connects
// (Lifecycle.Connect): a database that does not exist yet is created after
// the bundle passed, and a refused bundle leaves the server as it was.
type earlyConn struct {
	cancel context.CancelFunc
	done   chan struct{}
	conn   *pgx.Conn
	err    error
}

func connectEarly(ctx context.Context, lc *connect.Lifecycle) *earlyConn {
	ctx, cancel := context.WithCancel(ctx)
	e := &earlyConn{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.conn, e.err = lc.Connect(ctx)
	}()
	return e
}

// take waits for the connection, and opens the database the usual way
// when it was missing (Lifecycle.Open creates it).
func (e *earlyConn) take(ctx context.Context, lc *connect.Lifecycle) (*pgx.Conn, error) {
	<-e.done
	if e.err == nil {
		return e.conn, nil
	}
	if connect.IsMissingDatabase(e.err) {
		return lc.Open(ctx)
	}
	return nil, e.err
}

// discard stops the connection attempt (the bundle was refused) and closes
// what it opened; the attempt's own error is not the run's.
func (e *earlyConn) discard(ctx context.Context) {
	e.cancel()
	<-e.done
	if e.conn != nil {
		e.conn.Close(context.WithoutCancel(ctx))
	}
}

// load fetches the pinned object, verifies all of it, and scans it as a
// project: every offline check, before anything is asked of the session
// (which connectEarly may be opening meanwhile).
func (r *run) load(ctx context.Context) error {
	open, err := r.fetch(ctx)
	if err != nil {
		return err
	}
	return r.verifyAndScan(ctx, open)
}

// fetch opens the pinned object and spools it (spool).
func (r *run) fetch(ctx context.Context) (bundle.Opener, error) {
	b, err := r.d.openBucket(ctx, r.bucketURL)
	if err != nil {
		return nil, &bundle.FetchError{URL: r.req.Bundle, Version: r.req.Version, Code: codeOf(err), Err: err}
	}
	r.bucket = b
	if r.remote, err = bundle.FetchFrom(ctx, b, r.key, r.req.Version, nil); err != nil {
		return nil, err
	}
	r.rep.Bundle.Size = r.remote.Size
	return r.spool(ctx)
}

// A verified bundle hands the engine the files it kept, with their digests.
var _ engine.ContentFS = (*bundle.Bundle)(nil)

// verifyAndScan is load's part after the download: verification of the
// whole bundle, then its scan as a project.
func (r *run) verifyAndScan(ctx context.Context, open bundle.Opener) error {
	opts, err := r.trustedOptions(ctx)
	if err == nil {
		err = r.verifyTrusted(ctx, open, opts)
	}
	if err != nil {
		if data, ok := r.spooled.all(); ok && r.verified == nil {
			// A refused bundle's report still says exactly which bytes
			// were refused (the rest of them downloaded if verification
			// stopped early). Verification hashes the archive as it reads
			// it, so an accepted one is not hashed twice.
			sum := sha256.Sum256(data)
			r.rep.Bundle.SHA256, r.rep.Bundle.Size = hex.EncodeToString(sum[:]), int64(len(data))
		}
		return err
	}
	sc := r.scan(r.fsys)
	if sc.ymlErr != nil {
		return sc.ymlErr
	}
	if !sc.yml.Connection.IsZero() {
		r.d.log.Warn("ignoring the connection block of the bundle's pgmi.yaml: the deployer's own settings apply")
	}
	params := EngineParams(sc.yml)
	params.Merge(r.params)
	if err := params.Validate(); err != nil {
		return err
	}
	r.params = params
	r.project = sc.project
	return sc.scanErr // PGMI_MAX_FILE_SIZE, as pgmi deploy
}

// scanned is a verified bundle scanned as a project (r.scan): the errors
// are kept apart so load reports the first in pipeline order.
type scanned struct {
	yml             pgmiyaml.File
	project         *engine.Project
	ymlErr, scanErr error
}

// scan reads the verified bundle as the engine's project, and its
// pgmi.yaml. Nothing here leaves the process: a bundle within the read
// cache is served from what verification kept (bundle.VerifyOpen).
func (r *run) scan(b *bundle.Bundle) scanned {
	var sc scanned
	if sc.yml, sc.ymlErr = pgmiyaml.Load(b); sc.ymlErr != nil {
		return sc
	}
	sc.project, sc.scanErr = engine.Scan(b, engine.ScanOptions{MaxFileSize: r.d.cfg.Limits.MaxFileSize})
	return sc
}

// spool returns an Opener over the pinned object: for an object of at
// most SpoolLimit bytes, a teeSpool (downloaded once, while verification
// reads it); a larger one is read from the bucket for each pass.
func (r *run) spool(ctx context.Context) (bundle.Opener, error) {
	if r.remote.Size < 0 || r.remote.Size > SpoolLimit {
		return r.remote.Open, nil
	}
	rc, err := r.remote.Open(ctx)
	if err != nil {
		return nil, err
	}
	r.spooled = newTeeSpool(rc, r.remote.Size, SpoolLimit, r.remote.Open)
	return r.spooled.open, nil
}

// trustedOptions are the options a bundle is verified and opened with:
// the current trusted signers (PGMI_TRUSTED_SIGNERS, or as last read from
// PGMI_TRUSTED_SIGNERS_URL: signerSource).
func (r *run) trustedOptions(ctx context.Context) (*bundle.ReadOptions, error) {
	cfg := r.d.cfg
	opts := &bundle.ReadOptions{Trusted: cfg.Trusted, AllowUnsigned: cfg.AllowUnsigned, Limits: cfg.Limits}
	if cfg.signers == nil {
		return opts, nil
	}
	var err error
	if opts.Trusted, err = cfg.signers.current(ctx); err != nil {
		return nil, err
	}
	return opts, nil
}

// verifyTrusted verifies the spooled bundle against opts (trustedOptions);
// a bundle refused for its signer is checked once more against a fresh
// read of PGMI_TRUSTED_SIGNERS_URL when that changed (signerSource).
// An accepted bundle is left open in r.fsys.
func (r *run) verifyTrusted(ctx context.Context, open bundle.Opener, opts *bundle.ReadOptions) error {
	cfg := r.d.cfg
	err := r.verify(ctx, open, opts)
	if cfg.signers == nil || !signerRefused(err) {
		return err
	}
	fresh, changed, rerr := cfg.signers.refresh(ctx, opts.Trusted)
	if rerr != nil || !changed {
		return err
	}
	opts.Trusted = fresh
	return r.verify(ctx, open, opts)
}

// verify verifies the bundle and opens it in the same pass: what it
// verified is what the engine reads, inflated once (bundle.VerifyOpen).
func (r *run) verify(ctx context.Context, open bundle.Opener, opts *bundle.ReadOptions) error {
	v, b, err := bundle.VerifyOpen(ctx, open, opts)
	if err != nil {
		return err
	}
	r.verified, r.fsys = v, b
	m := v.Manifest
	info := &r.rep.Bundle
	info.SHA256, info.Size, info.Name, info.Release = v.ArchiveSHA256, v.ArchiveSize, m.Name, m.Version
	if m.Source != nil {
		info.Commit = m.Source.Commit
	}
	if v.Signer != nil {
		info.Signer = &SignerInfo{Principals: v.Signer.Principals, Fingerprint: v.Signer.Fingerprint}
	}
	return nil
}

// session runs the locked part on the deploy session: ledger check, engine,
// ledger record. The pipeline owns the database's deploy lock from the
// ledger check until the row is final (closing the session releases it);
// the engine runs with the lock held and releases nothing it did not take.
func (r *run) session(ctx context.Context, conn *pgx.Conn) (Status, error) {
	lg := &ledger{table: r.d.cfg.Ledger, conn: conn}
	if err := lockLedger(ctx, lg, time.Now().Add(r.d.cfg.LockWait)); err != nil {
		return StatusFailed, err
	}
	status, a, prev, err := r.claimRow(ctx, lg, r.ledgerKey())
	if status != "" || err != nil {
		return status, err
	}
	r.rep.Ledger, r.rep.Attempt = a.id, a.number
	res, derr := engine.DeployProject(ctx, conn, r.project, engine.Options{
		Params: r.params, LockHeld: true, Journal: lg.journal(a, prev),
		Log: r.d.log,
	})
	r.rep.Deploy = engine.NewEnvelope(res, derr)
	r.rep.ResumedAfterUnits = res.UnitsResumed
	if ferr := r.record(ctx, conn, lg, a, derr); ferr != nil {
		r.d.log.Warn("the ledger could not record the outcome (the next delivery takes the row over): " + ferr.Error())
	}
	if derr != nil {
		return StatusFailed, derr
	}
	return StatusDeployed, nil
}

// record writes the engine's outcome into the ledger row, within the time
// the platform leaves after the deadline (the margin, at most 5 s). The
// engine keeps the session after a confirmed cancel, so this is normally
// the deploy session, still holding the lock. When the session was lost
// the row is finished over a new connection, guarded by the attempt's
// claim token (a newer attempt that took the row over wins); if that fails
// too, the row stays running and the next delivery takes it over.
func (r *run) record(ctx context.Context, conn *pgx.Conn, lg *ledger, a attempt, derr error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if conn.IsClosed() {
		fresh, err := r.d.cfg.Target.Dial(rctx, r.database)
		if err != nil {
			return err
		}
		defer fresh.Close(rctx)
		lg = &ledger{table: lg.table, conn: fresh}
	}
	return lg.finish(rctx, a, derr, exitcode.Of(derr), retryable(derr))
}

// ledgerKey is the request's ledger row: the bundle's identity (URL,
// version, SHA-256) and action, and for a reset its scheduled run. A
// deploy's schedule (a scheduler's action payload) is not part of it: the
// same bundle is the same deploy, whoever delivers it.
func (r *run) ledgerKey() ledgerKey {
	k := ledgerKey{Bundle: r.req.Bundle, Version: r.req.Version, SHA256: r.verified.ArchiveSHA256, Action: r.req.Action}
	if r.req.Action == ActionReset {
		k.Schedule = r.req.Trigger.Schedule
	}
	return k
}

func (r *run) claim() claim {
	c := claim{Bucket: r.bucketURL, Sequencer: r.req.Sequencer, Manifest: r.rep.Bundle.Name, ManifestVersion: r.rep.Bundle.Release,
		Platform: r.req.Trigger.Platform, Invocation: r.req.Trigger.InvocationID}
	if s := r.rep.Bundle.Signer; s != nil {
		c.Signer = s.Principals + " " + s.Fingerprint
	}
	return c
}

// claimRow decides, under the lock, whether the bundle still needs
// deploying, and claims its ledger row when it does. It returns a status
// when it does not (a duplicate, or an upload older than one the ledger
// has), and otherwise the attempt and the row it took over: nil for a new
// row, or the row an earlier attempt left (a retryable failure, a running
// row). Holding the lock proves a running row's deployer is gone (a live
// one would hold it), whoever it was, whatever this role may see of other
// sessions. A new upload, the usual case, costs one statement (two with a
// sequencer): the insert itself finds out whether a row exists.
func (r *run) claimRow(ctx context.Context, lg *ledger, k ledgerKey) (Status, attempt, *Entry, error) {
	failed := func(err error, what string) (Status, attempt, *Entry, error) {
		return StatusFailed, attempt{}, nil, fault.Wrap(fault.Internal, err, "%s", what)
	}
	newer, err := r.newerUpload(ctx, lg)
	if err != nil {
		return failed(err, "reading the ledger")
	}
	c := r.claim()
	if newer == nil {
		a, ok, err := lg.claimNew(ctx, k, c)
		if err != nil {
			return failed(err, "recording the deploy in the ledger")
		}
		if ok {
			return "", a, nil, nil
		}
	}
	e, err := lg.find(ctx, k)
	switch {
	case err != nil:
		return failed(err, "reading the ledger")
	case e == nil && newer == nil:
		return failed(errors.New("the row the insert collided with is gone"), "reading the ledger")
	case e != nil && (e.Status == ledgerSucceeded || (e.final() && !r.retryFailed)):
		r.rep.Previous = e.redacted()
		return StatusDuplicate, attempt{}, nil, nil
	case newer != nil && (e == nil || newer.ID != e.ID):
		r.rep.Previous = newer.redacted()
		return StatusStale, attempt{}, nil, nil
	case e.Status == ledgerRunning:
		r.d.log.Info(fmt.Sprintf("taking over ledger row %d: the deployer that started it is gone (its session no longer holds the deploy lock)%s",
			e.ID, resumeNote(e)))
	}
	a, err := lg.takeOver(ctx, e, c)
	if err != nil {
		return failed(err, "recording the deploy in the ledger")
	}
	return "", a, e, nil
}

func resumeNote(e *Entry) string {
	if e.UnitsDone == 0 {
		return "; nothing of deploy.sql had committed, so it runs from the start"
	}
	return fmt.Sprintf("; %d execution unit(s) of deploy.sql had committed (1 = the atomic head), so it resumes after them", e.UnitsDone)
}

// newerUpload returns the ledger's newest row for the same object when its
// upload is newer than this one (by sequencer), or nil.
func (r *run) newerUpload(ctx context.Context, lg *ledger) (*Entry, error) {
	if r.req.Sequencer == "" || r.req.Action != ActionDeploy {
		return nil, nil
	}
	n, err := lg.newest(ctx, r.req.Bundle)
	if err != nil || n == nil || !Newer(n.Sequencer, r.req.Sequencer) {
		return nil, err
	}
	return n, nil
}

// lockPolicy polls a busy deploy lock every 200 ms.
var lockPolicy = backoff.Policy{Base: 200 * time.Millisecond, Factor: 1}

// tryLockSQL is engine.TryLock's statement (the key from internal/lockkey)
// with the ledger's readiness (ledgerReadySQL), sent in one round trip: a
// fresh session has nothing prepared, and each statement a new backend
// runs first costs it catalog lookups.
var tryLockSQL = "SELECT pg_try_advisory_lock(" + lockkey.SQL("current_database()") + "), " + ledgerReadySQL

// lockLedger takes the deploy advisory lock (the engine's own key, so a
// pgmi CLI deploy and a function exclude each other), polling until
// waitUntil, then creates or upgrades the ledger under it when the same
// statement found it missing or old.
func lockLedger(ctx context.Context, lg *ledger, waitUntil time.Time) error {
	conn := lg.conn
	start := time.Now()
	var tryErr error
	var ready, schema bool
	args := append([]any{oneTrip}, lg.readyArgs()...)
	err := lockPolicy.Poll(ctx, waitUntil, func() (bool, error) {
		var ok bool
		err := conn.QueryRow(ctx, tryLockSQL, args...).Scan(&ok, &ready, &schema)
		if err != nil {
			tryErr = fault.Wrap(fault.Connection, err, "taking the deploy lock")
		}
		return ok, tryErr
	})
	switch {
	case err == nil && tryErr == nil:
		if err := lg.complete(ctx, ready, schema); err != nil {
			return fault.Wrap(fault.Internal, err, "")
		}
		return nil
	case tryErr != nil:
		return tryErr
	case errors.Is(err, backoff.ErrDeadline):
		return fault.Errorf(fault.Concurrent, "another deployment holds the deploy lock of database %q (waited %s, PGMI_LOCK_WAIT)",
			conn.Config().Database, time.Since(start).Round(time.Second))
	}
	return fault.Errorf(fault.Timeout, "timed out waiting for the deploy lock of database %q", conn.Config().Database)
}

// retryable reports a failure worth delivering the event again: the
// database unreachable or busy, a deadline, an interrupted function, a
// transient storage error, a dropped connection (fault.Retryable).
func retryable(err error) bool { return fault.Retryable(err) }

// superseded reports a deploy whose pinned version was overwritten before
// it could be read: an ETag pin (Azure) fails with FailedPrecondition once
// a newer upload replaced the blob, whose own event deploys it.
func superseded(err error, req Request) bool {
	var fe *bundle.FetchError
	return req.Version != "" && req.Sequencer != "" && errors.As(err, &fe) && fe.Code == gcerrors.FailedPrecondition
}

// EngineParams returns the params block of a pgmi.yaml as engine
// parameters, in key order.
func EngineParams(f pgmiyaml.File) engine.Params {
	var p engine.Params
	keys := make([]string, 0, len(f.Params))
	for k := range f.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.Set(k, f.Params[k])
	}
	return p
}
