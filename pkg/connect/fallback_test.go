package connect

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// With sslmode=prefer (the default) against a server without TLS, the TLS
// attempt is refused and the plaintext one fails for the real reason: the
// error is about the password, not about TLS.
func TestPreferFallbackReportsThePlaintextFailure(t *testing.T) {
	testpg.Require(t, pwErr)
	const wrong = "Wr0ng-Passw0rd-y"
	_, err := openTarget(t, hostFlags(pw, "postgres"), isolatedEnv(t, "PGPASSWORD", wrong, "PGSSLMODE", "prefer"), nil)
	if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), `password authentication failed for user "postgres"`) {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	for _, tls := range []string{"TLS", "tls"} {
		if strings.Contains(err.Error(), tls) {
			t.Errorf("the error speaks of TLS, which the server declined and which is not the problem: %v", err)
		}
	}
}

// noTLSServer declines every SSLRequest and closes a connection as soon as
// it has read a startup message: a server (or a proxy) that drops the
// plaintext session. It returns its port.
func noTLSServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				head := make([]byte, 8)
				if _, err := io.ReadFull(c, head); err != nil {
					return
				}
				if string(head[4:]) == "\x04\xd2\x16\x2f" { // SSLRequest
					_, _ = c.Write([]byte{'N'})
				}
				// A startup message (or anything after the refusal): hang up.
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// When the plaintext attempt of sslmode=prefer fails for a network reason,
// the error is that failure, not an "SSL/TLS failure" taken from the TLS
// attempt the server declined.
func TestPreferFallbackNetworkFailureIsNotATLSFailure(t *testing.T) {
	port := noTLSServer(t)
	c := &Config{Hosts: []string{"127.0.0.1"}, Ports: []uint16{uint16(port)}, User: "u", Database: "d", SSL: SSL{Mode: "prefer"}}
	cfg, err := pgxConfig(c, mustTLS(t, c.SSL), nil, "d")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Connect(context.Background(), cfg)
	if exitcode.Of(err) != 11 {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	if strings.Contains(err.Error(), "SSL/TLS") || strings.Contains(err.Error(), "refused TLS") {
		t.Errorf("the error sends the user after TLS: %v", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Errorf("the error does not name the address: %v", err)
	}
}

// connect_timeout bounds the whole connect to an address, TLS attempt,
// plaintext fallback and retries together, and its expiry is a connection
// failure (exit 11): the run's deadline did not expire.
func TestConnectTimeoutBoundsTheConnectAndIsExit11(t *testing.T) {
	port := silentListener(t)
	c := &Config{Hosts: []string{"127.0.0.1"}, Ports: []uint16{uint16(port)}, User: "u", Database: "d", SSL: SSL{Mode: "prefer"}, ConnectTimeout: time.Second}
	cfg, err := pgxConfig(c, mustTLS(t, c.SSL), nil, "d")
	if err != nil {
		t.Fatal(err)
	}
	const limit = 300 * time.Millisecond
	cfg.ConnectTimeout = limit // below the 1 s the settings allow, to keep the test fast
	start := time.Now()
	_, err = Connect(context.Background(), cfg)
	elapsed := time.Since(start)
	if exitcode.Of(err) != 11 || !strings.Contains(err.Error(), "timed out") || !strings.Contains(err.Error(), "connect_timeout") {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	if elapsed < limit || elapsed > limit+400*time.Millisecond {
		t.Errorf("gave up after %v; connect_timeout is %v for the whole connect", elapsed, limit)
	}
}

// Each host of a list gets its own connect_timeout, as in libpq: a silent
// first host does not use up the time of the next one.
func TestConnectTimeoutPerHost(t *testing.T) {
	testpg.Require(t, pwErr)
	silent := silentListener(t)
	f := Flags{ConnString: fmt.Sprintf("postgresql://postgres:%s@127.0.0.1:%d,127.0.0.1:%d/postgres?connect_timeout=1&sslmode=disable",
		pw.Password(), silent, pw.Port())}
	start := time.Now()
	conn := mustOpen(t, f, isolatedEnv(t))
	if got := queryString(t, conn, "SELECT current_database()"); got != "postgres" {
		t.Errorf("connected to %s", got)
	}
	if d := time.Since(start); d < time.Second || d > 3*time.Second {
		t.Errorf("connected after %v; the silent first host should cost its one second", d)
	}
}
