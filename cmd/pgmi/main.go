// Command pgmi deploys pgmi projects to PostgreSQL.
//
// It is the composition root of the CLI: it reads the environment, wires the
// engine and the connection layer, and maps every outcome to pgmi's exit codes.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/pgmi-cloud/pgmi/pkg/engine"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, func() {
		// A second signal ends the process at once, without waiting for
		// the server to confirm the cancel.
		stop()
		fmt.Fprintln(os.Stderr, "pgmi: interrupted; stopping: a running statement is cancelled on the server and pgmi waits for it (at most "+
			engine.CancelGrace.String()+"; interrupt again to quit at once)")
	})
	os.Exit(run(ctx, os.Args[1:], streams{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		interactive: isInteractive(),
		env:         os.LookupEnv,
		setenv:      os.Setenv,
	}))
}

// streams is what the commands may touch of the process.
type streams struct {
	in          io.Reader
	out, err    io.Writer
	interactive bool // a person is at a terminal and may be asked questions
	env         func(string) (string, bool)
	setenv      func(string, string) error
}

func (s streams) getenv(name string) string {
	v, _ := s.env(name)
	return v
}

func isInteractive() bool {
	if os.Getenv("CI") != "" || os.Getenv("PGMI_NON_INTERACTIVE") == "1" {
		return false
	}
	return term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stderr.Fd()))
}
