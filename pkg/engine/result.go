package engine

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// Envelope is pgmi's --json document: keys marshal in alphabetical order
// (encoding/json sorts map keys), 2-space indented by the caller.
type Envelope map[string]any

// NewEnvelope builds the JSON envelope for a deployment's result and error.
// res may be nil for failures before the deploy started (configuration
// errors): then only status, exitCode and the error fields are present.
// Every text field is redacted.
func NewEnvelope(res *Result, err error) Envelope {
	env := Envelope{"status": "success", "exitCode": exitcode.Of(err)}
	if res != nil {
		env["database"] = res.Database
		env["durationMs"] = res.Duration.Milliseconds()
		env["filesLoaded"] = res.FilesLoaded
		env["testMacros"] = res.TestMacros
		if res.Started {
			env["executionUnits"] = res.ExecutionUnits
			env["unitsCommitted"] = res.UnitsCommitted
		}
		if err != nil && res.ExecutionMode != "" {
			env["executionMode"] = res.ExecutionMode
		}
		if err != nil && res.Position != nil {
			env["script"] = "deploy.sql"
			env["line"] = res.Position.Line
			env["column"] = res.Position.Column
			env["sourceLine"] = fault.Redact(res.Position.SourceLine)
			env["scriptExpanded"] = res.Position.Expanded
		}
	}
	if err == nil {
		return env
	}
	env["status"] = "failed"
	env["error"] = fault.Redact(err.Error())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		env["sqlstate"] = pgErr.Code
		setIf(env, "detail", pgErr.Detail)
		setIf(env, "hint", pgErr.Hint)
		setIf(env, "where", pgErr.Where)
	}
	if res != nil && res.FailedFile != "" {
		env["failedFile"] = res.FailedFile
	}
	return env
}

func setIf(env Envelope, key, value string) {
	if value != "" {
		env[key] = fault.Redact(value)
	}
}
