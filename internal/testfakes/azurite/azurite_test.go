package azurite

import (
	"errors"
	"net/http"
	"syscall"
	"testing"
)

// TestStartStop: Azurite answers through the proxy, and the cleanup stops
// the process it started.
func TestStartStop(t *testing.T) {
	var pid int
	t.Run("run", func(t *testing.T) {
		srv := Start(t)
		pid = srv.PID
		resp, err := http.Get(srv.Endpoint + "?comp=list")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Unsigned: Azurite refuses it, which proves it is Azurite answering.
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("unsigned list: %s", resp.Status)
		}
	})
	if pid == 0 {
		return // skipped: Azurite is not installed
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("azurite pid %d still exists after cleanup (kill 0: %v)", pid, err)
	}
}
