//go:build !pgmi_fakes

package main

import (
	"context"
	"os"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
)

// setup is the cold start: the configuration from the environment, with
// Google's IAM database login as the default auth method, and limit the
// time each event gets. (The test build replaces this file with
// fakes_hook.go.)
func setup(ctx context.Context, log *internal.Logger, limit internal.Limit) (*internal.Function, error) {
	return internal.Setup(ctx, platform, connect.AuthGoogle, os.LookupEnv, log, limit)
}
