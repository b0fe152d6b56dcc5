package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// CancelGrace bounds how long a stopped deployment waits for the server to
// confirm the cancel of its running statement. Past it the engine closes
// the connection; the server then ends the statement when it notices the
// client is gone (client_connection_check_interval, which the engine sets on
// PostgreSQL 14 and newer).
const CancelGrace = 5 * time.Second

// cancelRetry is how long the stopper waits for a sent cancel to take
// effect before it sends another (a cancel that reaches the server between
// two statements does nothing).
const cancelRetry = time.Second

// How a stop ended.
const (
	stopNone      int32 = iota
	stopBetween         // the context ended while no statement was running
	stopCancelled       // a statement was running; the server cancelled it
	stopAbandoned       // the server did not confirm in time; the connection was closed
)

// stopper turns the end of the caller's context into a cancel on the
// server that is awaited: the session's round trips run on a query context
// that the caller's context does not end, so pgx does not drop the
// connection at once; instead the stopper sends cancel requests while a
// statement is running, and only after CancelGrace ends the query context,
// which makes pgx close the connection.
type stopper struct {
	pg       *pgconn.PgConn
	caller   context.Context
	query    context.Context
	abandon  context.CancelFunc
	inflight atomic.Bool
	sent     atomic.Bool
	state    atomic.Int32
	done     chan struct{}
	exited   sync.WaitGroup
	stop     func() bool
}

func newStopper(ctx context.Context, pg *pgconn.PgConn) *stopper {
	st := &stopper{pg: pg, caller: ctx, done: make(chan struct{})}
	st.query, st.abandon = context.WithCancel(context.WithoutCancel(ctx))
	st.exited.Add(1)
	st.stop = context.AfterFunc(ctx, func() { defer st.exited.Done(); st.cancel() })
	return st
}

// cancel runs once the caller's context has ended.
func (st *stopper) cancel() {
	grace := time.NewTimer(CancelGrace)
	defer grace.Stop()
	for {
		if st.inflight.Load() {
			st.sent.Store(true)
			ctx, cancel := context.WithTimeout(context.Background(), cancelRetry)
			_ = st.pg.CancelRequest(ctx)
			cancel()
		}
		select {
		case <-st.done:
			return
		case <-grace.C:
			st.state.Store(stopAbandoned)
			st.abandon()
			return
		case <-time.After(cancelRetry):
		}
	}
}

// release ends the stopper once the session is done with the server, and
// waits for a cancel in progress so none reaches a later statement.
func (st *stopper) release() {
	close(st.done)
	if !st.stop() {
		st.exited.Wait()
	}
	st.abandon()
}

// begin marks a round trip in flight; it fails when the caller's context has
// already ended, so nothing new starts after a stop.
func (st *stopper) begin() error {
	st.inflight.Store(true)
	if err := st.caller.Err(); err != nil {
		st.inflight.Store(false)
		st.state.CompareAndSwap(stopNone, stopBetween)
		return err
	}
	return nil
}

// end marks the round trip over; a query_canceled error after the caller's
// context ended is the server's confirmation of the cancel.
func (st *stopper) end(err error) {
	st.inflight.Store(false)
	var pgErr *pgconn.PgError
	if err != nil && st.caller.Err() != nil && errors.As(err, &pgErr) && pgErr.Code == "57014" {
		st.state.CompareAndSwap(stopNone, stopCancelled)
	}
}

// how says what happened on the server after a stop.
func (st *stopper) how() string {
	switch st.state.Load() {
	case stopCancelled:
		return "the running statement was cancelled on the server"
	case stopAbandoned:
		return "the server did not confirm the cancel within " + CancelGrace.String() +
			", so the connection was closed; the server ends the statement when it notices the client is gone"
	}
	if st.sent.Load() {
		return "the server was asked to cancel the running statement"
	}
	return "stopped between statements; nothing was left running on the server"
}
