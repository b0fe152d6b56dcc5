package backoff

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"
)

// Sleep waits for d, or until ctx ends, whichever comes first; it returns
// ctx.Err() in the second case. A d ≤ 0 returns at once (nil unless ctx has
// already ended).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Policy is how long to wait before each retry: Base·Factorⁿ before retry n
// (0-based), capped at Max, then scaled by a random factor in
// [1−Jitter, 1+Jitter). The zero value waits nothing.
type Policy struct {
	Base   time.Duration // the wait before the first retry
	Factor float64       // growth per retry; below 1 means 1 (a constant wait)
	Max    time.Duration // cap before jitter; 0 means none
	Jitter float64       // fraction of the wait drawn at random, in [0, 1]
}

// Delay is the wait before retry n (0-based), its jitter drawn at random.
func (p Policy) Delay(n int) time.Duration {
	return p.DelayAt(n, rand.Float64())
}

// DelayAt is Delay with the jitter's draw given: r in [0, 1) scales the
// wait by 1−Jitter+2·Jitter·r, so r = 0.5 gives the wait without jitter.
func (p Policy) DelayAt(n int, r float64) time.Duration {
	d := float64(p.Base) * math.Pow(max(p.Factor, 1), float64(max(n, 0)))
	if p.Max > 0 {
		d = min(d, float64(p.Max))
	}
	d *= 1 - p.Jitter + 2*p.Jitter*r
	if d >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(d)
}

// ErrDeadline is what Poll returns when its deadline passes before the
// check succeeds.
var ErrDeadline = errors.New("backoff: deadline passed")

// Poll calls check until it reports true, sleeping p.Delay(n) after the
// n-th false (each sleep cut short at deadline, and the check tried once
// more there). It returns nil on success, check's error unchanged,
// ErrDeadline when the deadline has passed with check still false, or
// ctx.Err() when ctx ends during a sleep. check is always called at least
// once and should use its own context for the work it does.
func (p Policy) Poll(ctx context.Context, deadline time.Time, check func() (bool, error)) error {
	for n := 0; ; n++ {
		ok, err := check()
		if err != nil || ok {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ErrDeadline
		}
		if err := Sleep(ctx, min(p.Delay(n), left)); err != nil {
			return err
		}
	}
}
