package engine

import (
	"context"
	"errors"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// execute expands the pgmi_test() macros, splits deploy.sql into the atomic
// head and the psql tail, and sends each unit as one simple query, with the
// Journal's marks where they commit with the work they record.
func (s *session) execute(ctx context.Context) error {
	script, err := s.expandMacros(ctx)
	if err != nil {
		return err
	}
	units := Split(script)
	s.res.Started = true
	s.res.ExecutionUnits = len(units)
	s.res.ScriptSHA256 = scriptDigest(script)
	j := s.opts.Journal
	if err := j.resumeCheck(s.res.ScriptSHA256, len(units)); err != nil {
		return err
	}
	first := 0
	if j != nil && j.Resume > 0 {
		first = j.Resume
		s.res.UnitsResumed, s.res.UnitsCommitted = first, first
		s.progress("Resuming deploy.sql after execution unit %d of %d: an earlier attempt committed them (they are not run again; the head's session settings and temporary objects are not restored)", first, len(units))
	} else {
		s.progress("Executing deploy.sql")
	}
	if len(units) > 1 {
		s.verbose("deploy.sql splits into %d execution units at the first top-level transaction terminator", len(units))
	}
	for i := first; i < len(units); i++ {
		if err := s.runUnit(ctx, units[i], i); err != nil {
			return s.unitFailed(script, units, i, err)
		}
		s.res.UnitsCommitted = i + 1
	}
	if st := s.pg.TxStatus(); st == 'T' || st == 'E' {
		s.res.ExecutionMode = modeFor(len(units) - 1)
		return fault.Errorf(fault.Execution, "deploy.sql ended inside an open transaction, so its work was rolled back: "+
			"end the script with COMMIT (pgmi would have reported success here)")
	}
	return nil
}

// runUnit sends unit i with the journal's marks: inside the head before its
// COMMIT; before a tail COMMIT inside the transaction it ends; after any
// unit that leaves no transaction open.
func (s *session) runUnit(ctx context.Context, u Unit, i int) error {
	j := s.opts.Journal
	if j == nil {
		return s.exec(ctx, u.SQL)
	}
	mark := func(done int) string { return j.Mark(done, s.res.ScriptSHA256) }
	if i == 0 {
		place, at := headMark(u.SQL)
		marked, ins := withMark(u, place, at, mark(1))
		s.inserted = ins
		if err := s.exec(ctx, marked.SQL); err != nil || place != markAfter {
			return err
		}
	} else {
		before := s.pg.TxStatus() == 'T' && isCommit(u.SQL)
		if before {
			if err := s.exec(ctx, mark(i+1)); err != nil {
				return s.failed(fault.Internal, err, "recording the deployment's progress")
			}
		}
		if err := s.exec(ctx, u.SQL); err != nil || before {
			return err
		}
	}
	if s.pg.TxStatus() == 'I' {
		if err := s.exec(ctx, mark(i+1)); err != nil {
			return s.failed(fault.Internal, err, "recording the deployment's progress")
		}
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
	var e *fault.Error
	if errors.As(err, &e) {
		return err // the stop or the journal, not the unit
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		s.res.FailedFile = failedFile(pgErr.Message)
	}
	if pgErr != nil && pgErr.Position > 0 {
		pos := int(pgErr.Position)
		if i == 0 {
			pos = s.inserted.position(pos)
		}
		line, col := PositionInUnit(units[i], pos)
		s.res.Position = &Position{Line: line, Column: col, SourceLine: SourceLine(script, line), Expanded: s.res.TestMacros > 0}
	}
	return s.failed(fault.Execution, err, "execution failed")
}

// failedFile is the test file a failure names the way pgmi's test wrapper
// (pgmi_run_test_source in sql/internal.sql) does, "Failed in <path>: …":
// the first "Failed in " followed by a word that holds ".sql", up to its
// last ".sql". A deploy.sql RAISE of the same shape counts too, as in pgmi.
func failedFile(msg string) string {
	const marker = "Failed in "
	for rest := msg; ; {
		i := strings.Index(rest, marker)
		if i < 0 {
			return ""
		}
		rest = rest[i+len(marker):]
		word := rest
		if end := strings.IndexFunc(word, unicode.IsSpace); end >= 0 {
			word = word[:end]
		}
		if j := strings.LastIndex(word, ".sql"); j > 0 {
			return word[:j+len(".sql")]
		}
	}
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
		err := s.roundTrips(func() error {
			return s.conn.QueryRow(ctx, "SELECT pg_temp.pgmi_test_generate($1, $2)",
				nullIfEmpty(m.Pattern), nullIfEmpty(m.Callback)).Scan(&expansions[i])
		})
		if err != nil {
			return "", s.failed(fault.Execution, err, "expanding pgmi_test() in deploy.sql")
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
