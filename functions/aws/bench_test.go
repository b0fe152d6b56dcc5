package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal/functest"
	"github.com/pgmi-cloud/pgmi/internal/testbundle"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/lambdafake"
	"github.com/pgmi-cloud/pgmi/internal/testfakes/s3fake"
	"github.com/pgmi-cloud/pgmi/internal/testpg"
)

// emptyPkg is the smallest aws-lambda-go function, the cold-start baseline.
const emptyPkg = "./internal/testfakes/lambdafake/testdata/empty"

// floorPkg is the empty function linking gocloud.dev/blob/s3blob: the least
// any function built on the prescribed storage layer can cost.
const floorPkg = "./functions/aws/testdata/floor"

// BenchmarkColdStart measures exec → first GET …/next of the bootstrap
// with a valid configuration (the database is never contacted at cold
// start, so it points at a closed port), against the empty function built
// the same way, started alternately on fresh fake runtimes.
func BenchmarkColdStart(b *testing.B) {
	bin := lambdafake.BuildBinary(b, pkgPath, "lambda.norpc")
	empty := lambdafake.BuildBinary(b, emptyPkg, "lambda.norpc")
	floor := lambdafake.BuildBinary(b, floorPkg, "lambda.norpc")
	env := coldStartEnv(b)
	coldStart(b, bin, env) // page the binaries in before measuring
	coldStart(b, empty, nil)
	coldStart(b, floor, nil)

	var fn, base, fl time.Duration
	n := 0
	for b.Loop() {
		fn += coldStart(b, bin, env)
		base += coldStart(b, empty, nil)
		fl += coldStart(b, floor, nil)
		n++
	}
	b.ReportMetric(ms(fn)/float64(n), "ms/coldstart")
	b.ReportMetric(ms(base)/float64(n), "ms/baseline")
	b.ReportMetric(float64(fn)/float64(base), "x/baseline")
	b.ReportMetric(ms(fl)/float64(n), "ms/s3blob-floor")
	b.ReportMetric(float64(fl)/float64(base), "x/baseline-of-floor")
	b.ReportMetric(float64(fn)/float64(fl), "x/s3blob-floor")
	b.ReportMetric(fileMB(b, bin), "MB/binary")
}

// coldStart starts bin on a fresh runtime and returns the time from exec
// to its first poll for work.
func coldStart(b *testing.B, bin string, env []string) time.Duration {
	b.Helper()
	rt := lambdafake.New()
	defer rt.Close()
	p := rt.Exec(b, bin, env...)
	defer p.Stop()
	select {
	case at := <-rt.FirstPoll():
		return at.Sub(p.Started)
	case <-p.Done():
		b.Fatalf("%s exited at start (%v):\n%s", filepath.Base(bin), p.Err(), p.Output())
	case <-time.After(30 * time.Second):
		b.Fatalf("%s did not poll within 30s:\n%s", filepath.Base(bin), p.Output())
	}
	return 0
}

// coldStartEnv is a complete configuration whose database does not
// answer.
func coldStartEnv(b *testing.B) []string {
	none := filepath.Join(b.TempDir(), "none")
	return []string{
		"PGHOST=127.0.0.1", "PGPORT=" + closedPort(b), "PGUSER=" + deployRole, "PGDATABASE=app", "PGSSLMODE=require",
		"PGMI_AWS_REGION=" + s3fake.Region, "AWS_REGION=" + s3fake.Region,
		"AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none, "AWS_EC2_METADATA_DISABLED=true",
		"PGMI_TRUSTED_SIGNERS=" + testbundle.NewKey(b).AllowedSigners,
	}
}

// BenchmarkEndToEnd1MB measures event → response of one warm function
// process deploying a new signed bundle of about 1 MB each iteration: the
// download from S3, verification, the session, the ledger and the result
// object.
func BenchmarkEndToEnd1MB(b *testing.B) {
	testpg.Require(b, pgErr)
	bin := lambdafake.BuildBinary(b, pkgPath, "lambda.norpc")
	setup := &functest.Setup{PG: pg, Database: pg.NewDatabase(b), ResetDB: pg.NewDatabase(b), Key: testbundle.NewKey(b)}
	ownedByDeployer(b, setup.Database, setup.ResetDB)
	h := newHarness(b, setup, bin)
	in := h.start(b, functest.Options{Env: map[string]string{"PGMI_LOG_LEVEL": "info"}})
	// Warm: the first deploy opens the credentials and creates the ledger.
	deliverBig(b, h, in, -1)

	var total time.Duration
	var size, n int
	for b.Loop() {
		d, bundleSize := deliverBig(b, h, in, n)
		total += d
		size += bundleSize
		n++
	}
	b.ReportMetric(ms(total)/float64(n), "ms/deploy")
	b.ReportMetric(float64(size)/float64(n)/1e6, "MB/bundle")
}

// deliverBig uploads bundle i, delivers its notification and returns the
// time from event to response, and the bundle's size.
func deliverBig(b *testing.B, h *harness, in *instance, i int) (time.Duration, int) {
	b.Helper()
	b.StopTimer()
	data := bigBundle(b, h.setup.Key, i)
	obj := h.upload(b, "bench/e2e-"+strconv.Itoa(i)+".tgz", data)
	ev := h.s3Notification(obj)
	b.StartTimer()
	start := time.Now()
	resp := in.invoke(b, ev)
	d := time.Since(start)
	if resp.Error || !bytes.Contains(resp.Body, []byte(`"outcome":"deployed"`)) {
		b.Fatalf("bundle %d: %s %s %s", i, resp.ErrorType, resp.ErrorMessage, resp.Body)
	}
	return d, len(data)
}

// bigBundle is a project with 2 MiB of hex text (1 MiB of random bytes,
// so it compresses to about half) besides its deploy.sql: a bundle of
// about 1 MB.
func bigBundle(b *testing.B, key *testbundle.Key, i int) []byte {
	raw := make([]byte, 1<<20)
	rand.Read(raw)
	files := testbundle.Project(fmt.Sprintf("CREATE TABLE bench_%d (id int);", i+1))
	files["data/blob.txt"] = hex.EncodeToString(raw)
	return testbundle.Pack(b, key, "bench", files)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fileMB(b *testing.B, path string) float64 {
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(info.Size()) / 1e6
}
