package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/pgserver"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// deployRole is the database user the function logs in as: an RDS IAM user
// stand-in with CREATEDB, the owner of every database it deploys to (a
// reset drops and recreates one, which takes ownership).
const deployRole = "iam_deployer"

// One cluster for the package, set up like RDS: TLS on, TCP logins only
// over TLS. The deploy role is trusted over hostssl because its password,
// the RDS IAM token, is signed inside the function process, so the test
// cannot make it the role's password beforehand; that the token is signed
// and checked correctly is covered by pkg/connect/rdsiam's tests, where the
// token is the password. Everyone else (the suite, as postgres) uses scram.
var (
	pg    *testpg.Cluster
	pgErr error
)

func TestMain(m *testing.M) {
	var stop func()
	pg, stop, pgErr = testpg.StartMain(pgserver.WithTokenTLS(), pgserver.WithHBA(
		"local all all trust",
		"hostssl all "+deployRole+" 127.0.0.1/32 trust",
		"hostssl all all 127.0.0.1/32 scram-sha-256",
	))
	if pgErr == nil {
		pgErr = createDeployRole()
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func createDeployRole() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.ConnString("postgres"))
	if err != nil {
		return fmt.Errorf("creating %s: %w", deployRole, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE ROLE "+deployRole+" LOGIN CREATEDB"); err != nil {
		return fmt.Errorf("creating %s: %w", deployRole, err)
	}
	return nil
}

// ownedByDeployer hands databases to the deploy role.
func ownedByDeployer(tb testing.TB, dbs ...string) {
	tb.Helper()
	for _, db := range dbs {
		pg.Exec(tb, "postgres", "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" OWNER TO "+deployRole)
	}
}
