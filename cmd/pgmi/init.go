package main

import "github.com/spf13/cobra"

// newInitCommand is pgmi init (issue 15): being written.
func newInitCommand(s streams) *cobra.Command {
	return &cobra.Command{Use: "init", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return usageError{errorf("pgmi init is not available yet")}
	}}
}

// newTemplatesCommand is pgmi templates (issue 15): being written.
func newTemplatesCommand(s streams) *cobra.Command {
	return &cobra.Command{Use: "templates", Hidden: true, RunE: func(*cobra.Command, []string) error {
		return usageError{errorf("pgmi templates is not available yet")}
	}}
}
