package main

import "github.com/spf13/cobra"

// newInfoCommand is pgmi info (issue 15): being written.
func newInfoCommand(s streams) *cobra.Command {
	return &cobra.Command{Use: "info", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return usageError{errorf("pgmi info is not available yet")}
	}}
}
