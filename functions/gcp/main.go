// Command gcp is pgmi's deployer as a Google Cloud Run function: the
// functions framework serves one CloudEvent function, Deploy, which Eventarc
// calls for every new object generation in the bundle bucket
// (google.cloud.storage.object.v1.finalized) and for every action message
// on a Pub/Sub topic (google.cloud.pubsub.topic.v1.messagePublished, such
// as Cloud Scheduler's nightly resets). It connects to Cloud SQL through the
// Cloud SQL connector with IAM database login by default.
//
// The configuration is read once, when the process starts; an invalid one
// is logged as one ERROR line and the process exits 1, so the revision fails
// to start instead of failing every event. README.md beside this file says
// how to build the image, deploy it and wire the triggers.
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/gcspin"    // gs:// buckets, reads pinned to the event's generation
	_ "github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql" // Cloud SQL with IAM database login
)

// functionTarget is the name the CloudEvent function is registered under.
// FUNCTION_TARGET selects it: the image sets it, and main sets it when the
// environment does not.
const functionTarget = "Deploy"

// platform names Google Cloud in logs and result objects.
const platform = "gcp"

// defaultPort is where the server listens when PORT is unset; Cloud Run
// always sets PORT.
const defaultPort = "8080"

// app is what the registered function serves; main gives it the deployer
// before the server starts listening.
var app = &handler{}

func init() { functions.CloudEvent(functionTarget, app.Deploy) }

func main() {
	if err := run(context.Background()); err != nil {
		os.Exit(1)
	}
}

// run is the cold start, then the server until it fails. Every error it
// returns has been logged.
func run(ctx context.Context) error {
	log := internal.NewLogger(os.Stdout, platform, internal.CloudLoggingFormat, os.Getenv("PGMI_LOG_LEVEL") == "debug")
	timeout, err := runTimeout(os.Getenv(envRunTimeout))
	if err != nil {
		log.Error("cold start failed: invalid configuration: " + err.Error())
		return err
	}
	f, err := setup(ctx, log, internal.Limit{Timeout: timeout, Setting: envRunTimeout})
	if err != nil {
		return err // Setup logged the one ERROR line
	}
	defer f.Close()
	app.f = f
	if os.Getenv("FUNCTION_TARGET") == "" {
		// The framework reads the variable itself; without it, it would
		// serve the function at /Deploy instead of /.
		if err := os.Setenv("FUNCTION_TARGET", functionTarget); err != nil {
			log.Error("cannot set FUNCTION_TARGET: " + err.Error())
			return err
		}
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = defaultPort
	}
	if err := funcframework.StartHostPort("", port); err != nil {
		log.Error("the functions framework stopped serving on port " + port + ": " + err.Error())
		return err
	}
	return nil
}

// envRunTimeout is the variable the functions framework reads as each
// event's time limit, in whole seconds (infra/gcp sets it to the service's
// timeout).
const envRunTimeout = "CLOUD_RUN_TIMEOUT_SECONDS"

// runTimeout reads CLOUD_RUN_TIMEOUT_SECONDS as the framework does; 0 when
// unset. A value the framework cannot use is refused here: it would ignore
// a value that is not a whole number (no deadline at all, and a line on
// stderr for every event) and cut every event at once at 0 or below.
func runTimeout(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid %s %q: a whole number of seconds above 0, the service's timeout", envRunTimeout, v)
	}
	return time.Duration(n) * time.Second, nil
}
