package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	closeTimeout    = 10 * time.Second
	dropTimeout     = 30 * time.Second
	maxDBNamePrefix = 40 // leaves room for the random suffix within 63 bytes
)

// Connect opens a connection to db over TCP; tb.Cleanup closes it.
func (c *Cluster) Connect(tb testing.TB, db string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(tb.Context(), c.ConnString(db))
	if err != nil {
		tb.Fatalf("testpg: connect to database %q: %v", db, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		conn.Close(ctx)
	})
	return conn
}

// Exec runs sql with args in db on a connection of its own, failing tb on error.
func (c *Cluster) Exec(tb testing.TB, db, sql string, args ...any) pgconn.CommandTag {
	tb.Helper()
	tag, err := c.exec(tb.Context(), db, sql, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return tag
}

func (c *Cluster) exec(ctx context.Context, db, sql string, args ...any) (pgconn.CommandTag, error) {
	conn, err := pgx.Connect(ctx, c.ConnString(db))
	if err != nil {
		return pgconn.CommandTag{}, fmt.Errorf("testpg: connect to database %q: %w", db, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tag, err := conn.Exec(ctx, sql, args...)
	if err != nil {
		return tag, fmt.Errorf("testpg: exec in database %q: %w", db, err)
	}
	return tag, nil
}

// CreateDatabase creates the database name, failing tb on error.
func (c *Cluster) CreateDatabase(tb testing.TB, name string) {
	tb.Helper()
	c.Exec(tb, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// NewDatabase creates a database with a fresh name derived from tb.Name() and
// returns the name. tb.Cleanup drops it WITH (FORCE), ending any sessions
// still connected, unless the cluster is already stopped.
func (c *Cluster) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := databaseName(tb.Name())
	c.CreateDatabase(tb, name)
	tb.Cleanup(func() {
		if c.Stopped() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
		defer cancel()
		drop := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)"
		if _, err := c.exec(ctx, "postgres", drop); err != nil {
			tb.Error(err)
		}
	})
	return name
}

// databaseName turns a test name into a lower-case identifier with a random
// suffix, at most 63 bytes long.
func databaseName(testName string) string {
	var b strings.Builder
	b.WriteString("t_")
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= maxDBNamePrefix {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	return b.String() + "_" + hex.EncodeToString(suffix)
}
