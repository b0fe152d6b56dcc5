package testpg

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// NewRole creates a login role without a password, dropped at cleanup.
func (c *Cluster) NewRole(t testing.TB, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d_%d", prefix, os.Getpid(), time.Now().UnixNano()%1e6)
	c.Exec(t, "postgres", "CREATE ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN")
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), c.ConnString("postgres"))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{name}.Sanitize())
	})
	return name
}
