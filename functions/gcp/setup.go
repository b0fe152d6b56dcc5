package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/connect/cloudsql"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
)

// setup is the cold start: the configuration from the environment, with
// Google's IAM database login as the default auth method, and limit the
// time each event gets. The binary tests run is this one: the tests point
// it at fakes through the environment alone (GCE_METADATA_HOST,
// PGMI_CLOUDSQL_ADMIN_API_ENDPOINT, STORAGE_EMULATOR_HOST,
// PUBSUB_EMULATOR_HOST).
func setup(ctx context.Context, log *slog.Logger, limit internal.Limit) (*internal.Function, error) {
	f, err := internal.Setup(ctx, platform, os.LookupEnv, log, &internal.Options{
		LoadOptions: deploy.LoadOptions{DefaultAuth: cloudsql.AuthMethod}, Limit: limit,
		Topics: topicMux()}) // reads the fleet topic's long URL form right
	if err != nil {
		return nil, err
	}
	return f, nil
}
