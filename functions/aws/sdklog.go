package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"

	"github.com/aws/smithy-go/logging"

	"github.com/pgmi-cloud/pgmi/functions/internal"
)

// sdkLogger is the AWS SDK's logger for every client this function makes
// (S3, the RDS IAM provider's configuration): its lines become JSON lines
// of the function's log, DEBUG unless the SDK calls them warnings. The
// SDK's default logger prints plain "SDK <time> DEBUG …" lines on stderr,
// such as "Response has no supported checksum" for every download from a
// store that sends none.
type sdkLogger struct{ log *slog.Logger }

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	msg := "AWS SDK: " + fmt.Sprintf(format, v...)
	if c == logging.Warn {
		s.log.Warn(msg)
		return
	}
	s.log.Debug(msg)
}

// retryErrorType is the errorType aws-lambda-go gives an invocation that
// returned *internal.Retry: the name of the error's type.
var retryErrorType = reflect.TypeFor[internal.Retry]().Name()

// runtimeLine classifies a line aws-lambda-go writes with the standard log
// package. Most are the error document of an invocation that returned an
// error; for a retry or a refused configuration the function's own lines
// already said why at WARN or ERROR, so the document is INFO. Any other
// document (a panic) and any other line is an ERROR, but the runtime's own
// "WARNING! …" lines.
func runtimeLine(line string) (slog.Level, string) {
	var doc struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if json.Unmarshal([]byte(line), &doc) == nil && doc.Type != "" {
		msg := "answered Lambda with an error (" + doc.Type + "): " + doc.Message
		if doc.Type == retryErrorType || doc.Type == initErrorType {
			return slog.LevelInfo, msg
		}
		return slog.LevelError, msg
	}
	if strings.HasPrefix(line, "WARNING!") {
		return slog.LevelWarn, "aws-lambda-go: " + line
	}
	return slog.LevelError, "aws-lambda-go: " + line
}
