package functest

import (
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// SameRequest compares two requests field by field, the trigger time by
// instant (time.Time values of one instant may differ in location).
func SameRequest(a, b deploy.Request) bool {
	if !a.Trigger.Time.Equal(b.Trigger.Time) {
		return false
	}
	a.Trigger.Time, b.Trigger.Time = time.Time{}, time.Time{}
	return a == b
}

// CheckParse compares one adapter parse result with the expected one:
// exactly one of a request, an ignore reason (wantIgnore, a substring) or an
// error (wantErr, a substring).
func CheckParse(t *testing.T, req deploy.Request, ignore string, err error, want deploy.Request, wantIgnore, wantErr string) {
	t.Helper()
	switch {
	case wantErr != "":
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one containing %q", err, wantErr)
		}
	case err != nil:
		t.Fatalf("unexpected error: %v", err)
	case wantIgnore != "":
		if !strings.Contains(ignore, wantIgnore) {
			t.Fatalf("ignore = %q, want one containing %q", ignore, wantIgnore)
		}
	case ignore != "":
		t.Fatalf("unexpectedly ignored: %s", ignore)
	default:
		if !SameRequest(req, want) {
			t.Fatalf("request\n got %+v\nwant %+v", req, want)
		}
		return
	}
	if !SameRequest(req, deploy.Request{}) {
		t.Errorf("a request came with the ignore or error: %+v", req)
	}
}
