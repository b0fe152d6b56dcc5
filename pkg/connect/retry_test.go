package connect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/fault"
)

// The connection retries ask fault.Retryable, with pgx's own errors.
func TestRetryableConnectionErrors(t *testing.T) {
	pg := func(code string) error { return fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code}) }
	yes := []error{
		pg("08006"), pg("08001"), pg("53300"), pg("53200"), pg("57P01"), pg("57P03"), pg("57P05"), pg("40001"), pg("40P01"), pg("55P03"),
		&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, fmt.Errorf("x: %w", syscall.ECONNRESET),
		&net.OpError{Op: "dial", Err: syscall.ENETUNREACH}, &net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH},
		&net.DNSError{Err: "timeout", IsTimeout: true}, &net.DNSError{Err: "try again", IsTemporary: true},
		&net.OpError{Op: "read", Err: timeoutErr{}}, fmt.Errorf("attempt: %w", context.DeadlineExceeded),
		selfTransient(true),
	}
	no := []error{
		nil, pg("57014"), pg("57P04"), pg("28P01"), pg("28000"), pg("3D000"), pg("42501"), pg("42704"), pg("42601"), pg("23505"),
		&net.DNSError{Err: "no such host", IsNotFound: true}, errors.New("connection refused"), errors.New("i/o timeout"),
		selfTransient(false), fmt.Errorf("%w", &pgconn.PgError{Code: "28P01"}),
	}
	for _, err := range yes {
		if !fault.Retryable(err) {
			t.Errorf("fault.Retryable(%#v) = false", err)
		}
	}
	for _, err := range no {
		if fault.Retryable(err) {
			t.Errorf("fault.Retryable(%#v) = true", err)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

type selfTransient bool

func (s selfTransient) Error() string   { return "provider says" }
func (s selfTransient) Retryable() bool { return bool(s) }

func TestBackoff(t *testing.T) {
	for n, want := range []time.Duration{100, 200, 400} {
		want *= time.Millisecond
		lo, mid, hi := retryPolicy.DelayAt(n, 0), retryPolicy.DelayAt(n, 0.5), retryPolicy.DelayAt(n, 0.999999)
		if mid != want || lo != want*9/10 || hi < want*109/100 || hi > want*11/10 {
			t.Errorf("retry %d: %v %v %v around %v", n, lo, mid, hi, want)
		}
	}
}

// A refused port is retried Retries times with backoff (about 0.7 s), and
// the error names the address and what to check (exit 11).
func TestConnectRetriesRefusedThenReportsLastError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	cfg := testPgxConfig(t, fmt.Sprintf("host=127.0.0.1 port=%d user=u dbname=d sslmode=disable password=Refused-Secret1", addr.Port))
	start := time.Now()
	_, err = Connect(context.Background(), cfg)
	elapsed := time.Since(start)
	if fault.KindOf(err) != fault.Connection || exitcode.Of(err) != 11 {
		t.Fatalf("kind %v: %v", fault.KindOf(err), err)
	}
	if !strings.Contains(err.Error(), "connection refused by 127.0.0.1:") || !strings.Contains(err.Error(), "after 4 attempts") ||
		!strings.Contains(err.Error(), "pg_isready") {
		t.Errorf("message: %v", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Error("the last real error is not in the chain")
	}
	if elapsed < 600*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("took %v; 3 retries at 100/200/400 ms ±10%% take about 0.7 s", elapsed)
	}
	if strings.Contains(err.Error(), "Refused-Secret1") {
		t.Error("password printed")
	}
}

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// pgmi's B11: --timeout expiring while connecting is always 16, whether it
// hits during a dial or during the backoff.
func TestContextDeadlineWhileConnectingIsExit16(t *testing.T) {
	port := silentListener(t)
	cfg := testPgxConfig(t, fmt.Sprintf("host=127.0.0.1 port=%d user=u dbname=d sslmode=disable", port))
	for _, d := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		_, err := Connect(ctx, cfg)
		cancel()
		if exitcode.Of(err) != 16 || !strings.Contains(err.Error(), "timed out connecting to 127.0.0.1:") {
			t.Errorf("deadline %v: exit %d: %v", d, exitcode.Of(err), err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := Connect(ctx, cfg); exitcode.Of(err) != 130 {
		t.Errorf("cancel: exit %d: %v", exitcode.Of(err), err)
	}
}

func TestClassifyMessages(t *testing.T) {
	cfg := testPgxConfig(t, "host=db.example.com port=5432 user=alice dbname=app sslmode=disable")
	cases := []struct {
		err    error
		method AuthMethod
		kind   fault.Kind
		want   string
	}{
		{&pgconn.PgError{Code: "28P01", Message: "password authentication failed"}, AuthPassword, fault.Connection, "check PGPASSWORD, the password file"},
		{&pgconn.PgError{Code: "28P01"}, "aws", fault.Connection, "the aws token for user \"alice\" was rejected"},
		{&pgconn.PgError{Code: "28000", Message: "no pg_hba.conf entry"}, AuthPassword, fault.Connection, "pg_hba.conf"},
		{&pgconn.PgError{Code: "3D000"}, AuthPassword, fault.Connection, `database "app" does not exist`},
		{&pgconn.PgError{Code: "42501", Message: "permission denied"}, AuthPassword, fault.Connection, `GRANT CONNECT ON DATABASE "app" TO "alice"`},
		{&pgconn.PgError{Code: "53300", Message: "too many"}, AuthPassword, fault.Connection, "max_connections"},
		{&pgconn.PgError{Code: "57P03", Message: "starting up"}, AuthPassword, fault.Connection, "retry shortly"},
		{&pgconn.PgError{Code: "42704", Message: `unrecognized configuration parameter "Pooling"`}, AuthPassword, fault.Connection, "remove it from the connection string"},
		{&pgconn.PgError{Code: "XX000", Message: "odd"}, AuthPassword, fault.Connection, "(SQLSTATE XX000)"},
		{&net.DNSError{Name: "db.example.com", Err: "no such host", IsNotFound: true}, AuthPassword, fault.Connection, `cannot resolve host "db.example.com"`},
		{&providerError{errors.New("no credentials")}, "azure", fault.Connection, "could not get an access token (azure authentication)"},
		{&providerError{fault.Errorf(fault.Config, "bad region")}, "aws", fault.Config, "bad region"},
		{errors.New("server refused TLS connection"), AuthPassword, fault.Connection, "SSL/TLS failure"},
	}
	for _, tc := range cases {
		err := classify(context.Background(), cfg, tc.method, tc.err, 1)
		if fault.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: kind %v, %q lacks %q", tc.err, fault.KindOf(err), err, tc.want)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%v is not in the chain", tc.err)
		}
	}
}

func testPgxConfig(t *testing.T, s string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func mustTLS(t *testing.T, s SSL) *tlsSetup {
	t.Helper()
	ts, err := loadTLS(s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
