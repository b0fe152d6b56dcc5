package deploy_test

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// The deploy session is opened while the bundle is fetched and verified,
// but that connection only connects: a refused bundle routed to a database
// that does not exist yet leaves it not existing, and the run reports the
// bundle, not the connection. A valid bundle to the same database creates
// it and deploys.
func TestRefusedBundleCreatesNoDatabase(t *testing.T) {
	suffix := make([]byte, 6)
	rand.Read(suffix)
	db := "t_early_" + hex.EncodeToString(suffix)
	t.Cleanup(func() { dropDatabase(t, pg, db) })
	f := newFixtureOn(t, pg, db, pg.ConnString(db))
	o := f.run(f.put("app/unsigned.tgz", testbundle.Pack(t, nil, "app", testbundle.Project("CREATE TABLE u (id int);")), ""))
	want(t, o, deploy.StatusFailed, false)
	if !strings.Contains(o.Err.Error(), "unsigned") && !strings.Contains(o.Err.Error(), "signature") {
		t.Fatalf("the refusal does not name the bundle: %v", o.Err)
	}
	if n := countIn(t, pg, "postgres", "SELECT count(*)::int FROM pg_database WHERE datname = '"+db+"'"); n != 0 {
		t.Fatalf("a refused bundle created database %s", db)
	}
	want(t, f.run(f.put("app/signed.tgz", f.signed("CREATE TABLE u (id int);"), "")), deploy.StatusDeployed, false)
	if n := countIn(t, pg, db, "SELECT count(*)::int FROM pg_tables WHERE tablename = 'u'"); n != 1 {
		t.Fatal("the valid bundle did not deploy into the database it created")
	}
}

// A server that accepts the connection and never answers: a refused bundle
// does not wait for that connection attempt (connect_timeout 60 s) — it is
// stopped, and the outcome is the refusal, not retryable.
func TestRefusedBundleStopsTheConnectionAttempt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	cs := "postgresql://deployer@" + ln.Addr().String() + "/app?connect_timeout=60&sslmode=disable"
	f := newFixture(t, func(e env) { e["PGMI_CONNECTION_STRING"] = cs })
	start := time.Now()
	o := f.run(f.put("app/unsigned.tgz", testbundle.Pack(t, nil, "app", testbundle.Project("SELECT 1;")), ""))
	want(t, o, deploy.StatusFailed, false)
	if !strings.Contains(o.Err.Error(), "unsigned") && !strings.Contains(o.Err.Error(), "signature") {
		t.Fatalf("the refusal does not name the bundle: %v", o.Err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("the refused bundle waited %v for a connection it did not need", d)
	}
}
