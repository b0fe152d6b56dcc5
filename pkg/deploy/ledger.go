package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Ledger statuses.
const (
	ledgerRunning   = "running"
	ledgerSucceeded = "succeeded"
	ledgerFailed    = "failed"
)

// ledger is the deploy ledger in the target database: one row per bundle
// identity (object URL, version, archive digest) and action, so a duplicate
// event finds the row of the first one.
type ledger struct {
	table Table
	conn  *pgx.Conn
}

// ledgerKey identifies one deployment of one bundle.
type ledgerKey struct {
	Bundle   string // object URL without query
	Version  string
	SHA256   string
	Action   Action
	Schedule string // resets: the schedule run; "" for deploys
}

// Entry is a ledger row as reports show it.
type Entry struct {
	ID         int64      `json:"id"`
	Bundle     string     `json:"bundle"`
	Bucket     string     `json:"bucket,omitempty"`
	Version    string     `json:"version,omitempty"`
	SHA256     string     `json:"sha256"`
	Sequencer  string     `json:"sequencer,omitempty"`
	Action     string     `json:"action"`
	Status     string     `json:"status"`
	Retryable  bool       `json:"retryable,omitempty"`
	Error      string     `json:"error,omitempty"`
	Attempts   int        `json:"attempts"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	pid        int32
	backend    time.Time
}

func (l *ledger) ensure(ctx context.Context) error {
	t := l.table.String()
	var exists bool
	if err := l.conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", t).Scan(&exists); err != nil || exists {
		return err
	}
	_, err := l.conn.Exec(ctx, fmt.Sprintf(`
CREATE SCHEMA IF NOT EXISTS %[1]s;
CREATE TABLE IF NOT EXISTS %[2]s (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bundle         text        NOT NULL,
    bucket         text        NOT NULL DEFAULT '',
    version        text        NOT NULL DEFAULT '',
    sha256         text        NOT NULL,
    sequencer      text        NOT NULL DEFAULT '',
    action         text        NOT NULL CHECK (action IN ('deploy', 'reset')),
    schedule       text        NOT NULL DEFAULT '',
    status         text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    retryable      boolean     NOT NULL DEFAULT false,
    error          text,
    exit_code      integer,
    attempts       integer     NOT NULL DEFAULT 1,
    manifest_name  text,
    manifest_ver   text,
    signer         text,
    platform       text,
    invocation_id  text,
    backend_pid    integer,
    backend_start  timestamptz,
    started_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at    timestamptz,
    UNIQUE (bundle, version, sha256, action, schedule)
);
COMMENT ON TABLE %[2]s IS 'pgmi deploy ledger: one row per bundle deployed to this database (written by the pgmi deployer)';`,
		quoteIdent(l.table.Schema), t))
	if err != nil {
		return fmt.Errorf("creating the deploy ledger %s: %w", t, err)
	}
	return nil
}

const entryColumns = `id, bundle, bucket, version, sha256, sequencer, action, status, retryable, coalesce(error, ''), attempts,
	started_at, finished_at, coalesce(backend_pid, 0), coalesce(backend_start, 'epoch')`

func scanEntry(row pgx.Row) (*Entry, error) {
	e := &Entry{}
	err := row.Scan(&e.ID, &e.Bundle, &e.Bucket, &e.Version, &e.SHA256, &e.Sequencer, &e.Action, &e.Status, &e.Retryable,
		&e.Error, &e.Attempts, &e.StartedAt, &e.FinishedAt, &e.pid, &e.backend)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return e, err
}

// find returns the row for k, or nil.
func (l *ledger) find(ctx context.Context, k ledgerKey) (*Entry, error) {
	return scanEntry(l.conn.QueryRow(ctx, `SELECT `+entryColumns+` FROM `+l.table.String()+`
		WHERE bundle = $1 AND version = $2 AND sha256 = $3 AND action = $4 AND schedule = $5`,
		k.Bundle, k.Version, k.SHA256, string(k.Action), k.Schedule))
}

// newest returns the row for the same object key with the highest
// sequencer (by Newer), or nil when none carries one.
func (l *ledger) newest(ctx context.Context, bundleURL string) (*Entry, error) {
	rows, err := l.conn.Query(ctx, `SELECT `+entryColumns+` FROM `+l.table.String()+`
		WHERE bundle = $1 AND sequencer <> '' AND action = 'deploy'`, bundleURL)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var best *Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		if best == nil || Newer(e.Sequencer, best.Sequencer) {
			best = e
		}
	}
	return best, rows.Err()
}

// lastSucceeded returns the most recent successful deploy or reset, or nil.
func (l *ledger) lastSucceeded(ctx context.Context) (*Entry, error) {
	return scanEntry(l.conn.QueryRow(ctx, `SELECT `+entryColumns+` FROM `+l.table.String()+`
		WHERE status = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1`))
}

// alive reports whether the session that wrote a running row still exists
// (same pid and the same backend start, since pids are reused).
func (l *ledger) alive(ctx context.Context, e *Entry) (bool, error) {
	if e.pid == 0 {
		return false, nil
	}
	var n int
	err := l.conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND backend_start = $2`,
		e.pid, e.backend).Scan(&n)
	return n > 0, err
}

// claim is who is running a deployment, for the row.
type claim struct {
	Bucket, Sequencer, Manifest, ManifestVersion, Signer, Platform, Invocation string
}

// start inserts a running row for k, or takes over the existing row id
// (a retry, or a dead session's row). It returns the row id.
func (l *ledger) start(ctx context.Context, k ledgerKey, c claim, takeover int64) (int64, error) {
	var id int64
	if takeover != 0 {
		err := l.conn.QueryRow(ctx, `UPDATE `+l.table.String()+` SET status = 'running', retryable = false, error = NULL,
			exit_code = NULL, attempts = attempts + 1, sequencer = $2, signer = $3, platform = $4, invocation_id = $5,
			backend_pid = pg_backend_pid(), backend_start = (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()),
			started_at = clock_timestamp(), finished_at = NULL
			WHERE id = $1 RETURNING id`, takeover, c.Sequencer, c.Signer, c.Platform, c.Invocation).Scan(&id)
		return id, err
	}
	err := l.conn.QueryRow(ctx, `INSERT INTO `+l.table.String()+` (bundle, version, sha256, sequencer, action, schedule, status,
		manifest_name, manifest_ver, signer, platform, invocation_id, bucket, backend_pid, backend_start)
		VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9, $10, $11, $12, pg_backend_pid(),
			(SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()))
		RETURNING id`,
		k.Bundle, k.Version, k.SHA256, c.Sequencer, string(k.Action), k.Schedule,
		c.Manifest, c.ManifestVersion, c.Signer, c.Platform, c.Invocation, c.Bucket).Scan(&id)
	return id, err
}

// finish records the outcome of row id.
func (l *ledger) finish(ctx context.Context, id int64, err error, exitCode int, retryable bool) error {
	status, msg := ledgerSucceeded, ""
	if err != nil {
		status, msg = ledgerFailed, truncate(err.Error(), 4000)
	}
	_, e := l.conn.Exec(ctx, `UPDATE `+l.table.String()+` SET status = $2, error = nullif($3, ''), exit_code = $4,
		retryable = $5, finished_at = clock_timestamp() WHERE id = $1`, id, status, msg, exitCode, retryable)
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
