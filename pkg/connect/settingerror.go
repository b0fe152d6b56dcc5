package connect

import (
	"errors"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// SettingError is a connection setting that no source gave. Its message
// (Error) is the CLI's: it names the flag first, then the other sources.
// A caller configured by environment variables alone (a cloud function)
// shows ForEnvironment's instead, which names only variables.
type SettingError struct {
	CLI string // what to pass or set, in the CLI's words
	Env string // what to set, for a caller without flags
}

func (e *SettingError) Error() string { return e.CLI }

// Missing is a fault.Config error wrapping a *SettingError: cli is the
// message for the command line (naming the flag first), env the one for a
// caller configured by environment variables alone (naming only variables).
func Missing(cli, env string) error {
	return fault.Wrap(fault.Config, &SettingError{CLI: cli, Env: env}, "")
}

// ForEnvironment returns err as a caller configured only by environment
// variables should report it: an error about a missing setting
// (*SettingError) names the variables to set instead of the CLI's flags.
// Any other error, nil included, is returned unchanged. (Invalid values
// need no translation: their messages name the flag, variable or pgmi.yaml
// key they came from.)
func ForEnvironment(err error) error {
	var se *SettingError
	if !errors.As(err, &se) {
		return err
	}
	return fault.Errorf(fault.Config, "%s", se.Env)
}
