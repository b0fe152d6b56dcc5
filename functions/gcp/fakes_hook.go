//go:build pgmi_fakes

// This file exists only in test builds: go build -tags pgmi_fakes. The
// image README.md describes is built without the tag and so has none of
// it; setup.go takes its place there.
//
// The test runs the built function as a separate process, and the Cloud SQL
// fakes (internal/testfakes/gcpfake) live in the test process: the Admin
// API on a loopback URL, each instance address behind a loopback proxy.
// The real connector cannot be pointed at them through the environment, so
// in a test build two variables do it:
//
//	PGMI_FAKE_SQLADMIN_URL  the Admin API endpoint (cloudsqlconn.WithAdminAPIEndpoint)
//	PGMI_FAKE_SQL_DIAL      where instance addresses go: addr:3307=127.0.0.1:port,…
//	                        (cloudsqlconn.WithDialFunc; an address not listed is refused)
//
// When PGMI_FAKE_SQLADMIN_URL is unset the test build starts exactly as
// the production one does.

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"cloud.google.com/go/cloudsqlconn"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/connect/google"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// The test build's variables.
const (
	fakeAdminURLVar = "PGMI_FAKE_SQLADMIN_URL"
	fakeDialVar     = "PGMI_FAKE_SQL_DIAL"
)

// setup is internal.Setup with the google provider pointed at the fakes
// (connect.RegisterProvider cannot replace the provider pkg/connect/google
// registered, so the override goes through deploy.LoadOptions.Providers).
func setup(ctx context.Context, log *internal.Logger, limit internal.Limit) (*internal.Function, error) {
	adminURL := os.Getenv(fakeAdminURLVar)
	if adminURL == "" {
		return internal.Setup(ctx, platform, connect.AuthGoogle, os.LookupEnv, log, limit)
	}
	routes, err := parseDialMap(os.Getenv(fakeDialVar))
	if err != nil {
		log.Error("cold start failed: invalid configuration: " + err.Error())
		return nil, err
	}
	log.Warn("test build: the Cloud SQL Admin API is " + adminURL + " and instance addresses are dialled as " + fakeDialVar + " says")
	factory := google.NewFactory(&google.Options{DialerOptions: []cloudsqlconn.Option{
		cloudsqlconn.WithAdminAPIEndpoint(adminURL),
		cloudsqlconn.WithDialFunc(routes.dial),
	}})
	return internal.SetupWith(ctx, platform, os.LookupEnv, log, &internal.Options{LoadOptions: deploy.LoadOptions{
		DefaultAuth: connect.AuthGoogle,
		Providers:   map[connect.AuthMethod]connect.ProviderFactory{connect.AuthGoogle: factory},
	}, Limit: limit})
}

// dialMap sends instance addresses (host:3307) to loopback listeners.
type dialMap map[string]string

// parseDialMap reads "addr:port=host:port,…".
func parseDialMap(s string) (dialMap, error) {
	m := dialMap{}
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		from, to, ok := strings.Cut(pair, "=")
		if _, _, err := net.SplitHostPort(from); !ok || err != nil {
			return nil, fmt.Errorf("%s: %q is not address:port=host:port", fakeDialVar, pair)
		}
		if _, _, err := net.SplitHostPort(to); err != nil {
			return nil, fmt.Errorf("%s: %q is not address:port=host:port", fakeDialVar, pair)
		}
		m[from] = to
	}
	return m, nil
}

// dial connects to where an instance address is mapped; an address not in
// the map is refused, as a network with nothing there would.
func (m dialMap) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	to, ok := m[net.JoinHostPort(strings.TrimSuffix(host, "."), port)]
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", to)
}
