package deploy_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// olderLedgerDDL is the ledger as an older deployer created it: without
// units_done, script_sha256 and claim_token, which ledgerDDL adds with ADD
// COLUMN IF NOT EXISTS when it next deploys there.
const olderLedgerDDL = `CREATE SCHEMA pgmi_ledger;
CREATE TABLE pgmi_ledger.deployments (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, bundle text NOT NULL, bucket text NOT NULL DEFAULT '',
    version text NOT NULL DEFAULT '', sha256 text NOT NULL, sequencer text NOT NULL DEFAULT '',
    action text NOT NULL, schedule text NOT NULL DEFAULT '', status text NOT NULL, retryable boolean NOT NULL DEFAULT false,
    error text, exit_code integer, attempts integer NOT NULL DEFAULT 1, manifest_name text, manifest_ver text, signer text,
    platform text, invocation_id text, backend_pid integer, backend_start timestamptz,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(), finished_at timestamptz,
    UNIQUE (bundle, version, sha256, action, schedule));`

// pgmi history --json marshals deploy.History's rows as they are: the
// error of a failed row comes back redacted, even from a row that holds
// the secret (one an older deployer wrote before the ledger redacted it).
func TestHistoryRedactsError(t *testing.T) {
	f := newFixture(t)
	o := f.run(f.put("app/leak.tgz", f.signed("DO $$ BEGIN RAISE EXCEPTION 'failed'; END $$;\n"), ""))
	want(t, o, deploy.StatusFailed, false)
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), "UPDATE pgmi_ledger.deployments SET error = 'connecting: password=hunter2'"); err != nil {
		t.Fatal(err)
	}
	rows, err := deploy.History(context.Background(), conn, deploy.Table{Schema: "pgmi_ledger", Name: "deployments"}, 0)
	if err != nil || len(rows) != 1 {
		t.Fatalf("History: %d rows, %v", len(rows), err)
	}
	data, _ := json.Marshal(rows)
	if strings.Contains(string(data), "hunter2") || !strings.Contains(rows[0].Error, "password=") {
		t.Fatalf("History's rows (printed as they are by pgmi history --json) hold the secret: %s", data)
	}
}

// A ledger an older deployer created (olderLedgerDDL) can still be read by
// pgmi history, which only reads and so never upgrades it.
func TestHistoryReadsOlderLedger(t *testing.T) {
	f := newFixture(t)
	conn := pg.Connect(t, f.db)
	if _, err := conn.Exec(context.Background(), olderLedgerDDL+`
INSERT INTO pgmi_ledger.deployments (bundle, sha256, action, status, finished_at) VALUES ('s3://b/app/1.tgz', 'ab', 'deploy', 'succeeded', now());`); err != nil {
		t.Fatal(err)
	}
	rows, err := deploy.History(context.Background(), conn, deploy.Table{Schema: "pgmi_ledger", Name: "deployments"}, 0)
	if err != nil || len(rows) != 1 {
		t.Fatalf("History of an older ledger: %d rows, %v", len(rows), err)
	}
	if r := rows[0]; r.Bundle != "s3://b/app/1.tgz" || r.Status != "succeeded" || r.UnitsDone != 0 {
		t.Fatalf("History of an older ledger: %+v", r)
	}
}
