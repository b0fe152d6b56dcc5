package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/engine"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// usageError marks command-line usage mistakes (exit 2, no JSON).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// exitError carries an exit code already reported to the user.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(ctx context.Context, args []string, s streams) int {
	root := newRoot(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var ee exitError
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(s.err, "pgmi: %v\nRun 'pgmi --help' for usage.\n", err)
		return exitcode.For(fault.Usage)
	}
	fmt.Fprintf(s.err, "pgmi: error: %s\n", fault.Redact(err.Error()))
	return exitcode.Of(err)
}

func newRoot(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "pgmi",
		Short:         "Deploy pgmi projects to PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newDeployCommand(s), newBundleCommand(s), newPublishCommand(s), newStatusCommand(s), newHistoryCommand(s), newLocalCommand(s), newVersionCommand(s),
		newInitCommand(s), newTemplatesCommand(s), newMetadataCommand(s), newInfoCommand(s))
	return root
}

func newVersionCommand(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(s.out, "pgmi %s (compat %s)\n", version, engine.SupportedAPIVersions[len(engine.SupportedAPIVersions)-1])
			return nil
		},
	}
}
