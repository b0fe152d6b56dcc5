package exitcode

import (
	"context"
	"errors"
	"testing"

	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

func TestCodes(t *testing.T) {
	for k, want := range map[fault.Kind]int{
		fault.Internal: 1, fault.Usage: 2, fault.Config: 10, fault.Connection: 11, fault.Approval: 12,
		fault.Execution: 13, fault.DeploySQLMissing: 14, fault.Concurrent: 15, fault.Timeout: 16,
		fault.Canceled: 130, fault.Unreported: 17, fault.Kind(99): 1,
	} {
		if got := For(k); got != want {
			t.Errorf("For(%v) = %d, want %d", k, got, want)
		}
	}
	if Of(nil) != 0 || Of(errors.New("x")) != 1 || Of(context.Canceled) != 130 {
		t.Error("Of: want 0 for nil, 1 for an unclassified error, 130 for a cancellation")
	}
}
