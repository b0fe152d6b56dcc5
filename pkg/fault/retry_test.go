package fault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

type sqlState string

func (s sqlState) Error() string    { return "ERROR (SQLSTATE " + string(s) + ")" }
func (s sqlState) SQLState() string { return string(s) }

type says bool

func (s says) Error() string   { return "it says" }
func (s says) Retryable() bool { return bool(s) }

type netTimeout struct{}

func (netTimeout) Error() string   { return "i/o timeout" }
func (netTimeout) Timeout() bool   { return true }
func (netTimeout) Temporary() bool { return true }

func TestRetryable(t *testing.T) {
	yes := map[string]error{
		"connection kind":       Errorf(Connection, "connection refused"),
		"concurrent":            Errorf(Concurrent, "lock held"),
		"timeout kind":          Wrap(Timeout, context.DeadlineExceeded, "deadline"),
		"canceled":              context.Canceled,
		"session lost":          Wrap(Execution, fmt.Errorf("%w: terminated", ErrSessionLost), "execution failed"),
		"self yes under config": Wrap(Config, says(true), "x"),
		"admin shutdown":        fmt.Errorf("x: %w", sqlState("57P01")),
		"too many connections":  sqlState("53300"),
		"serialization":         sqlState("40001"),
		"refused":               &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED},
		"dns temporary":         &net.DNSError{Err: "try again", IsTemporary: true},
		"net timeout":           &net.OpError{Op: "read", Err: netTimeout{}},
	}
	no := map[string]error{
		"nil":                 nil,
		"config":              Errorf(Config, "bad setting"),
		"execution":           Wrap(Execution, sqlState("40001"), "deploy.sql failed"),
		"self no under conn":  Wrap(Connection, says(false), "token refused"),
		"cancelled statement": sqlState("57014"),
		"database dropped":    sqlState("57P04"),
		"bad password":        sqlState("28P01"),
		"dns not found":       &net.DNSError{Err: "no such host", IsNotFound: true},
		"plain text":          errors.New("connection refused"),
	}
	for name, err := range yes {
		if !Retryable(err) {
			t.Errorf("%s: Retryable(%v) = false", name, err)
		}
	}
	for name, err := range no {
		if Retryable(err) {
			t.Errorf("%s: Retryable(%v) = true", name, err)
		}
	}
}
