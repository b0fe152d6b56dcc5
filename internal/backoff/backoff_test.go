package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelayAt(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		p    Policy
		n    int
		r    float64
		want time.Duration
	}{
		{"zero policy", Policy{}, 3, 0.5, 0},
		{"first retry is the base", Policy{Base: 50 * ms, Factor: 2}, 0, 0.5, 50 * ms},
		{"doubling", Policy{Base: 50 * ms, Factor: 2}, 3, 0.5, 400 * ms},
		{"capped", Policy{Base: 50 * ms, Factor: 2, Max: time.Second}, 5, 0.5, time.Second},
		{"below the cap", Policy{Base: 50 * ms, Factor: 2, Max: time.Second}, 4, 0.5, 800 * ms},
		{"factor 1 is constant", Policy{Base: 200 * ms, Factor: 1}, 7, 0.5, 200 * ms},
		{"factor 0 means 1", Policy{Base: 200 * ms}, 7, 0.5, 200 * ms},
		{"negative n is the first retry", Policy{Base: 50 * ms, Factor: 2}, -1, 0.5, 50 * ms},
		{"jitter low end", Policy{Base: 100 * ms, Factor: 2, Jitter: 0.1}, 2, 0, 360 * ms},
		{"jitter middle", Policy{Base: 100 * ms, Factor: 2, Jitter: 0.1}, 2, 0.5, 400 * ms},
		{"jitter high end", Policy{Base: 100 * ms, Factor: 2, Jitter: 0.1}, 2, 0.9999, 439_992 * time.Microsecond},
		{"jitter applies after the cap", Policy{Base: 100 * ms, Factor: 2, Max: 200 * ms, Jitter: 0.5}, 4, 0, 100 * ms},
		{"no overflow", Policy{Base: time.Hour, Factor: 10}, 100, 0.5, time.Duration(1<<63 - 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.DelayAt(tt.n, tt.r)
			if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("DelayAt(%d, %v) = %v, want %v", tt.n, tt.r, got, tt.want)
			}
		})
	}
}

func TestDelayJitterBounds(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Factor: 2, Jitter: 0.1}
	for n := range 4 {
		mid := p.DelayAt(n, 0.5)
		lo, hi := time.Duration(float64(mid)*0.9), time.Duration(float64(mid)*1.1)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.Delay(n)
			if d < lo || d >= hi {
				t.Fatalf("Delay(%d) = %v, outside [%v, %v)", n, d, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("Delay(%d) returned %v every time: no jitter", n, mid)
		}
	}
}

func TestSleepHonoursCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	if err := Sleep(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Sleep returned after %v, long after the cancel", el)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(ended ctx, 0) = %v, want context.Canceled", err)
	}
}

func TestSleepWaits(t *testing.T) {
	start := time.Now()
	if err := Sleep(context.Background(), 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 30*time.Millisecond {
		t.Errorf("Sleep(30ms) returned after %v", el)
	}
	if err := Sleep(context.Background(), -time.Second); err != nil {
		t.Errorf("Sleep(negative) = %v", err)
	}
}

func TestPollStopsAtTheDeadline(t *testing.T) {
	p := Policy{Base: 10 * time.Millisecond, Factor: 2, Max: 40 * time.Millisecond}
	start := time.Now()
	deadline := start.Add(150 * time.Millisecond)
	var last time.Time
	calls := 0
	err := p.Poll(context.Background(), deadline, func() (bool, error) {
		calls++
		last = time.Now()
		return false, nil
	})
	if !errors.Is(err, ErrDeadline) {
		t.Fatalf("Poll = %v, want ErrDeadline", err)
	}
	if last.Before(deadline) {
		t.Errorf("last check at %v, before the deadline (%v): Poll gave up early", last.Sub(start), deadline.Sub(start))
	}
	if over := time.Since(deadline); over > time.Second {
		t.Errorf("Poll returned %v after its deadline", over)
	}
	// 0, 10, 30, 70, 110, 150 ms: the sleeps grow, then are cut at the deadline.
	if calls < 3 || calls > 8 {
		t.Errorf("check called %d times, want about 6", calls)
	}
}

func TestPollReturns(t *testing.T) {
	p := Policy{Base: time.Millisecond, Factor: 2}
	far := time.Now().Add(time.Minute)

	calls := 0
	if err := p.Poll(context.Background(), far, func() (bool, error) { calls++; return calls == 3, nil }); err != nil || calls != 3 {
		t.Errorf("Poll = %v after %d checks, want nil after 3", err, calls)
	}

	boom := errors.New("boom")
	if err := p.Poll(context.Background(), far, func() (bool, error) { return true, boom }); err != boom {
		t.Errorf("Poll = %v, want the check's error unchanged", err)
	}

	calls = 0
	if err := p.Poll(context.Background(), time.Now().Add(-time.Second), func() (bool, error) { calls++; return false, nil }); !errors.Is(err, ErrDeadline) || calls != 1 {
		t.Errorf("Poll past its deadline = %v after %d checks, want ErrDeadline after 1", err, calls)
	}

	ctx, cancel := context.WithCancel(context.Background())
	slow := Policy{Base: time.Minute}
	time.AfterFunc(20*time.Millisecond, cancel)
	if err := slow.Poll(ctx, far, func() (bool, error) { return false, nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Poll with a canceled context = %v, want context.Canceled", err)
	}
}
