package rdsiam

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/smithy-go/logging"
)

// The SDK's lines go to the provider's slog logger, prefixed, at DEBUG or
// WARN; without a logger they go nowhere (never the SDK's stderr default).
func TestSDKLogGoesToSlog(t *testing.T) {
	var buf bytes.Buffer
	l := sdkLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Logf(logging.Debug, "retrying %d", 2)
	l.Logf(logging.Warn, "clock skew")
	out := buf.String()
	for _, want := range []string{`level=DEBUG msg="AWS SDK: retrying 2"`, `level=WARN msg="AWS SDK: clock skew"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if _, ok := sdkLog(nil).(logging.Nop); !ok {
		t.Errorf("without a logger: %T, want logging.Nop", sdkLog(nil))
	}
}
