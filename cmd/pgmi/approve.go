package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/backoff"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// countdown is how long --force waits at a terminal before dropping.
const countdown = 5 * time.Second

// approver decides whether --overwrite may drop the target: --force without
// a terminal proceeds with one line; --force at a terminal counts down;
// a terminal without --force asks for the database name; neither refuses.
func (d *deployRun) approver() connect.Approver {
	return func(ctx context.Context, db string) error {
		switch {
		case d.f.force && !d.s.interactive:
			d.out.line(fmt.Sprintf("--force: dropping and recreating %q", db))
			return nil
		case d.f.force:
			return d.countdown(ctx, db)
		case !d.s.interactive:
			return fault.Errorf(fault.Approval, "approval denied: --overwrite must be confirmed at a terminal, and this is not one; pass --force to drop and recreate %q without a prompt", db)
		}
		return d.confirm(ctx, db)
	}
}

func (d *deployRun) countdown(ctx context.Context, db string) error {
	for left := countdown; left > 0; left -= time.Second {
		fmt.Fprintf(d.s.err, "\r--force: DROP DATABASE %q in %ds. Ctrl-C aborts.", db, int(left.Seconds()))
		if err := backoff.Sleep(ctx, time.Second); err != nil {
			fmt.Fprintln(d.s.err)
			return err
		}
	}
	fmt.Fprintln(d.s.err)
	return nil
}

func (d *deployRun) confirm(ctx context.Context, db string) error {
	fmt.Fprintf(d.s.err, "WARNING: about to DROP and RECREATE database %q. This deletes all data.\nType the database name to confirm: ", db)
	line, err := readLine(ctx, bufio.NewReader(d.s.in))
	if ctx.Err() != nil {
		fmt.Fprintln(d.s.err)
		return ctx.Err()
	}
	if err != nil && line == "" {
		return fault.Errorf(fault.Approval, "approval denied: no input available; use --force to approve without a prompt")
	}
	if strings.TrimSpace(line) != db {
		return fault.Errorf(fault.Approval, "approval denied: the name typed does not match %q", db)
	}
	return nil
}

// readLine reads a line typed at a prompt, giving up when ctx ends (Ctrl-C,
// --timeout) with the line so far and ctx's error: the read itself cannot
// be interrupted, so it is left to finish on its own in a process that is
// about to exit.
func readLine(ctx context.Context, r *bufio.Reader) (string, error) {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := r.ReadString('\n')
		done <- result{line, err}
	}()
	select {
	case res := <-done:
		return res.line, res.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
