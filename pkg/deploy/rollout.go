package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"gocloud.dev/pubsub"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// A rollout deploys one upload to every database of a fleet route, wave by
// wave. Its state lives in the control tables of the maintenance database
// (schema pgmi_fleet, created on first use): one row per rollout, one per
// target. The fleet queue (PGMI_FLEET_TOPIC) carries one FleetMessage per
// target of the current wave; each is delivered back to a deployer, which
// runs the ordinary pipeline for that target and then records the outcome.
// The completion that leaves no target of the wave open closes it, under
// the rollout row's lock: it publishes the next wave (before its commit, so
// a crash means a redelivery, never a lost wave) or halts the rollout when
// more targets failed than the failure budget allows. Nothing polls.

// Target and rollout states in the control tables.
const (
	rolloutRunning  = "running"
	rolloutHalted   = "halted"
	rolloutComplete = "complete"
	rolloutAborted  = "aborted"

	targetPending  = "pending" // a later wave
	targetQueued   = "queued"  // its message is on the fleet queue
	targetDeployed = "deployed"
	targetFailed   = "failed"
	targetStale    = "stale" // a newer upload of the key was already deployed there
)

// fleetDDL creates the control tables in schema pgmi_fleet (which exists).
const fleetDDL = `
CREATE TABLE IF NOT EXISTS pgmi_fleet.rollouts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bundle        text        NOT NULL,
    bucket        text        NOT NULL DEFAULT '',
    version       text        NOT NULL DEFAULT '',
    sha256        text        NOT NULL,
    sequencer     text        NOT NULL DEFAULT '',
    prefix        text        NOT NULL,
    spec          jsonb       NOT NULL,
    status        text        NOT NULL CHECK (status IN ('running', 'halted', 'complete', 'aborted')),
    wave          integer     NOT NULL DEFAULT 0,
    waves         integer     NOT NULL,
    max_failures  integer     NOT NULL,
    concurrency   integer     NOT NULL,
    message       text,
    results       text        NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    reported_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (bundle, version, sha256)
);
CREATE TABLE IF NOT EXISTS pgmi_fleet.targets (
    rollout     bigint      NOT NULL REFERENCES pgmi_fleet.rollouts (id) ON DELETE CASCADE,
    database    text        NOT NULL,
    ord         integer     NOT NULL,
    wave        integer     NOT NULL,
    status      text        NOT NULL CHECK (status IN ('pending', 'queued', 'deployed', 'failed', 'stale')),
    exit_code   integer,
    error       text,
    result      text,
    deliveries  integer     NOT NULL DEFAULT 0,
    retry_failed boolean    NOT NULL DEFAULT false, -- resumed: a failed deploy of this bundle runs again
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (rollout, database)
);
CREATE INDEX IF NOT EXISTS targets_open ON pgmi_fleet.targets (rollout, wave) WHERE status IN ('pending', 'queued');
COMMENT ON TABLE pgmi_fleet.rollouts IS 'pgmi fleet rollouts: one row per upload to a fleet route (written by the pgmi deployer)';`

// FleetMessage is the body of a fleet queue message: deploy Bundle (at
// Version) to Database as a target of rollout Rollout. It has the members
// of an action payload, so every adapter reads it as one.
type FleetMessage struct {
	Action   Action `json:"action"`
	Rollout  int64  `json:"rollout"`
	Database string `json:"database"`
	Bundle   string `json:"bundle"`
	Version  string `json:"version,omitempty"`
	Bucket   string `json:"bucket,omitempty"` // only for file:// folders (pgmi local)
}

// ParseFleetMessage reads a fleet queue message into a Request.
func ParseFleetMessage(body []byte, trigger Trigger) (Request, error) {
	var m FleetMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Request{}, fmt.Errorf("invalid fleet message: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Request{}, fmt.Errorf("invalid fleet message: more than one JSON value")
	}
	req := Request{Action: m.Action, Bundle: m.Bundle, Bucket: m.Bucket, Version: m.Version, Database: m.Database,
		Rollout: m.Rollout, Trigger: trigger}
	if m.Rollout == 0 {
		return Request{}, fmt.Errorf("invalid fleet message: no rollout")
	}
	if err := req.Validate(); err != nil {
		return Request{}, fmt.Errorf("invalid fleet message: %w", err)
	}
	return req, nil
}

// RolloutReport is the rollout result object, <results prefix><key>.<version>.rollout.json,
// rewritten whenever a target finishes.
type RolloutReport struct {
	Rollout     int64         `json:"rollout"`
	Status      string        `json:"status"` // running, halted, complete, aborted
	Message     string        `json:"message,omitempty"`
	ExitCode    int           `json:"exitCode"` // 0 unless halted: then the first failed target's
	Bundle      BundleInfo    `json:"bundle"`
	Prefix      string        `json:"prefix"`
	Wave        int           `json:"wave"` // the current wave, from 1
	MaxFailures int           `json:"maxFailures"`
	Concurrency int           `json:"concurrency"`
	Total       int           `json:"total"`
	Deployed    int           `json:"deployed"`
	Failed      int           `json:"failed"`
	Pending     int           `json:"pending"` // queued or in a later wave
	Waves       []WaveReport  `json:"waves"`
	Targets     []TargetState `json:"targets"`
	StartedAt   time.Time     `json:"startedAt"`
	UpdatedAt   time.Time     `json:"updatedAt"`
}

// WaveReport counts one wave's targets.
type WaveReport struct {
	Wave     int    `json:"wave"` // from 1
	Size     int    `json:"size"`
	Deployed int    `json:"deployed"`
	Failed   int    `json:"failed"`
	Pending  int    `json:"pending"`
	Status   string `json:"status"` // waiting, running, done
}

// TargetState is one target of a rollout.
type TargetState struct {
	Database   string `json:"database"`
	Wave       int    `json:"wave"` // from 1
	Status     string `json:"status"`
	ExitCode   int    `json:"exitCode,omitempty"`
	Error      string `json:"error,omitempty"`
	Result     string `json:"result,omitempty"` // the target's result object
	Deliveries int    `json:"deliveries,omitempty"`
}

// Done reports whether the rollout will not move without a person
// (complete, halted or aborted).
func (r *RolloutReport) Done() bool { return r.Status != rolloutRunning }

// FailedTargets are the targets that failed, in fleet order.
func (r *RolloutReport) FailedTargets() []TargetState {
	var out []TargetState
	for _, t := range r.Targets {
		if t.Status == targetFailed {
			out = append(out, t)
		}
	}
	return out
}

// RolloutResultName is the key of a rollout's result object: the upload's
// result name with .rollout.json for .json.
func RolloutResultName(prefix, key, version string) string {
	name := ResultName(prefix, &Report{Action: ActionDeploy, Bundle: BundleInfo{Key: key, Version: version}})
	return strings.TrimSuffix(name, ".json") + ".rollout.json"
}

// control is a connection to the maintenance database, where the control
// tables are.
type control struct {
	d    *Deployer
	conn *pgx.Conn
}

func (d *Deployer) openControl(ctx context.Context, create bool) (*control, error) {
	conn, err := d.controls.get(ctx)
	if err != nil {
		lc := &connect.Lifecycle{Target: d.cfg.Target, Database: d.cfg.Target.Maintenance, Log: d.log}
		if conn, err = lc.Connect(ctx); err != nil {
			return nil, fault.Wrap(fault.Connection, err, "connecting to the maintenance database for the fleet's control tables")
		}
	}
	c := &control{d: d, conn: conn}
	if create {
		if err := c.ensure(ctx); err != nil {
			c.close(ctx)
			return nil, err
		}
	}
	return c, nil
}

// close gives the connection back to the Deployer's idle control
// connections: a warm function, or pgmi local's workers, reuse it.
func (c *control) close(ctx context.Context) { c.d.controls.put(ctx, c.conn) }

// controlPool keeps a few idle connections to the maintenance database.
type controlPool struct {
	mu   sync.Mutex
	idle []*pgx.Conn
}

// maxIdleControls bounds the idle control connections a Deployer keeps.
const maxIdleControls = 8

// get returns an idle connection that answers, or an error when none.
func (p *controlPool) get(ctx context.Context) (*pgx.Conn, error) {
	for {
		p.mu.Lock()
		if len(p.idle) == 0 {
			p.mu.Unlock()
			return nil, errors.New("no idle control connection")
		}
		conn := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		p.mu.Unlock()
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := conn.Ping(pctx)
		cancel()
		if err == nil {
			return conn, nil
		}
		conn.Close(context.WithoutCancel(ctx))
	}
}

func (p *controlPool) put(ctx context.Context, conn *pgx.Conn) {
	if conn.IsClosed() || conn.PgConn().TxStatus() != 'I' {
		conn.Close(context.WithoutCancel(ctx))
		return
	}
	p.mu.Lock()
	if len(p.idle) < maxIdleControls {
		p.idle = append(p.idle, conn)
		conn = nil
	}
	p.mu.Unlock()
	if conn != nil {
		conn.Close(context.WithoutCancel(ctx))
	}
}

func (p *controlPool) closeAll() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, conn := range idle {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(ctx)
		cancel()
	}
}

func (c *control) ensure(ctx context.Context) error {
	var ready, schema bool
	err := c.conn.QueryRow(ctx, "SELECT to_regclass('pgmi_fleet.targets') IS NOT NULL, to_regnamespace('pgmi_fleet') IS NOT NULL", oneTrip).Scan(&ready, &schema)
	if err != nil || ready {
		return err
	}
	if !schema {
		if _, err := c.conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS pgmi_fleet"); err != nil {
			return fault.Wrap(fault.Config, err, "creating the fleet control schema pgmi_fleet in the maintenance database (grant the deployer CREATE there, or create it)")
		}
	}
	if _, err := c.conn.Exec(ctx, fleetDDL); err != nil && !createdMeanwhile(err) {
		return fault.Wrap(fault.Internal, err, "creating the fleet control tables")
	}
	return nil
}

// createdMeanwhile reports a CREATE that lost a race with another session
// creating the same object.
func createdMeanwhile(err error) bool {
	code := sqlState(err)
	return code == "42P07" || code == "23505" || code == "42P06"
}

func sqlState(err error) string {
	var s interface{ SQLState() string }
	if errors.As(err, &s) {
		return s.SQLState()
	}
	return ""
}

// resolve runs the fleet's query (or takes its list) and checks each name:
// never a template or the maintenance database. Duplicates keep their first
// place.
func (c *control) resolve(ctx context.Context, spec *FleetSpec) ([]string, error) {
	names := spec.List
	if spec.Query != "" {
		rows, err := c.conn.Query(ctx, spec.Query, pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			return nil, fault.Wrap(fault.Config, err, "running the fleet's databases query on the maintenance database")
		}
		names = nil
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil || len(vals) == 0 {
				rows.Close()
				return nil, fault.Errorf(fault.Config, "the fleet's databases query must return the database names in its first column: %v", err)
			}
			names = append(names, fmt.Sprint(vals[0]))
		}
		if err := rows.Err(); err != nil {
			return nil, fault.Wrap(fault.Config, err, "running the fleet's databases query")
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, db := range names {
		if seen[db] {
			continue
		}
		seen[db] = true
		if err := checkDatabase(db); err != nil {
			return nil, fault.Errorf(fault.Config, "fleet target refused: %v", err)
		}
		if isTemplate(db) || db == c.d.cfg.Target.Maintenance {
			return nil, fault.Errorf(fault.Config, "fleet target %q refused: a fleet never includes a template or the maintenance database", db)
		}
		out = append(out, db)
	}
	return out, nil
}

// startRollout is an upload to a fleet route: the bundle is verified once
// (a bundle every target would refuse is refused here), the targets are
// resolved and recorded, and the first wave is published. A redelivered
// upload finds its rollout and changes nothing.
func (r *run) startRollout(ctx context.Context, route Route) (Status, error) {
	if r.req.Database != "" {
		return StatusFailed, configErr("deploy to database %q refused: %s routes to a fleet; an action payload starts its rollout and names no database", r.req.Database, r.key)
	}
	if err := r.load(ctx); err != nil {
		if superseded(err, r.req) {
			return StatusStale, fmt.Errorf("the object was replaced after this event, so a newer upload supersedes it: %w", err)
		}
		return StatusFailed, err
	}
	c, err := r.d.openControl(ctx, true)
	if err != nil {
		return StatusFailed, err
	}
	defer c.close(ctx)
	rep, created, err := c.start(ctx, r, route)
	if errors.Is(err, errStale) {
		r.rollout = rep
		return StatusStale, fmt.Errorf("rollout %d of a newer upload of %s is recorded: this older upload starts none", rep.Rollout, r.key)
	}
	if err != nil {
		return StatusFailed, err
	}
	r.rep.Rollout = rep.Rollout
	r.rollout = rep
	if !created {
		r.rep.Message = fmt.Sprintf("rollout %d of this upload is already %s", rep.Rollout, rep.Status)
		return StatusDuplicate, nil
	}
	r.rep.Message = fmt.Sprintf("rollout %d started: %d target(s) in %d wave(s)", rep.Rollout, rep.Total, len(rep.Waves))
	return StatusStarted, nil
}

func (c *control) start(ctx context.Context, r *run, route Route) (*RolloutReport, bool, error) {
	spec := route.fleet
	specJSON, _ := json.Marshal(spec)
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		return nil, false, fault.Wrap(fault.Connection, err, "")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	sha := r.verified.ArchiveSHA256
	// Rollouts of one object key start one at a time; an older upload's
	// event arriving late starts nothing, and a newer upload supersedes
	// the rollouts of that key still running.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('pgmi_fleet ' || $1, 0))`, r.req.Bundle); err != nil {
		return nil, false, fault.Wrap(fault.Connection, err, "")
	}
	older, err := c.others(ctx, tx, r.req.Bundle, r.req.Version, sha)
	if err != nil {
		return nil, false, err
	}
	for _, o := range older {
		if r.req.Sequencer != "" && o.sequencer != "" && Newer(o.sequencer, r.req.Sequencer) {
			rep, _, err := readRollout(ctx, tx, o.id)
			if err != nil {
				return nil, false, err
			}
			return rep, false, errStale
		}
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO pgmi_fleet.rollouts (bundle, bucket, version, sha256, sequencer, prefix, spec, status, waves, max_failures, concurrency, results)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', 0, 0, $8, $9)
		ON CONFLICT (bundle, version, sha256) DO NOTHING RETURNING id`,
		r.req.Bundle, r.req.Bucket, r.req.Version, sha, r.req.Sequencer, route.Prefix, string(specJSON), spec.Concurrency, r.d.cfg.ResultsPrefix).Scan(&id)
	if err == nil {
		for _, o := range older {
			if o.status != rolloutRunning {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE pgmi_fleet.rollouts SET status = 'aborted', message = $2, updated_at = clock_timestamp() WHERE id = $1`,
				o.id, fmt.Sprintf("superseded by rollout %d, a newer upload of the same key", id)); err != nil {
				return nil, false, fault.Wrap(fault.Internal, err, "superseding an older rollout")
			}
			if _, err := c.report(ctx, tx, o.id); err != nil {
				return nil, false, err
			}
			c.d.log.Info(fmt.Sprintf("rollout %d superseded by rollout %d (a newer upload of the same key)", o.id, id))
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		if err := tx.QueryRow(ctx, `SELECT id FROM pgmi_fleet.rollouts WHERE bundle = $1 AND version = $2 AND sha256 = $3`,
			r.req.Bundle, r.req.Version, sha).Scan(&id); err != nil {
			return nil, false, fault.Wrap(fault.Internal, err, "reading the rollout")
		}
		rep, _, err := readRollout(ctx, tx, id) // a duplicate rewrites nothing
		return rep, false, err
	}
	if err != nil {
		return nil, false, fault.Wrap(fault.Internal, err, "recording the rollout")
	}
	dbs, err := c.resolve(ctx, spec)
	if err != nil {
		return nil, false, err
	}
	wave, waves := spec.resolveWaves(len(dbs))
	ord := make([]int32, len(dbs))
	w := make([]int32, len(dbs))
	for i := range dbs {
		ord[i], w[i] = int32(i), int32(wave[i])
	}
	status, msg := rolloutRunning, ""
	if len(dbs) == 0 {
		status, msg = rolloutComplete, "the fleet has no databases: nothing to deploy"
	}
	if _, err := tx.Exec(ctx, `UPDATE pgmi_fleet.rollouts SET waves = $2, max_failures = $3, status = $4, message = nullif($5, '') WHERE id = $1`,
		id, waves, spec.budget(len(dbs)), status, msg); err != nil {
		return nil, false, fault.Wrap(fault.Internal, err, "recording the rollout")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO pgmi_fleet.targets (rollout, database, ord, wave, status)
		SELECT $1, d, o, w, 'pending' FROM unnest($2::text[], $3::int[], $4::int[]) AS t(d, o, w)`, id, dbs, ord, w); err != nil {
		return nil, false, fault.Wrap(fault.Internal, err, "recording the rollout's targets")
	}
	if len(dbs) > 0 {
		if err := c.queueWave(ctx, tx, id, 0); err != nil {
			return nil, false, err
		}
	}
	rep, err := c.report(ctx, tx, id)
	if err != nil {
		return nil, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, fault.Wrap(fault.Connection, err, "committing the rollout")
	}
	return rep, true, nil
}

// errStale is start's answer for an upload older than one whose rollout
// is recorded.
var errStale = errors.New("a newer upload of this key started a rollout")

type otherRollout struct {
	id                int64
	sequencer, status string
}

// others are the rollouts of bundleURL other than this upload's.
func (c *control) others(ctx context.Context, tx pgx.Tx, bundleURL, version, sha string) ([]otherRollout, error) {
	rows, err := tx.Query(ctx, `SELECT id, sequencer, status FROM pgmi_fleet.rollouts
		WHERE bundle = $1 AND NOT (version = $2 AND sha256 = $3) ORDER BY id`, bundleURL, version, sha)
	if err != nil {
		return nil, fault.Wrap(fault.Internal, err, "reading the rollouts of this key")
	}
	defer rows.Close()
	var out []otherRollout
	for rows.Next() {
		var o otherRollout
		if err := rows.Scan(&o.id, &o.sequencer, &o.status); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// queueWave marks wave's pending targets queued and publishes a message for
// each of its open (pending or queued) targets, inside tx: if publishing
// fails the transaction rolls back, and the caller's delivery is retried.
func (c *control) queueWave(ctx context.Context, tx pgx.Tx, id int64, wave int) error {
	var msg FleetMessage
	if err := tx.QueryRow(ctx, `SELECT bundle, bucket, version FROM pgmi_fleet.rollouts WHERE id = $1`, id).Scan(&msg.Bundle, &msg.Bucket, &msg.Version); err != nil {
		return fault.Wrap(fault.Internal, err, "reading the rollout")
	}
	rows, err := tx.Query(ctx, `UPDATE pgmi_fleet.targets SET status = 'queued', updated_at = clock_timestamp()
		WHERE rollout = $1 AND wave = $2 AND status IN ('pending', 'queued') RETURNING database, ord`, id, wave)
	if err != nil {
		return fault.Wrap(fault.Internal, err, "queueing the wave")
	}
	type t struct {
		db  string
		ord int
	}
	var targets []t
	for rows.Next() {
		var x t
		if err := rows.Scan(&x.db, &x.ord); err != nil {
			rows.Close()
			return err
		}
		targets = append(targets, x)
	}
	if err := rows.Err(); err != nil {
		return fault.Wrap(fault.Internal, err, "queueing the wave")
	}
	slices.SortFunc(targets, func(a, b t) int { return a.ord - b.ord }) // fleet order (RETURNING has none)
	msgs := make([]FleetMessage, 0, len(targets))
	for _, x := range targets {
		m := msg
		m.Action, m.Rollout, m.Database = ActionDeploy, id, x.db
		msgs = append(msgs, m)
	}
	return c.d.publish(ctx, msgs)
}

// publish sends the messages to the fleet queue, a few at a time, and
// returns the first failure (retryable: the caller's delivery is retried).
func (d *Deployer) publish(ctx context.Context, msgs []FleetMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	topic, err := d.fleetTopic(ctx)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, m := range msgs {
		body, _ := json.Marshal(m)
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := topic.Send(ctx, &pubsub.Message{Body: body, Metadata: map[string]string{"pgmi-rollout": fmt.Sprint(m.Rollout)}}); err != nil {
				mu.Lock()
				if first == nil {
					first = fault.Wrap(fault.Connection, err, "publishing to the fleet queue (PGMI_FLEET_TOPIC)")
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil {
		d.log.Info(fmt.Sprintf("published %d fleet message(s) for rollout %d", len(msgs), msgs[0].Rollout))
	}
	return first
}

// fleetTopic opens PGMI_FLEET_TOPIC once per Deployer.
func (d *Deployer) fleetTopic(ctx context.Context) (*pubsub.Topic, error) {
	d.topicMu.Lock()
	defer d.topicMu.Unlock()
	if d.topic != nil {
		return d.topic, nil
	}
	if d.cfg.FleetTopic == "" {
		return nil, configErr("no fleet queue: set PGMI_FLEET_TOPIC")
	}
	t, err := d.topics.OpenTopic(ctx, d.cfg.FleetTopic)
	if err != nil {
		return nil, fault.Wrap(fault.Config, err, "opening the fleet queue PGMI_FLEET_TOPIC")
	}
	d.topic = t
	return t, nil
}

// fleetTarget is a fleet message: honoured only when its rollout records
// this target for this bundle, and only while the rollout runs. The
// target is deployed by the ordinary pipeline, then its outcome is
// recorded (closing the wave when it was the last open target of it).
func (r *run) fleetTarget(ctx context.Context, route Route) (Status, error) {
	c, err := r.d.openControl(ctx, false)
	if err != nil {
		return StatusFailed, err
	}
	st, rollStatus, retryFailed, recorded, sequencer, sha, err := c.target(ctx, r.req)
	c.close(ctx)
	if err != nil {
		return StatusFailed, err
	}
	r.rep.Target.Database = r.req.Database
	switch {
	case st == targetDeployed || st == targetFailed || st == targetStale:
		r.rep.Message = fmt.Sprintf("target %s of rollout %d is already %s", r.req.Database, r.req.Rollout, st)
		r.recorded = recorded // its result stands; this delivery writes none
		return StatusDuplicate, nil
	case rollStatus != rolloutRunning:
		return StatusIgnored, fmt.Errorf("rollout %d is %s: target %s is not deployed by it", r.req.Rollout, rollStatus, r.req.Database)
	case st == targetPending:
		// Only a queued target's message is the rollout's: a later wave's
		// target is deployed when its wave starts, not before (a forged
		// message, or one a wave publish that failed left behind).
		return StatusIgnored, fmt.Errorf("target %s of rollout %d is in a wave that has not started: it is not deployed before its wave", r.req.Database, r.req.Rollout)
	}
	// The upload's sequencer, as its rollout recorded it: on each target,
	// an older upload's deploy after a newer one's is stale (the ledger).
	r.retryFailed, r.req.Sequencer, r.wantSHA = retryFailed, sequencer, sha
	r.rep.Bundle.Sequencer = sequencer
	status, derr := r.deployTo(ctx, route, r.req.Database)
	final := ""
	switch {
	case status == StatusDeployed || status == StatusDuplicate && (r.rep.Previous == nil || r.rep.Previous.Status == ledgerSucceeded):
		final = targetDeployed
	case status == StatusStale:
		final = targetStale
	case status == StatusFailed && derr != nil && !retryable(derr), status == StatusDuplicate:
		final = targetFailed
	}
	if final == "" {
		return status, derr // retryable: the queue delivers the message again
	}
	code, msg := 0, ""
	if final == targetFailed {
		if derr != nil {
			code, msg = exitcode.Of(derr), fault.Redact(derr.Error())
		} else if r.rep.Previous != nil {
			code, msg = r.rep.Previous.ExitCode, r.rep.Previous.Error
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.completeTarget(rctx, final, code, msg); err != nil {
		r.redeliver = fmt.Errorf("recording the target's outcome in the rollout failed (the message will be delivered again): %w", err)
	}
	return status, derr
}

func (r *run) completeTarget(ctx context.Context, final string, code int, msg string) error {
	c, err := r.d.openControl(ctx, false)
	if err != nil {
		return err
	}
	defer c.close(ctx)
	result := ""
	if r.resultOK {
		result = r.bucketURL + "/" + ResultName(r.d.cfg.ResultsPrefix, r.rep)
	}
	rep, err := c.complete(ctx, r.req.Rollout, r.req.Database, final, code, msg, result)
	if err != nil {
		return err
	}
	r.rollout = rep
	return nil
}

// target reads the target's status and its rollout's, checking the message
// against what the rollout recorded.
func (c *control) target(ctx context.Context, req Request) (target, rollout string, retryFailed bool, result, sequencer, sha string, err error) {
	// FOR SHARE waits for a queueWave still in progress (it marks the
	// wave's targets queued, then publishes, then commits), so a message
	// that arrives before that commit reads its target queued, not pending.
	err = c.conn.QueryRow(ctx, `SELECT t.status, r.status, t.retry_failed, coalesce(t.result, ''), r.sequencer, r.sha256 FROM pgmi_fleet.targets t JOIN pgmi_fleet.rollouts r ON r.id = t.rollout
		WHERE t.rollout = $1 AND t.database = $2 AND r.bundle = $3 AND r.version = $4 AND r.bucket = $5 FOR SHARE OF t`,
		req.Rollout, req.Database, req.Bundle, req.Version, req.Bucket).Scan(&target, &rollout, &retryFailed, &result, &sequencer, &sha)
	if errors.Is(err, pgx.ErrNoRows) || sqlState(err) == "42P01" || sqlState(err) == "3F000" {
		return "", "", false, "", "", "", configErr("fleet message refused: rollout %d records no target %q for %s (version %q); a queue message never chooses where a bundle goes",
			req.Rollout, req.Database, req.Bundle, req.Version)
	}
	if err != nil {
		return "", "", false, "", "", "", fault.Wrap(fault.Connection, err, "reading the rollout's control table")
	}
	return target, rollout, retryFailed, result, sequencer, sha, nil
}

// complete records a target's final status and, when that leaves its wave
// with no open target, closes the wave, all under the rollout row's lock.
func (c *control) complete(ctx context.Context, id int64, db, status string, code int, msg, result string) (*RolloutReport, error) {
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		return nil, fault.Wrap(fault.Connection, err, "")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var rollStatus string
	var wave, waves, budget int
	if err := tx.QueryRow(ctx, `SELECT status, wave, waves, max_failures FROM pgmi_fleet.rollouts WHERE id = $1 FOR UPDATE`, id).
		Scan(&rollStatus, &wave, &waves, &budget); err != nil {
		return nil, fault.Wrap(fault.Internal, err, "locking the rollout")
	}
	if _, err := tx.Exec(ctx, `UPDATE pgmi_fleet.targets SET status = $3, exit_code = nullif($4, 0), error = nullif($5, ''), result = nullif($6, ''),
		deliveries = deliveries + 1, updated_at = clock_timestamp()
		WHERE rollout = $1 AND database = $2 AND status IN ('pending', 'queued')`, id, db, status, code, msg, result); err != nil {
		return nil, fault.Wrap(fault.Internal, err, "recording the target's outcome")
	}
	closed := false
	if rollStatus == rolloutRunning {
		if closed, err = c.advance(ctx, tx, id, wave, waves, budget); err != nil {
			return nil, err
		}
	}
	// The rollout result is rewritten when a wave closes, and otherwise at
	// most every reportEvery, so a wave of thousands is not serialized
	// behind as many rewrites. A stopped rollout (aborted, halted,
	// superseded) closes no wave any more: each completion rewrites it, or
	// the last targets in flight would never show in it.
	var rep *RolloutReport
	due := closed || rollStatus != rolloutRunning
	if !due {
		err := tx.QueryRow(ctx, `UPDATE pgmi_fleet.rollouts SET reported_at = clock_timestamp()
			WHERE id = $1 AND reported_at < clock_timestamp() - $2::interval RETURNING true`, id, reportEvery.String()).Scan(&due)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, fault.Wrap(fault.Internal, err, "recording the rollout")
		}
	}
	if due {
		if rep, err = c.report(ctx, tx, id); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fault.Wrap(fault.Connection, err, "committing the target's outcome")
	}
	return rep, nil
}

// reportEvery is how often, at most, target completions rewrite the
// rollout result between the waves' ends.
const reportEvery = 2 * time.Second

// advance closes wave when none of its targets is open: the rollout halts
// when more targets failed than its budget, completes after its last wave,
// or publishes the next wave that has open targets.
func (c *control) advance(ctx context.Context, tx pgx.Tx, id int64, wave, waves, budget int) (closed bool, err error) {
	for {
		var open bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pgmi_fleet.targets WHERE rollout = $1 AND wave = $2 AND status IN ('pending', 'queued'))`,
			id, wave).Scan(&open); err != nil {
			return closed, fault.Wrap(fault.Internal, err, "counting the wave")
		}
		if open {
			return closed, nil
		}
		closed = true
		var failed int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM pgmi_fleet.targets WHERE rollout = $1 AND status = 'failed'`, id).Scan(&failed); err != nil {
			return closed, fault.Wrap(fault.Internal, err, "counting the failures")
		}
		status, msg, next := "", "", wave+1
		switch {
		case failed > budget:
			status, msg = rolloutHalted, fmt.Sprintf("halted after wave %d: %d target(s) failed, the failure budget is %d", wave+1, failed, budget)
		case next >= waves:
			status, msg = rolloutComplete, ""
		}
		if status != "" {
			_, err := tx.Exec(ctx, `UPDATE pgmi_fleet.rollouts SET status = $2, message = nullif($3, ''), updated_at = clock_timestamp() WHERE id = $1`, id, status, msg)
			if err != nil {
				return closed, fault.Wrap(fault.Internal, err, "closing the rollout")
			}
			line := fmt.Sprintf("rollout %d %s", id, status)
			if msg != "" {
				line += ": " + msg
			}
			c.d.log.Info(line)
			return closed, nil
		}
		if _, err := tx.Exec(ctx, `UPDATE pgmi_fleet.rollouts SET wave = $2, updated_at = clock_timestamp() WHERE id = $1`, id, next); err != nil {
			return closed, fault.Wrap(fault.Internal, err, "advancing the rollout")
		}
		if err := c.queueWave(ctx, tx, id, next); err != nil {
			return closed, err
		}
		wave = next
	}
}

// report reads a rollout's state and writes its result object (while the
// caller holds the row, so a newer state is never overwritten by an older
// one). A failed write is logged; the state stands.
func (c *control) report(ctx context.Context, q pgx.Tx, id int64) (*RolloutReport, error) {
	rep, where, err := readRollout(ctx, q, id)
	if err != nil {
		return nil, err
	}
	c.d.writeRollout(ctx, where, rep)
	return rep, nil
}

// rolloutPlace is where a rollout's result object goes, as the rollout
// recorded it when it started: the bundle's bucket (for file:// folders)
// and the results prefix of the deployer that started it, so a deployer
// configured otherwise (pgmi rollout resume) rewrites the same object.
type rolloutPlace struct{ bucket, results string }

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func readRollout(ctx context.Context, q querier, id int64) (*RolloutReport, rolloutPlace, error) {
	rep := &RolloutReport{Rollout: id}
	var where rolloutPlace
	var msg *string
	err := q.QueryRow(ctx, `SELECT bundle, bucket, version, sha256, prefix, status, wave, max_failures, concurrency, message, results, started_at, updated_at
		FROM pgmi_fleet.rollouts WHERE id = $1`, id).Scan(&rep.Bundle.URL, &where.bucket, &rep.Bundle.Version, &rep.Bundle.SHA256, &rep.Prefix,
		&rep.Status, &rep.Wave, &rep.MaxFailures, &rep.Concurrency, &msg, &where.results, &rep.StartedAt, &rep.UpdatedAt)
	if err != nil {
		return nil, where, fault.Wrap(fault.Internal, err, "reading the rollout")
	}
	if msg != nil {
		rep.Message = *msg
	}
	rep.Wave++
	rows, err := q.Query(ctx, `SELECT database, wave, status, coalesce(exit_code, 0), coalesce(error, ''), coalesce(result, ''), deliveries
		FROM pgmi_fleet.targets WHERE rollout = $1 ORDER BY ord`, id)
	if err != nil {
		return nil, where, fault.Wrap(fault.Internal, err, "reading the rollout's targets")
	}
	defer rows.Close()
	for rows.Next() {
		var t TargetState
		if err := rows.Scan(&t.Database, &t.Wave, &t.Status, &t.ExitCode, &t.Error, &t.Result, &t.Deliveries); err != nil {
			return nil, where, err
		}
		t.Wave++
		rep.Targets = append(rep.Targets, t)
		for len(rep.Waves) < t.Wave {
			rep.Waves = append(rep.Waves, WaveReport{Wave: len(rep.Waves) + 1})
		}
		w := &rep.Waves[t.Wave-1]
		w.Size++
		rep.Total++
		switch t.Status {
		case targetDeployed, targetStale: // stale: a newer upload is there already
			w.Deployed++
			rep.Deployed++
		case targetFailed:
			w.Failed++
			rep.Failed++
			if rep.Status == rolloutHalted && rep.ExitCode == 0 {
				rep.ExitCode = t.ExitCode
			}
		default:
			w.Pending++
			rep.Pending++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, where, err
	}
	for i := range rep.Waves {
		w := &rep.Waves[i]
		switch {
		case w.Pending == 0:
			w.Status = "done"
		case w.Wave == rep.Wave && rep.Status == rolloutRunning:
			w.Status = "running"
		default:
			w.Status = "waiting"
		}
	}
	if rep.Status == rolloutHalted && rep.ExitCode == 0 {
		rep.ExitCode = exitcode.For(fault.Execution)
	}
	rep.Bundle.Key = keyOf(rep.Bundle.URL, where.bucket)
	return rep, where, nil
}

// keyOf is the object key of bundle in bucket ("" bucket: scheme://bucket).
func keyOf(bundleURL, bucket string) string {
	r := Request{Bundle: bundleURL, Bucket: bucket}
	_, key, err := r.split()
	if err != nil {
		return ""
	}
	return key
}

// writeRollout writes the rollout result object beside the bundle.
func (d *Deployer) writeRollout(ctx context.Context, where rolloutPlace, rep *RolloutReport) {
	r := Request{Bundle: rep.Bundle.URL, Bucket: where.bucket}
	bucketURL, key, err := r.split()
	if err != nil {
		return
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.resultTimeout(ctx))
	defer cancel()
	b, err := d.openBucket(wctx, bucketURL)
	if err == nil {
		defer b.Close()
		err = upload(wctx, b, RolloutResultName(where.results, key, rolloutVersion(rep)), append(data, '\n'), false)
	}
	if err != nil {
		d.log.Warn(fmt.Sprintf("writing the rollout result of rollout %d failed (the rollout goes on): %v", rep.Rollout, err))
	}
}

func rolloutVersion(rep *RolloutReport) string {
	if rep.Bundle.Version != "" {
		return rep.Bundle.Version
	}
	if len(rep.Bundle.SHA256) >= 12 {
		return rep.Bundle.SHA256[:12]
	}
	return unknownVersion
}
