package deploy

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// reset drops and recreates an allowed database and deploys a bundle into
// it: the one named by the request, else the last one deployed there (or
// the one a retryable attempt of the same scheduled run chose, peek). The
// bundle gets the params of its key's route in PGMI_ROUTES, as a deploy of
// that key does (none when no route matches).
func (r *run) reset(ctx context.Context) (Status, error) {
	r.database = r.req.Database
	r.rep.Target.Database = r.database
	if !r.d.cfg.resetAllowed(r.database) {
		return StatusFailed, fault.Errorf(fault.Config, "reset of database %q refused: it is not in PGMI_RESET_ALLOW", r.database)
	}
	if err := connect.CheckOverwrite(r.database, r.d.cfg.Target.Maintenance); err != nil {
		return StatusFailed, err
	}
	last, dup, err := r.peek(ctx)
	if err != nil {
		return StatusFailed, err
	}
	if dup != nil {
		r.rep.Previous = dup.redacted()
		r.useBundle(dup)
		if r.rep.Bundle.SHA256 == "" {
			r.rep.Bundle.SHA256 = dup.SHA256 // names the result as the reset that ran
		}
		return StatusDuplicate, nil
	}
	if r.req.Bundle == "" {
		if last == nil {
			return StatusFailed, fault.Errorf(fault.Config, "reset of %q: the request names no bundle and the database's ledger has no successful deploy to redeploy", r.database)
		}
		r.useBundle(last)
	}
	if route, ok := r.d.cfg.route(r.key); ok {
		if r.params, err = routeParams(route); err != nil {
			return StatusFailed, fault.Wrap(fault.Config, err, "PGMI_ROUTES")
		}
	}
	if err := r.load(ctx); err != nil {
		return StatusFailed, err
	}
	lc := &connect.Lifecycle{Target: r.d.cfg.Target, Database: r.database, Log: r.d.log}
	conn, err := lc.Recreate(ctx, func(context.Context, string) error { return nil })
	if err != nil {
		return StatusFailed, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return r.session(ctx, conn)
}

// useBundle makes the bundle of ledger row e the request's, when the
// request names none (a scheduled reset of the last bundle deployed
// there): the one to redeploy, and the bucket and key of the result.
func (r *run) useBundle(e *Entry) {
	if r.req.Bundle != "" {
		return
	}
	r.req.Bundle, r.req.Version, r.req.Bucket = e.Bundle, e.Version, e.Bucket
	r.bucketURL, r.key, _ = r.req.split()
	r.rep.Bundle = BundleInfo{URL: r.req.Bundle, Key: r.key, Version: r.req.Version}
	r.resultOK = r.key != ""
}

// peek reads the ledger of the database about to be reset, when it exists
// (of any version: it only reads, and the reset recreates it): last, the
// row whose bundle a request naming none redeploys, and dup, a reset of
// the same scheduled run that succeeded or failed for good (a duplicate
// delivery of the schedule, as for deploys). last is the last successful
// deploy or reset, else the same scheduled run's reset that failed
// retryably or whose deployer died: that run dropped the database, so its
// retry redeploys what it chose.
func (r *run) peek(ctx context.Context) (last, dup *Entry, err error) {
	conn, err := r.d.cfg.Target.Dial(ctx, r.database)
	if connect.IsMissingDatabase(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", r.d.cfg.Ledger.String()).Scan(&exists); err != nil || !exists {
		return nil, nil, wrapLedger(err)
	}
	lg := &ledger{table: r.d.cfg.Ledger, conn: conn}
	if last, err = lg.lastSucceeded(ctx); err != nil {
		return nil, nil, wrapLedger(err)
	}
	if r.req.Trigger.Schedule == "" {
		return last, nil, nil
	}
	same, err := lg.scheduledReset(ctx, r.req.Trigger.Schedule)
	switch {
	case err != nil:
		return nil, nil, wrapLedger(err)
	case same != nil && same.final():
		return last, same, nil
	case last == nil:
		last = same
	}
	return last, nil, nil
}

func wrapLedger(err error) error {
	if err == nil || err == pgx.ErrNoRows {
		return nil
	}
	return fault.Wrap(fault.Internal, err, "reading the ledger")
}
