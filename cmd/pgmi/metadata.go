package main

import "github.com/spf13/cobra"

// newMetadataCommand is pgmi metadata (issue 15): being written.
func newMetadataCommand(s streams) *cobra.Command {
	return &cobra.Command{Use: "metadata", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return usageError{errorf("pgmi metadata is not available yet")}
	}}
}
