package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Journal makes a deployment resumable after its deployer dies. The caller
// (the function pipeline's ledger) supplies the statement that durably
// records progress; the engine runs it where it commits together with the
// work it records:
//
//   - inside the atomic head's transaction, just before its terminating
//     COMMIT (or at the end of a head that is one implicit transaction), so
//     "the head committed" and the head's work are one fact;
//   - after each tail unit that leaves no transaction open, and, when a tail
//     unit is the COMMIT of a transaction the tail opened, just before it,
//     inside that transaction.
//
// A later attempt passes the recorded count as Resume: those units are not
// run again. So the head runs exactly once and each tail unit at least once;
// only the unit in flight when the deployer died can run twice (an
// autocommit statement that committed just before its mark could be
// written). A head that is one statement which cannot share a transaction
// with its mark (VACUUM, … CONCURRENTLY, a CALL or a DO block that may
// commit: headMark) is such an autocommit statement: at least once.
type Journal struct {
	// Mark returns one SQL statement, without a trailing ';', that records
	// that the first done execution units of the script with SHA-256 script
	// (hex) have completed. It must be schema-qualified, must not fail in a
	// read-only transaction or under another role the script switched to,
	// and must return at most a few rows.
	Mark func(done int, script string) string
	// Resume is the number of units an earlier attempt recorded as done;
	// they are skipped. Zero runs the whole script.
	Resume int
	// ResumeScript is the script digest the earlier attempt recorded. When
	// it differs from this run's expanded deploy.sql the run fails rather
	// than resume a different script.
	ResumeScript string
}

// markPlace says where the head unit's mark goes.
type markPlace int

const (
	markBefore markPlace = iota // inside the head, before its terminator
	markAppend                  // at the end of a head that is one implicit transaction
	markAfter                   // a round trip of its own after the head (at least once)
)

// headMark finds where the mark of the head unit sql goes: before the first
// top-level COMMIT/END (at byte offset at); appended when the unit holds
// several statements and no terminator (PostgreSQL runs them as one
// implicit transaction), or one statement that may run in a transaction
// block (appendable); otherwise after the unit: a statement that cannot run
// in a transaction block (CREATE INDEX CONCURRENTLY, VACUUM) or may end
// transactions itself (CALL) commits before its mark (at least once), and a
// head that ends in ROLLBACK committed nothing.
func headMark(sql string) (place markPlace, at int) {
	mask, ok := Mask(sql)
	if !ok {
		return markAfter, 0
	}
	start, end, statements := firstTerminator(mask)
	switch {
	case end >= 0:
		if first, _ := nextWord(mask[start:end]); equalsAny(first, "COMMIT", "END") {
			return markBefore, start
		}
		return markAfter, 0
	case statements > 1, statements == 1 && appendable(sql, mask):
		return markAppend, len(sql)
	}
	return markAfter, 0
}

// appendable reports whether a head that is one statement (sql, masked
// mask) can share an implicit transaction with the mark after it, so that
// the two commit together. Refused, and so marked after the statement (at
// least once), are the statements PostgreSQL will not run in a transaction
// block (or that end one: transaction control, PREPARE TRANSACTION), any
// …CONCURRENTLY, a CALL (the procedure may COMMIT, which a transaction
// block forbids) and a DO block whose text says COMMIT or ROLLBACK.
func appendable(sql, mask string) bool {
	first, rest := nextWord(mask)
	second, _ := nextWord(rest)
	switch {
	case equalsAny(first, "VACUUM", "CLUSTER", "REINDEX", "DISCARD", "CALL", "BEGIN", "START", "COMMIT", "END",
		"ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "PREPARE"),
		equalsAny(first, "CREATE", "DROP", "ALTER") && equalsAny(second, "DATABASE", "TABLESPACE", "SYSTEM", "SUBSCRIPTION"),
		hasWord(mask, "CONCURRENTLY"),
		equalsAny(first, "DO") && (hasWord(sql, "COMMIT") || hasWord(sql, "ROLLBACK")):
		return false
	}
	return true
}

// hasWord reports whether word (ASCII letters) is one of s's words, in any
// case.
func hasWord(s, word string) bool {
	for w, rest := nextWord(s); w != ""; w, rest = nextWord(rest) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}

// isCommit reports whether a tail unit commits the transaction it ends.
func isCommit(sql string) bool {
	mask, ok := Mask(sql)
	if !ok {
		return false
	}
	first, _ := nextWord(mask)
	return isTerminatorMasked(mask) && equalsAny(first, "COMMIT", "END")
}

// withMark returns the head unit with mark placed in its text, and the
// character offset and length of the insertion (for error positions).
func withMark(u Unit, place markPlace, at int, mark string) (Unit, insertion) {
	switch place {
	case markBefore:
		text := mark + ";"
		ins := insertion{at: utf8.RuneCountInString(u.SQL[:at]), length: len(text)}
		u.SQL = u.SQL[:at] + text + u.SQL[at:]
		return u, ins
	case markAppend:
		// A newline ends a trailing -- comment; the ';' ends a last
		// statement written without one.
		u.SQL += "\n;" + mark + ";"
	}
	return u, insertion{}
}

// insertion is text the engine added inside a unit: length ASCII characters
// at character offset at.
type insertion struct{ at, length int }

// position maps a server error position in the marked unit back to the
// unit as the script has it; a position inside the insertion points at the
// statement after it (the terminator).
func (ins insertion) position(pos int) int {
	switch {
	case ins.length == 0 || pos <= ins.at:
		return pos
	case pos <= ins.at+ins.length:
		return ins.at + 1
	}
	return pos - ins.length
}

func scriptDigest(script string) string {
	sum := sha256.Sum256([]byte(script))
	return hex.EncodeToString(sum[:])
}

// resumeCheck refuses to resume a script that is not the one the earlier
// attempt ran, or that has fewer units than it recorded.
func (j *Journal) resumeCheck(digest string, units int) error {
	if j == nil || j.Resume == 0 {
		return nil
	}
	if j.ResumeScript != "" && !strings.EqualFold(j.ResumeScript, digest) {
		return fault.Errorf(fault.Config, "cannot resume the interrupted deployment: its first %d execution unit(s) are committed, "+
			"but deploy.sql now expands to a different script (the parameters or the test files changed); deploy a new bundle", j.Resume)
	}
	if j.Resume > units {
		return fault.Errorf(fault.Config, "cannot resume the interrupted deployment: it recorded %d execution units done, but deploy.sql has %d", j.Resume, units)
	}
	return nil
}
