package engine

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// sessionLost marks a cause as a lost session.
type sessionLost struct{ err error }

func (l *sessionLost) Error() string        { return l.err.Error() }
func (l *sessionLost) Unwrap() error        { return l.err }
func (l *sessionLost) Is(target error) bool { return target == fault.ErrSessionLost }

// lost reports whether err ended the session: a server error of class 08
// or 57P01–57P03, or any failure after which the connection is closed.
func lost(err error, pg *pgconn.PgConn) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03" || pg.IsClosed()
	}
	return pg.IsClosed()
}

func lostMessage(what string) string {
	msg := "the database session was lost (terminated by the server, or the connection dropped)"
	if what != "" {
		msg = what + ": " + msg
	}
	return msg
}
