package connect

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgmi-cloud/pgmi/internal/exitcode"
	"github.com/pgmi-cloud/pgmi/pkg/pgmiyaml"
)

// fakeServer speaks enough of the PostgreSQL wire protocol to answer the
// compatibility probe as some product would.
type fakeServer struct {
	version    string            // what version() returns
	versionNum string            // server_version_num
	params     map[string]string // ParameterStatus at startup
	keyPID     func(n int) uint32
	backendPID func(n int) uint32
	probeError string // SQLSTATE to answer the probe with

	conns atomic.Int32
}

func (s *fakeServer) start(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(s.conns.Add(1))
			wg.Add(1)
			go func() { defer wg.Done(); s.serve(c, n) }()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func (s *fakeServer) serve(c net.Conn, n int) {
	defer c.Close()
	be := pgproto3.NewBackend(c, c)
	if _, err := be.ReceiveStartupMessage(); err != nil {
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "standard_conforming_strings", Value: "on"})
	be.Send(&pgproto3.ParameterStatus{Name: "client_encoding", Value: "UTF8"})
	for k, v := range s.params {
		be.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
	}
	be.Send(&pgproto3.BackendKeyData{ProcessID: s.keyPID(n), SecretKey: []byte{1, 2, 3, 4}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		q, ok := msg.(*pgproto3.Query)
		if !ok {
			return
		}
		s.answer(be, q.String, n)
		if be.Flush() != nil {
			return
		}
	}
}

func (s *fakeServer) answer(be *pgproto3.Backend, sql string, n int) {
	defer be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	pid := []byte(fmt.Sprint(s.backendPID(n)))
	switch {
	case s.probeError != "" && strings.Contains(sql, "version()"):
		be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: s.probeError, Message: "not supported here"})
	case strings.Contains(sql, "version()"):
		be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{
			field("version", 25), field("current_database", 25), field("current_user", 25), field("pg_backend_pid", 23),
			field("inet_server_addr", 869), field("inet_server_port", 23), field("current_setting", 23)}})
		be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte(s.version), []byte("d"), []byte("u"), pid, []byte("127.0.0.1"), []byte("5432"), []byte(s.versionNum)}})
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
	case strings.Contains(sql, "pg_backend_pid()"):
		be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{field("pg_backend_pid", 23)}})
		be.Send(&pgproto3.DataRow{Values: [][]byte{pid}})
		be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
	default:
		be.Send(&pgproto3.EmptyQueryResponse{})
	}
}

func field(name string, oid uint32) pgproto3.FieldDescription {
	return pgproto3.FieldDescription{Name: []byte(name), DataTypeOID: oid, DataTypeSize: -1, TypeModifier: -1}
}

func same(pid uint32) func(int) uint32 { return func(int) uint32 { return pid } }
func each(base uint32) func(int) uint32 {
	return func(n int) uint32 { return base + uint32(n) }
}

const pgVersion = "PostgreSQL 16.4 on x86_64-pc-linux-gnu, compiled by gcc, 64-bit"

func probeFake(t *testing.T, s *fakeServer) (*Server, error) {
	t.Helper()
	port := s.start(t)
	conn, err := pgx.Connect(t.Context(), fmt.Sprintf("host=127.0.0.1 port=%d user=u dbname=d sslmode=disable", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	return Probe(t.Context(), conn)
}

func TestProbeRefusesWhatCannotRunPgmi(t *testing.T) {
	cases := []struct {
		name string
		srv  *fakeServer
		want string // "" = accepted
	}{
		{"PostgreSQL", &fakeServer{version: pgVersion, versionNum: "160004", keyPID: each(100), backendPID: each(100)}, ""},
		{"CockroachDB by its startup parameter", &fakeServer{version: pgVersion, versionNum: "130000", params: map[string]string{"crdb_version": "CockroachDB CCL v24.1.0"}, keyPID: each(1), backendPID: each(1)}, "CockroachDB"},
		{"CockroachDB by version()", &fakeServer{version: "CockroachDB CCL v24.1.0 (x86_64-pc-linux-gnu)", versionNum: "130000", keyPID: each(1), backendPID: each(1)}, "CockroachDB"},
		{"YugabyteDB", &fakeServer{version: "PostgreSQL 11.2-YB-2.20.0.0-b0 on x86_64-pc-linux-gnu", versionNum: "110002", params: map[string]string{"server_version": "11.2-YB-2.20.0.0-b0"}, keyPID: each(1), backendPID: each(1)}, "YugabyteDB"},
		{"Aurora DSQL", &fakeServer{version: "PostgreSQL 16 Aurora DSQL", versionNum: "160000", keyPID: each(1), backendPID: each(1)}, "Aurora DSQL"},
		{"PostgreSQL 10", &fakeServer{version: "PostgreSQL 10.23 on x86_64", versionNum: "100023", keyPID: each(1), backendPID: each(1)}, "PostgreSQL 10.23, and pgmi needs PostgreSQL 11"},
		{"transaction-mode pooler", &fakeServer{version: pgVersion, versionNum: "160004", keyPID: each(900000), backendPID: same(4242)}, "transaction or statement mode"},
		{"session-mode pooler", &fakeServer{version: pgVersion, versionNum: "160004", keyPID: each(900000), backendPID: each(4242)}, ""},
		{"no probe functions", &fakeServer{version: pgVersion, versionNum: "160004", keyPID: each(1), backendPID: each(1), probeError: "42883"}, "compatibility probe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := probeFake(t, tc.srv)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if s.Version != pgVersion || s.VersionNum != 160004 || s.Database != "d" || s.User != "u" || s.Addr == nil {
					t.Errorf("server %+v", s)
				}
				return
			}
			if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("exit %d: %v", exitcode.Of(err), err)
			}
		})
	}
}

// A direct connection needs no second connection to rule out a pooler.
func TestProbeOpensASecondConnectionOnlyBehindAProxy(t *testing.T) {
	direct := &fakeServer{version: pgVersion, versionNum: "160004", keyPID: each(7), backendPID: each(7)}
	if _, err := probeFake(t, direct); err != nil || direct.conns.Load() != 1 {
		t.Errorf("direct: %v, %d connections", err, direct.conns.Load())
	}
	proxied := &fakeServer{version: pgVersion, versionNum: "160004", keyPID: each(1 << 30), backendPID: each(7)}
	if _, err := probeFake(t, proxied); err != nil || proxied.conns.Load() != 2 {
		t.Errorf("proxied: %v, %d connections", err, proxied.conns.Load())
	}
}

// The lifecycle probes before it creates anything: a refused server never
// sees CREATE DATABASE.
func TestLifecycleProbesBeforeCreating(t *testing.T) {
	s := &fakeServer{version: "CockroachDB CCL v24.1.0", versionNum: "130000", keyPID: each(1), backendPID: each(1)}
	port := s.start(t)
	tgt, err := ResolveWith(Flags{Host: "127.0.0.1", Port: port, User: "u", Database: "app", SSLMode: "disable"}, isolatedEnv(t), pgmiyaml.Connection{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Lifecycle{Target: tgt}).Open(t.Context())
	if exitcode.Of(err) != 10 || !strings.Contains(err.Error(), "CockroachDB") {
		t.Errorf("exit %d: %v", exitcode.Of(err), err)
	}
}

func TestCheckHostRecognisesDSQLEndpoints(t *testing.T) {
	if err := checkHost("abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"); err == nil || !strings.Contains(err.Error(), "Aurora DSQL") {
		t.Errorf("DSQL endpoint: %v", err)
	}
	for _, h := range []string{"mydb.cluster-xyz.us-west-2.rds.amazonaws.com", "localhost", "/tmp"} {
		if err := checkHost(h); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
}
