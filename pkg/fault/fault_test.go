package fault

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// selfKinded is another package's error that classifies itself.
type selfKinded Kind

func (k selfKinded) Error() string   { return "self-kinded" }
func (k selfKinded) FaultKind() Kind { return Kind(k) }

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Kind
	}{
		{nil, Internal},
		{errors.New("plain"), Internal},
		{Errorf(Execution, "x"), Execution},
		{fmt.Errorf("wrapped: %w", Errorf(Concurrent, "x")), Concurrent},
		{context.DeadlineExceeded, Timeout},
		{context.Canceled, Canceled},
		{errors.Join(Errorf(Connection, "c"), Errorf(Config, "k")), Config},
		{Wrap(Connection, context.DeadlineExceeded, "dial"), Connection},
		{errors.Join(Errorf(Execution, "e"), context.DeadlineExceeded), Timeout},
		{errors.Join(Errorf(Concurrent, "l"), context.Canceled), Canceled},
		{fmt.Errorf("other package: %w", selfKinded(Approval)), Approval},
		{Wrap(Execution, selfKinded(DeploySQLMissing), ""), DeploySQLMissing},
	} {
		if got := KindOf(tc.err); got != tc.want {
			t.Errorf("KindOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	cause := errors.New("cause")
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{Errorf(Config, "bad %s", "x"), "bad x"},
		{Wrap(Connection, cause, "dial"), "dial: cause"},
		{Wrap(Connection, cause, ""), "cause"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	if !errors.Is(Wrap(Internal, cause, "x"), cause) {
		t.Error("Wrap does not unwrap to its cause")
	}
}
