// Command bootstrap is pgmi's AWS Lambda function: it deploys signed
// bundles uploaded to S3 (notified directly, through EventBridge or through
// SQS) and runs the scheduled resets EventBridge Scheduler sends, to
// PostgreSQL on RDS or Aurora with IAM database authentication.
//
// Build it for the provided.al2023 runtime as
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -tags lambda.norpc -o bootstrap ./functions/aws
//
// Configuration comes from the environment, read once at cold start (see
// pkg/deploy and README.md). An invalid configuration is logged, posted to
// the Runtime API's init error endpoint, and ends the process before it
// takes any event.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/connect/rdsiam"
	"github.com/pgmi-cloud/pgmi/pkg/deploy"
	"github.com/pgmi-cloud/pgmi/pkg/fault"

	// The S3 blob driver's version pinning (bucketMux opens the buckets)
	// and RDS IAM authentication: the only cloud code this binary links.
	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/s3pin"
)

func main() {
	if err := run(context.Background(), os.LookupEnv, os.Stdout, lambda.Start); err != nil {
		os.Exit(1)
	}
}

// run is the cold start: it builds the deployer from env, logging to
// stdout, and hands the handler to start (lambda.Start, which serves
// events until the process ends). An invalid configuration is returned
// after it was logged and posted as the function's init error.
func run(ctx context.Context, env connect.Env, stdout io.Writer, start func(handler any)) error {
	level, _ := env("PGMI_LOG_LEVEL")
	log := internal.NewLogger(stdout, platform, internal.LambdaFormat, level == "debug")
	// Every line the process writes is JSON: aws-lambda-go reports through
	// the standard log package, the AWS SDK through its logger.
	stdlog.SetFlags(0)
	stdlog.SetOutput(internal.LineWriter(log, runtimeLine))
	opts := setupOptions(sdkLogger{log})
	opts.Topics = topicMux(sdkLogger{log}) // the SDK's log in the function's JSON lines, as for S3
	f, err := internal.Setup(ctx, platform, env, log, opts)
	if err != nil {
		if api, ok := env("AWS_LAMBDA_RUNTIME_API"); ok && api != "" {
			if perr := postInitError(ctx, api, err); perr != nil {
				log.Warn("reporting the init error to the Lambda Runtime API: " + perr.Error())
			}
		}
		return err
	}
	start((&handler{f: f}).handle)
	return nil
}

// setupOptions are the cold start's: RDS IAM authentication by default,
// and the SDK's log of the S3 clients routed to sdk (the RDS IAM provider
// gives its SDK configuration the log of LoadOptions.Log). Lambda tells a function its timeout only with an
// invocation, so there is no limit to check here (see handler.refusal).
func setupOptions(sdk sdkLogger) *internal.Options {
	return &internal.Options{LoadOptions: deploy.LoadOptions{
		DefaultAuth: rdsiam.AuthMethod,
		Mux:         bucketMux(sdk),
	}}
}

// initErrorType is the errorType of a cold start refused for its
// configuration.
const initErrorType = "Runtime.InvalidConfiguration"

// postInitError tells the Runtime API at api (host:port) why the function
// cannot start, so Lambda reports a failed init instead of a timeout.
func postInitError(ctx context.Context, api string, cause error) error {
	body, err := json.Marshal(map[string]string{
		"errorMessage": fault.Redact(cause.Error()),
		"errorType":    initErrorType,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+api+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", initErrorType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("the Runtime API answered %s, want 202 Accepted", resp.Status)
	}
	return nil
}
