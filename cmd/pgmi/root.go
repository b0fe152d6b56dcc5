package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
	case errors.As(err, &ue) || cobraUsageError(err):
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
		// Runnable, so that an unknown command is a usage error (exit 2)
		// rather than cobra printing the help and exiting 0.
		Args: unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// --version is ours, not cobra's Version field: cobra renders that
			// through text/template, whose reflection keeps every method of the
			// binary alive (+14 MiB), and prints another line than pgmi version.
			if v, _ := cmd.Flags().GetBool("version"); v {
				fmt.Fprint(s.out, versionLine())
				return nil
			}
			return cmd.Help()
		},
	}
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// One -v/--verbose for every command, in either position (pgmi -v deploy,
	// pgmi deploy -v): commands read it with verboseFlag. The version is
	// --version and pgmi version.
	root.PersistentFlags().BoolP("verbose", "v", false, "verbose output (deploy, local: the resolved connection, server debug messages, timestamped progress)")
	root.Flags().Bool("version", false, "print the version")
	root.AddCommand(newDeployCommand(s), newBundleCommand(s), newPublishCommand(s), newStatusCommand(s), newHistoryCommand(s), newRolloutCommand(s), newLocalCommand(s), newVersionCommand(s),
		newInitCommand(s), newTemplatesCommand(s), newMetadataCommand(s), newInfoCommand(s))
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	usageErrorsEverywhere(root)
	return root
}

// verboseFlag reads the global -v/--verbose.
func verboseFlag(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("verbose")
	return v
}

// unknownCommand rejects arguments to a command that only groups others.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if sugg := cmd.SuggestionsFor(args[0]); len(sugg) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(sugg, ", "))
	}
	return usageError{errors.New(msg)}
}

// usageErrorsEverywhere makes every argument check of the command tree a
// usage error (exit 2): cobra's own validators return plain errors, and a
// group without a run function would print its help and exit 0 on an
// unknown subcommand.
func usageErrorsEverywhere(cmd *cobra.Command) {
	switch {
	case cmd.HasSubCommands() && !cmd.Runnable():
		cmd.Args = unknownCommand
		cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	case cmd.Args != nil:
		check := cmd.Args
		cmd.Args = func(c *cobra.Command, args []string) error {
			err := check(c, args)
			var ue usageError
			if err != nil && !errors.As(err, &ue) {
				return usageError{err}
			}
			return err
		}
	}
	for _, sub := range cmd.Commands() {
		usageErrorsEverywhere(sub)
	}
}

// cobraUsageError reports whether err is one of cobra's own usage errors that
// no hook can wrap (required or grouped flags).
func cobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"required flag(s)", "if any flags in the group", "at least one of the flags in the group"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return strings.Contains(msg, "were all set") // mutually exclusive flags
}

func newVersionCommand(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprint(s.out, versionLine())
			return nil
		},
	}
}

// versionLine is what pgmi version and pgmi --version print.
func versionLine() string {
	return fmt.Sprintf("pgmi %s (compat %s)\n", version, engine.SupportedAPIVersions[len(engine.SupportedAPIVersions)-1])
}
