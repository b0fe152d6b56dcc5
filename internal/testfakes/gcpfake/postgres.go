package gcpfake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// servePostgres reads the client's startup packet and sets the session up.
func (in *Instance) servePostgres(conn net.Conn, addr, token string) {
	be := pgproto3.NewBackend(conn, conn)
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			// The tunnel is already TLS: decline, as the real proxy does.
			if _, err := conn.Write([]byte("N")); err != nil {
				return
			}
		case *pgproto3.CancelRequest:
			in.forwardCancel(m)
			return
		case *pgproto3.StartupMessage:
			if token == "" {
				in.relay(conn, addr, m)
				return
			}
			in.loginIAM(conn, be, addr, m, token)
			return
		default:
			return
		}
	}
}

// loginIAM logs in to PostgreSQL with the IAM token as the password, then
// hands the authenticated session to the client.
func (in *Instance) loginIAM(conn net.Conn, be *pgproto3.Backend, addr string, m *pgproto3.StartupMessage, token string) {
	login := Login{Address: addr, User: m.Parameters["user"], Database: m.Parameters["database"], IAM: true}
	if login.Database == "" {
		login.Database = login.User
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	up, err := in.upstream(ctx, login, token, m.Parameters)
	login.Err = err
	in.record(login)
	if err != nil {
		be.Send(errorResponse(err))
		be.Flush()
		return
	}
	if err := up.SyncConn(ctx); err != nil {
		up.Close(ctx)
		return
	}
	hj, err := up.Hijack()
	if err != nil {
		up.Close(ctx)
		return
	}
	if m.ProtocolVersion != pgproto3.ProtocolVersion30 {
		// PostgreSQL was asked for 3.0; tell a client that wanted more.
		be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0})
	}
	be.Send(&pgproto3.AuthenticationOk{})
	for k, v := range hj.ParameterStatuses {
		be.Send(&pgproto3.ParameterStatus{Name: k, Value: v})
	}
	be.Send(&pgproto3.BackendKeyData{ProcessID: hj.PID, SecretKey: hj.SecretKey})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: hj.TxStatus})
	if err := be.Flush(); err != nil {
		hj.Conn.Close()
		return
	}
	splice(conn, hj.Conn)
}

// upstream connects to the instance's PostgreSQL as login.User.
func (in *Instance) upstream(ctx context.Context, login Login, password string, params map[string]string) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig("sslmode=disable host=" + quote(in.Config.PostgresHost) +
		" port=" + strconv.Itoa(in.Config.PostgresPort))
	if err != nil {
		return nil, err
	}
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	cfg.User, cfg.Database, cfg.Password = login.User, login.Database, password
	cfg.MinProtocolVersion, cfg.MaxProtocolVersion = "3.0", "3.0"
	cfg.RuntimeParams = map[string]string{}
	for k, v := range params {
		if k != "user" && k != "database" {
			cfg.RuntimeParams[k] = v
		}
	}
	return pgconn.ConnectConfig(ctx, cfg)
}

// relay passes a session without IAM authentication straight through: the
// client authenticates to PostgreSQL itself (a built-in database user).
func (in *Instance) relay(conn net.Conn, addr string, m *pgproto3.StartupMessage) {
	in.record(Login{Address: addr, User: m.Parameters["user"], Database: m.Parameters["database"]})
	up, err := in.dialPostgres()
	if err != nil {
		return
	}
	buf, err := m.Encode(nil)
	if err != nil {
		up.Close()
		return
	}
	if _, err := up.Write(buf); err != nil {
		up.Close()
		return
	}
	splice(conn, up)
}

// forwardCancel passes a cancel request on; the client learned the real
// backend pid and key from BackendKeyData.
func (in *Instance) forwardCancel(m *pgproto3.CancelRequest) {
	up, err := in.dialPostgres()
	if err != nil {
		return
	}
	defer up.Close()
	if buf, err := m.Encode(nil); err == nil {
		up.Write(buf)
		io.Copy(io.Discard, up) // the server closes when done
	}
}

func (in *Instance) dialPostgres() (net.Conn, error) {
	network, address := pgconn.NetworkAddress(in.Config.PostgresHost, uint16(in.Config.PostgresPort))
	return net.DialTimeout(network, address, 10*time.Second)
}

// errorResponse turns a failed login into what PostgreSQL would have sent.
func errorResponse(err error) *pgproto3.ErrorResponse {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return &pgproto3.ErrorResponse{
			Severity: pgErr.Severity, SeverityUnlocalized: pgErr.SeverityUnlocalized,
			Code: pgErr.Code, Message: pgErr.Message, Detail: pgErr.Detail, Hint: pgErr.Hint,
			Routine: pgErr.Routine,
		}
	}
	return &pgproto3.ErrorResponse{
		Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "08006",
		Message: fmt.Sprintf("gcpfake: cannot reach the instance's PostgreSQL: %v", err),
	}
}

// splice copies both ways until either side ends, then closes both.
func splice(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
