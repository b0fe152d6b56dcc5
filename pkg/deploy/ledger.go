package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
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
	ExitCode   int        `json:"exitCode,omitempty"`
	Attempts   int        `json:"attempts"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	UnitsDone  int        `json:"unitsDone,omitempty"` // deploy.sql execution units committed (1 = the atomic head)
	pid        int32
	script     string // digest of the expanded deploy.sql the units belong to
}

// progressFunction is the ledger's mark function: the one statement the
// engine's Journal runs inside deploy.sql's transactions.
func (l *ledger) progressFunction() string {
	return quoteIdent(l.table.Schema) + "." + quoteIdent(l.table.Name+"_progress")
}

// ledgerReadySQL asks whether the ledger is ready (its table and progress
// function exist) and whether its schema exists, with readyArgs as $1–$3.
const ledgerReadySQL = "to_regclass($1) IS NOT NULL AND to_regprocedure($2) IS NOT NULL, to_regnamespace($3) IS NOT NULL"

func (l *ledger) readyArgs() []any {
	return []any{l.table.String(), l.progressFunction() + "(bigint, integer, text, text)", quoteIdent(l.table.Schema)}
}

// complete creates the ledger, or brings an older one up to date, under
// the deploy lock, unless ledgerReadySQL (asked with the lock) found it
// ready.
func (l *ledger) complete(ctx context.Context, ready, schema bool) error {
	if ready {
		return nil
	}
	// CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the
	// schema exists, which the least-privilege grants (infra/sql: a ledger
	// schema the deployer owns) do not give.
	if !schema {
		if _, err := l.conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quoteIdent(l.table.Schema)); err != nil {
			return fmt.Errorf("creating the deploy ledger's schema %s: %w", quoteIdent(l.table.Schema), err)
		}
	}
	if _, err := l.conn.Exec(ctx, fmt.Sprintf(ledgerDDL, quoteIdent(l.table.Schema), l.table.String(), l.progressFunction())); err != nil {
		return fmt.Errorf("creating the deploy ledger %s: %w", l.table, err)
	}
	return nil
}

// ledgerDDL creates the ledger in its existing schema (%[1]s schema, %[2]s
// table, %[3]s function)
// or adds what an older version lacks. The progress function is SECURITY
// DEFINER so a mark still works after deploy.sql switched to a role without
// rights on the ledger; it only moves a running row whose claim token the
// caller knows, so granting it to PUBLIC lets nobody else touch a row.
const ledgerDDL = `
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
ALTER TABLE %[2]s
    ADD COLUMN IF NOT EXISTS units_done    integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS script_sha256 text,
    ADD COLUMN IF NOT EXISTS claim_token   text;
COMMENT ON TABLE %[2]s IS 'pgmi deploy ledger: one row per bundle deployed to this database (written by the pgmi deployer)';
COMMENT ON COLUMN %[2]s.units_done IS 'deploy.sql execution units committed by this row''s attempts (1 = the atomic head); a takeover resumes after them';
CREATE OR REPLACE FUNCTION %[3]s(p_id bigint, p_done integer, p_script text, p_token text) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $pgmi$
    UPDATE %[2]s SET units_done = greatest(units_done, p_done), script_sha256 = p_script
    WHERE id = p_id AND claim_token = p_token AND status = 'running'
$pgmi$;
REVOKE ALL ON FUNCTION %[3]s(bigint, integer, text, text) FROM PUBLIC;
GRANT USAGE ON SCHEMA %[1]s TO PUBLIC;
GRANT EXECUTE ON FUNCTION %[3]s(bigint, integer, text, text) TO PUBLIC;`

// entryColumns are an Entry's columns, as entryScan reads them. The
// timestamps come as microseconds since the epoch, so that every column
// reads the same in text as in binary and the statements run in one
// round trip (oneTrip).
const entryColumns = entryColumnsCommon + `units_done, coalesce(script_sha256, '')`

// entryColumnsAnyVersion are entryColumns for the paths that only read a
// ledger (History, a reset's peek) and so must not depend on what ledgerDDL
// adds to an older one: the columns it adds are read through the row's
// JSON, as their defaults where the ledger lacks them. The table is named
// ledger in the FROM clause.
const entryColumnsAnyVersion = entryColumnsCommon +
	`coalesce((to_jsonb(ledger) ->> 'units_done')::integer, 0), coalesce(to_jsonb(ledger) ->> 'script_sha256', '')`

// entryColumnsCommon are the columns every ledger version has.
const entryColumnsCommon = `id, bundle, bucket, version, sha256, sequencer, action, status, retryable, coalesce(error, ''), coalesce(exit_code, 0), attempts,
	round(extract(epoch FROM started_at) * 1000000)::bigint, round(extract(epoch FROM finished_at) * 1000000)::bigint,
	coalesce(backend_pid, 0), `

// oneTrip runs a statement in a single round trip (the extended protocol
// with an unnamed statement, parameters typed by the server from their
// context) instead of preparing it first: every deploy session is new, so a
// prepared statement would never be reused and would cost a round trip of
// its own. It is used only where the parameters are plain text, integers
// and booleans and so are the results, whose text forms do not depend on
// session settings (hence the timestamps of entryColumns).
const oneTrip = pgx.QueryExecModeExec

// entryScan reads entryColumns into e.
type entryScan struct {
	e                 *Entry
	started, finished *int64
}

// dest is the Scan destinations for entryColumns.
func (s *entryScan) dest() []any {
	e := s.e
	return []any{&e.ID, &e.Bundle, &e.Bucket, &e.Version, &e.SHA256, &e.Sequencer, &e.Action, &e.Status, &e.Retryable,
		&e.Error, &e.ExitCode, &e.Attempts, &s.started, &s.finished, &e.pid, &e.UnitsDone, &e.script}
}

// done sets the timestamps after a successful Scan.
func (s *entryScan) done() {
	if s.started != nil {
		s.e.StartedAt = time.UnixMicro(*s.started).UTC()
	}
	if s.finished != nil {
		t := time.UnixMicro(*s.finished).UTC()
		s.e.FinishedAt = &t
	}
}

func scanEntry(row pgx.Row) (*Entry, error) {
	s := &entryScan{e: &Entry{}}
	err := row.Scan(s.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	s.done()
	return s.e, err
}

// find returns the row for k, or nil.
func (l *ledger) find(ctx context.Context, k ledgerKey) (*Entry, error) {
	return scanEntry(l.conn.QueryRow(ctx, `SELECT `+entryColumns+` FROM `+l.table.String()+`
		WHERE bundle = $1 AND version = $2 AND sha256 = $3 AND action = $4 AND schedule = $5`, oneTrip,
		k.Bundle, k.Version, k.SHA256, string(k.Action), k.Schedule))
}

// newest returns the row for the same object key with the highest
// sequencer (by Newer), or nil when none carries one.
func (l *ledger) newest(ctx context.Context, bundleURL string) (*Entry, error) {
	rows, err := l.conn.Query(ctx, `SELECT `+entryColumns+` FROM `+l.table.String()+`
		WHERE bundle = $1 AND sequencer <> '' AND action = 'deploy'`, oneTrip, bundleURL)
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
// It only reads, and reads a ledger of any version (entryColumnsAnyVersion).
func (l *ledger) lastSucceeded(ctx context.Context) (*Entry, error) {
	return scanEntry(l.conn.QueryRow(ctx, `SELECT `+entryColumnsAnyVersion+` FROM `+l.table.String()+` AS ledger
		WHERE status = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1`, oneTrip))
}

// scheduledReset returns the newest reset row of scheduled run schedule,
// or nil. It only reads, and reads a ledger of any version.
func (l *ledger) scheduledReset(ctx context.Context, schedule string) (*Entry, error) {
	return scanEntry(l.conn.QueryRow(ctx, `SELECT `+entryColumnsAnyVersion+` FROM `+l.table.String()+` AS ledger
		WHERE action = 'reset' AND schedule = $1 ORDER BY id DESC LIMIT 1`, oneTrip, schedule))
}

// final reports whether row e stands for its request for good: it
// succeeded, or failed for a reason delivering the request again cannot
// change. A request whose row is final is a duplicate (unless a resumed
// fleet target runs its failure again: run.retryFailed).
func (e *Entry) final() bool {
	return e.Status == ledgerSucceeded || (e.Status == ledgerFailed && !e.Retryable)
}

// redacted is a copy of e for reports and the rollout's records, its error
// without secrets (fault.Redact): a row may hold an error written before
// finish redacted them.
func (e *Entry) redacted() *Entry {
	c := *e
	c.Error = fault.Redact(c.Error)
	return &c
}

// claim is who is running a deployment, for the row.
type claim struct {
	Bucket, Sequencer, Manifest, ManifestVersion, Signer, Platform, Invocation string
}

// attempt is one claim on a ledger row: the row, its attempt number and
// the random token that only this attempt knows, so a late write of an
// attempt that was taken over changes nothing.
type attempt struct {
	id     int64
	number int
	token  string
}

// claimNew inserts a running row for k and returns its attempt; ok is
// false, and nothing changes, when k already has a row.
func (l *ledger) claimNew(ctx context.Context, k ledgerKey, c claim) (a attempt, ok bool, err error) {
	a = attempt{token: newToken()}
	err = l.conn.QueryRow(ctx, `INSERT INTO `+l.table.String()+` (bundle, version, sha256, sequencer, action, schedule, status,
		manifest_name, manifest_ver, signer, platform, invocation_id, bucket, claim_token, backend_pid)
		VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9, $10, $11, $12, $13, pg_backend_pid())
		ON CONFLICT DO NOTHING RETURNING id, attempts`, oneTrip,
		k.Bundle, k.Version, k.SHA256, c.Sequencer, string(k.Action), k.Schedule,
		c.Manifest, c.ManifestVersion, c.Signer, c.Platform, c.Invocation, c.Bucket, a.token).Scan(&a.id, &a.number)
	if errors.Is(err, pgx.ErrNoRows) {
		return attempt{}, false, nil
	}
	return a, err == nil, err
}

// takeOver claims prev (a retryable failure, or a row whose deployer
// died) for a new attempt, keeping what prev's attempts committed
// (units_done) and the newer of the two sequencers: a re-run through an
// action payload (no sequencer) does not make the ledger forget the
// upload's, which newest orders later uploads of the key by.
func (l *ledger) takeOver(ctx context.Context, prev *Entry, c claim) (attempt, error) {
	a := attempt{token: newToken()}
	seq := c.Sequencer
	if seq == "" || Newer(prev.Sequencer, seq) {
		seq = prev.Sequencer
	}
	err := l.conn.QueryRow(ctx, `UPDATE `+l.table.String()+` SET status = 'running', retryable = false, error = NULL,
		exit_code = NULL, attempts = attempts + 1, sequencer = $2, signer = $3, platform = $4, invocation_id = $5,
		claim_token = $6, backend_pid = pg_backend_pid(), started_at = clock_timestamp(), finished_at = NULL
		WHERE id = $1 RETURNING id, attempts`, oneTrip, prev.ID, seq, c.Signer, c.Platform, c.Invocation, a.token).Scan(&a.id, &a.number)
	return a, err
}

// journal is the engine's Journal for attempt a: its marks go through the
// ledger's progress function, and it resumes after what prev committed.
func (l *ledger) journal(a attempt, prev *Entry) *engine.Journal {
	fn := l.progressFunction()
	j := &engine.Journal{Mark: func(done int, script string) string {
		// script and token are hex: nothing to quote.
		return fmt.Sprintf("SELECT %s(%d, %d, '%s', '%s') WHERE NOT pg_catalog.current_setting('transaction_read_only')::pg_catalog.bool",
			fn, a.id, done, script, a.token)
	}}
	if prev != nil {
		j.Resume, j.ResumeScript = prev.UnitsDone, prev.script
	}
	return j
}

// errTakenOver says a late write found the row claimed by a newer attempt.
var errTakenOver = errors.New("the ledger row was taken over by a newer attempt")

// finish records the outcome of attempt a, unless a newer attempt claimed
// the row meanwhile. The error is recorded without secrets (fault.Redact).
func (l *ledger) finish(ctx context.Context, a attempt, err error, exitCode int, retryable bool) error {
	status, msg := ledgerSucceeded, ""
	if err != nil {
		status, msg = ledgerFailed, truncate(fault.Redact(err.Error()), 4000)
	}
	tag, e := l.conn.Exec(ctx, `UPDATE `+l.table.String()+` SET status = $2, error = nullif($3, ''), exit_code = $4,
		retryable = $5, finished_at = clock_timestamp() WHERE id = $1 AND claim_token = $6`, oneTrip, a.id, status, msg, exitCode, retryable, a.token)
	if e == nil && tag.RowsAffected() == 0 {
		return errTakenOver
	}
	return e
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
