package engine

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// lockSQL takes pgmi's session advisory lock: one key per database name.
const lockSQL = `SELECT pg_try_advisory_lock(hashtextextended('pgmi.deploy.' || current_database(), 0))`

// lock takes the deploy lock, polling up to Options.LockWait when it is busy.
func (s *session) lock(ctx context.Context) error {
	deadline := time.Now().Add(s.opts.LockWait)
	delay := 50 * time.Millisecond
	for {
		var ok bool
		if err := s.conn.QueryRow(ctx, lockSQL).Scan(&ok); err != nil {
			return Wrap(KindInternal, err, "taking the deployment lock")
		}
		if ok {
			s.locked = true
			return nil
		}
		if !time.Now().Before(deadline) {
			return Errorf(KindConcurrent, "concurrent deployment in progress: another pgmi deployment is already running against %q", s.res.Database)
		}
		if err := sleepCtx(ctx, min(delay, time.Until(deadline))); err != nil {
			return err
		}
		delay = min(2*delay, time.Second)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// execute expands the pgmi_test() macros, splits deploy.sql into the atomic
// head and the psql tail, and sends each unit as one simple query.
func (s *session) execute(ctx context.Context) error {
	script, err := s.expandMacros(ctx)
	if err != nil {
		return err
	}
	units := Split(script)
	s.res.Started = true
	s.res.ExecutionUnits = len(units)
	s.progress("Executing deploy.sql")
	if len(units) > 1 {
		s.verbose("deploy.sql splits into %d execution units at the first top-level transaction terminator", len(units))
	}
	for i, u := range units {
		if err := s.exec(ctx, u.SQL); err != nil {
			return s.unitFailed(script, units, i, err)
		}
		s.res.UnitsCommitted = i + 1
	}
	if st := s.pg.TxStatus(); st == 'T' || st == 'E' {
		s.res.ExecutionMode = modeFor(len(units) - 1)
		return Errorf(KindExecution, "deploy.sql ended inside an open transaction, so its work was rolled back: "+
			"end the script with COMMIT (pgmi would have reported success here)")
	}
	return nil
}

func modeFor(failedUnit int) string {
	if failedUnit == 0 {
		return "atomic"
	}
	return "psql"
}

func (s *session) unitFailed(script string, units []Unit, i int, err error) error {
	s.res.ExecutionMode = modeFor(i)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Position > 0 {
		line, col := PositionInUnit(units[i], int(pgErr.Position))
		s.res.Position = &Position{Line: line, Column: col, SourceLine: SourceLine(script, line), Expanded: s.res.TestMacros > 0}
	}
	return &Error{Kind: KindExecution, Msg: "execution failed", Err: err}
}

// expandMacros replaces each CALL pgmi_test(...) with the text the session's
// generator returns for it.
func (s *session) expandMacros(ctx context.Context) (string, error) {
	macros, err := FindTestMacros(s.p.DeploySQL)
	if err != nil {
		return "", err
	}
	if len(macros) == 0 {
		return s.p.DeploySQL, nil
	}
	s.res.TestMacros = len(macros)
	expansions := make([]string, len(macros))
	for i, m := range macros {
		if err := s.conn.QueryRow(ctx, "SELECT pg_temp.pgmi_test_generate($1, $2)",
			nullIfEmpty(m.Pattern), nullIfEmpty(m.Callback)).Scan(&expansions[i]); err != nil {
			return "", Wrap(KindExecution, err, "expanding pgmi_test() in deploy.sql")
		}
	}
	s.verbose("Expanded %d test macro(s) in deploy.sql", len(macros))
	return ExpandMacros(s.p.DeploySQL, macros, expansions), nil
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
