// Command demo is what `make demo` runs: it starts a throwaway PostgreSQL
// from the installed binaries, deploys the example projects with the pgmi
// CLI, shows what landed, and stops the cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

func main() {
	pgmi := flag.String("pgmi", "bin/pgmi", "path of the pgmi binary")
	flag.Parse()
	if err := run(*pgmi); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func run(pgmi string) error {
	step("Starting a throwaway PostgreSQL cluster")
	cluster, stop, err := testpg.StartMain()
	if err != nil {
		return err
	}
	defer stop()
	conn := cluster.ConnString("postgres")
	fmt.Printf("  listening on %s:%d (data in %s)\n  CONN=%q\n", cluster.Host(), cluster.Port(), cluster.DataDir(), conn)

	step("Deploying examples/inventory: migrations, tests, then online index builds")
	if err := deploy(pgmi, "examples/inventory", "--connection", conn, "-d", "inventory", "--json"); err != nil {
		return err
	}
	step("Deploying examples/inventory again: nothing new to apply")
	if err := deploy(pgmi, "examples/inventory", "--connection", conn, "-d", "inventory"); err != nil {
		return err
	}
	step("Deploying examples/hello with a parameter")
	if err := deploy(pgmi, "examples/hello", "--connection", conn, "-d", "hello", "--param", "greeter=make demo"); err != nil {
		return err
	}
	step("What landed")
	return show(cluster.ConnString("inventory"), cluster.ConnString("hello"))
}

func step(msg string) { fmt.Printf("\n==> %s\n", msg) }

func deploy(pgmi string, args ...string) error {
	cmd := exec.Command(pgmi, append([]string{"deploy"}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	shown := strings.Join(args, " ")
	for i, a := range args {
		if i > 0 && args[i-1] == "--connection" {
			shown = strings.Replace(shown, a, "\"$CONN\"", 1)
		}
	}
	fmt.Printf("$ pgmi deploy %s\n", shown)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgmi deploy %s: %w", args[0], err)
	}
	return nil
}

func show(inventory, hello string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, q := range []struct{ conn, sql string }{
		{inventory, "SELECT path || ' applied at ' || to_char(applied_at, 'HH24:MI:SS') FROM schema_migration ORDER BY applied_at, path"},
		{inventory, "SELECT indexname || ' (built in the psql tail)' FROM pg_indexes WHERE indexname LIKE '%_idx' ORDER BY 1"},
		{hello, "SELECT message FROM greeting ORDER BY id"},
	} {
		if err := printRows(ctx, q.conn, q.sql); err != nil {
			return err
		}
	}
	return nil
}

func printRows(ctx context.Context, connString, sql string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return err
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, l := range lines {
		fmt.Printf("  %s\n", l)
	}
	return err
}
