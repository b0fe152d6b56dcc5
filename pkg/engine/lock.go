package engine

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/backoff"
	"github.com/pgmi-cloud/pgmi/internal/lockkey"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// The deploy lock's key is built in one place, internal/lockkey, which
// pkg/connect uses too to look for the lock from the maintenance database.
var (
	lockSQL   = "SELECT pg_try_advisory_lock(" + lockkey.SQL("current_database()") + ")"
	unlockSQL = "SELECT pg_advisory_unlock(" + lockkey.SQL("current_database()") + ")"
)

// lockPolicy spaces the session's attempts at a busy lock: 50 ms, doubling
// up to 1 s.
var lockPolicy = backoff.Policy{Base: 50 * time.Millisecond, Factor: 2, Max: time.Second}

// TryLock tries once to take the deploy lock of conn's database: pgmi's
// session advisory lock, keyed by the database name, so every pgmi deploy
// of that database excludes every other. A caller that holds it across
// DeployProject sets Options.LockHeld and releases it with Unlock (or by
// closing the session).
func TryLock(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var ok bool
	err := conn.QueryRow(ctx, lockSQL).Scan(&ok)
	return ok, err
}

// Unlock releases the deploy lock TryLock took on conn.
func Unlock(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, unlockSQL)
	return err
}

// lock takes the deploy lock, polling up to Options.LockWait when it is busy.
func (s *session) lock(ctx context.Context) error {
	err := lockPolicy.Poll(s.stop.caller, time.Now().Add(s.opts.LockWait), func() (bool, error) {
		var ok bool
		err := s.roundTrips(func() (err error) { ok, err = TryLock(ctx, s.conn); return err })
		if err != nil {
			return false, s.kept(fault.Internal, err, "taking the deployment lock")
		}
		return ok, nil
	})
	switch {
	case err == nil:
		s.locked = true
		return nil
	case errors.Is(err, backoff.ErrDeadline):
		return fault.Errorf(fault.Concurrent, "concurrent deployment in progress: another pgmi deployment is already running against %q", s.res.Database)
	}
	return err
}
