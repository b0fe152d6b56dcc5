package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// ErrNoRollout is returned when the control tables record no rollout of
// the bundle asked for.
var ErrNoRollout = errors.New("no rollout of this bundle")

// findRollout is the rollout of bundleURL at version, the newest of that
// URL when version is "".
func (c *control) findRollout(ctx context.Context, q querier, bundleURL, version string) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM pgmi_fleet.rollouts WHERE bundle = $1 AND ($2 = '' OR version = $2) ORDER BY id DESC LIMIT 1`,
		bundleURL, version).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) || sqlState(err) == "42P01" || sqlState(err) == "3F000" {
		what := bundleURL
		if version != "" {
			what += " (version " + version + ")"
		}
		return 0, fault.Wrap(fault.Config, ErrNoRollout, "the fleet control tables record no rollout of %s", what)
	}
	if err != nil {
		return 0, fault.Wrap(fault.Connection, err, "reading the fleet control tables")
	}
	return id, nil
}

// RolloutState reads a rollout's state from the control tables of the
// maintenance database (bundleURL at version; the newest rollout of
// bundleURL when version is "").
func (d *Deployer) RolloutState(ctx context.Context, bundleURL, version string) (*RolloutReport, error) {
	c, err := d.openControl(ctx, false)
	if err != nil {
		return nil, err
	}
	defer c.close(ctx)
	id, err := c.findRollout(ctx, c.conn, bundleURL, version)
	if err != nil {
		return nil, err
	}
	rep, _, err := readRollout(ctx, c.conn, id)
	return rep, err
}

// AbortRollout stops a rollout: messages still on the queue are
// acknowledged without deploying, and no further wave starts. Targets
// already deploying finish.
func (d *Deployer) AbortRollout(ctx context.Context, bundleURL, version string) (*RolloutReport, error) {
	return d.adminRollout(ctx, bundleURL, version, func(ctx context.Context, c *control, tx pgx.Tx, id int64) error {
		_, err := tx.Exec(ctx, `UPDATE pgmi_fleet.rollouts SET status = 'aborted', message = 'aborted (pgmi rollout abort)', updated_at = clock_timestamp()
			WHERE id = $1 AND status <> 'complete'`, id)
		return err
	})
}

// ResumeRollout continues a halted, aborted or stalled rollout (a target
// whose messages went to the dead-letter queue): it resolves the fleet
// again — a database that appeared since joins the last wave —, makes the
// failed targets pending again, and publishes the first wave that has
// targets left (its queued targets again too: a target already done
// answers duplicate).
func (d *Deployer) ResumeRollout(ctx context.Context, bundleURL, version string) (*RolloutReport, error) {
	return d.adminRollout(ctx, bundleURL, version, func(ctx context.Context, c *control, tx pgx.Tx, id int64) error {
		var specJSON []byte
		var waves int
		if err := tx.QueryRow(ctx, `SELECT spec, waves FROM pgmi_fleet.rollouts WHERE id = $1`, id).Scan(&specJSON, &waves); err != nil {
			return err
		}
		var spec FleetSpec
		if err := json.Unmarshal(specJSON, &spec); err != nil {
			return fmt.Errorf("the rollout's recorded fleet: %w", err)
		}
		dbs, err := c.resolve(ctx, &spec)
		if err != nil {
			return err
		}
		last := max(waves-1, 0)
		tag, err := tx.Exec(ctx, `INSERT INTO pgmi_fleet.targets (rollout, database, ord, wave, status)
			SELECT $1, d, (SELECT coalesce(max(ord), -1) FROM pgmi_fleet.targets WHERE rollout = $1) + o, $3, 'pending'
			FROM unnest($2::text[]) WITH ORDINALITY AS t(d, o)
			WHERE NOT EXISTS (SELECT 1 FROM pgmi_fleet.targets x WHERE x.rollout = $1 AND x.database = t.d)
			ORDER BY o`, id, dbs, last)
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			d.log.Info(fmt.Sprintf("rollout %d: %d database(s) joined the fleet since it started; they deploy in its last wave", id, tag.RowsAffected()))
		}
		var total int
		if _, err := tx.Exec(ctx, `UPDATE pgmi_fleet.targets SET status = 'pending', exit_code = NULL, error = NULL, retry_failed = true, updated_at = clock_timestamp()
			WHERE rollout = $1 AND status = 'failed'`, id); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM pgmi_fleet.targets WHERE rollout = $1`, id).Scan(&total); err != nil {
			return err
		}
		var first *int
		if err := tx.QueryRow(ctx, `SELECT min(wave) FROM pgmi_fleet.targets WHERE rollout = $1 AND status IN ('pending', 'queued')`, id).Scan(&first); err != nil {
			return err
		}
		if first == nil {
			_, err := tx.Exec(ctx, `UPDATE pgmi_fleet.rollouts SET status = 'complete', message = NULL, waves = greatest(waves, 1), updated_at = clock_timestamp() WHERE id = $1`, id)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE pgmi_fleet.rollouts SET status = 'running', message = NULL, wave = $2, waves = greatest(waves, $2 + 1),
			max_failures = $3, updated_at = clock_timestamp() WHERE id = $1`, id, *first, spec.budget(total)); err != nil {
			return err
		}
		return c.queueWave(ctx, tx, id, *first)
	})
}

// adminRollout runs change on a rollout under its row lock and writes its
// result object.
func (d *Deployer) adminRollout(ctx context.Context, bundleURL, version string, change func(context.Context, *control, pgx.Tx, int64) error) (*RolloutReport, error) {
	c, err := d.openControl(ctx, false)
	if err != nil {
		return nil, err
	}
	defer c.close(ctx)
	tx, err := c.conn.Begin(ctx)
	if err != nil {
		return nil, fault.Wrap(fault.Connection, err, "")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	id, err := c.findRollout(ctx, tx, bundleURL, version)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM pgmi_fleet.rollouts WHERE id = $1 FOR UPDATE`, id); err != nil {
		return nil, fault.Wrap(fault.Connection, err, "locking the rollout")
	}
	if err := change(ctx, c, tx, id); err != nil {
		var fe *fault.Error
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, fault.Wrap(fault.Internal, err, "changing the rollout")
	}
	rep, err := c.report(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fault.Wrap(fault.Connection, err, "committing the rollout")
	}
	return rep, nil
}
