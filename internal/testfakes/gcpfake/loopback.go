package gcpfake

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// LoopbackIP returns a loopback IP, other than 127.0.0.1, whose port 3307
// is free, for an instance address (InstanceConfig.PublicIP, PrivateIP).
// The instance's proxy then listens there, where the connector's own dial
// function goes (it always dials port 3307), so a process with no hook at
// all — a shipped binary under test — reaches the fake. Each call picks a
// random address in 127.0.0.0/8, so parallel tests and other sessions'
// listeners on 3307 do not collide. Linux routes all of 127.0.0.0/8 to
// the loopback interface; where only 127.0.0.1 is configured (macOS by
// default) the test is skipped.
func LoopbackIP(tb testing.TB) string {
	tb.Helper()
	var last error
	for range 20 {
		ip := fmt.Sprintf("127.%d.%d.%d", 64+rand.IntN(64), rand.IntN(256), 1+rand.IntN(254))
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, ServerProxyPort))
		if err != nil {
			last = err
			continue
		}
		ln.Close()
		return ip
	}
	tb.Skipf("gcpfake: no loopback address with port %s free (is 127.0.0.0/8 routed to lo?): %v", ServerProxyPort, last)
	return ""
}
