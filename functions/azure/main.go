// Command handler is pgmi's Azure Functions custom handler: an HTTP server
// the Functions host starts beside itself and sends one invocation per
// trigger, BlobCreated (an Event Grid Microsoft.Storage.BlobCreated event:
// deploy the uploaded bundle, pinned to its ETag), Reset (a timer: drop,
// recreate and redeploy PGMI_RESET_DATABASE) and Fleet (a Service Bus
// queue message: deploy one target of a fleet rollout). See README.md.
package main

import (
	"context"
	"errors"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pgmi-cloud/pgmi/functions/internal"
	"github.com/pgmi-cloud/pgmi/pkg/connect"
	"github.com/pgmi-cloud/pgmi/pkg/connect/entra" // Entra ID tokens from the function's managed identity
	"github.com/pgmi-cloud/pgmi/pkg/deploy"

	_ "github.com/pgmi-cloud/pgmi/pkg/bundle/azpin" // azblob:// bundles, pinned to their ETag
)

// Shutdown: on SIGTERM the handler stops accepting invocations and gives
// running ones shutdownGrace to finish; then their contexts are cancelled
// (the running statement is cancelled on the server, the outcome is
// retryable and answered as such) and they get answerGrace to write their
// result and answer.
const (
	shutdownGrace = 20 * time.Second
	answerGrace   = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	dir, err := os.Getwd()
	if err != nil {
		dir = "."
	}
	if err := run(ctx, os.LookupEnv, dir); err != nil {
		os.Exit(1)
	}
}

// run is the cold start and the server's life. Every error it returns has
// been logged (one ERROR line); the caller only exits.
func run(ctx context.Context, env connect.Env, dir string) error {
	level, _ := env("PGMI_LOG_LEVEL")
	log := internal.NewLogger(os.Stdout, "azure", internal.AzureFormat, level == "debug")
	cfg, err := loadSettings(env, dir)
	if err != nil {
		log.Error("cold start failed: invalid configuration: " + err.Error())
		return err
	}
	for _, w := range cfg.warnings {
		log.Warn(w)
	}
	fn, err := internal.Setup(ctx, "azure", env, log, &internal.Options{
		LoadOptions: deploy.LoadOptions{DefaultAuth: entra.AuthMethod}, Limit: cfg.limit()})
	if err != nil {
		return err
	}
	defer fn.Close()
	warnReset(fn, cfg)

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		log.Error("cold start failed: cannot listen on " + cfg.addr + " (" + envPort + "): " + err.Error())
		return err
	}
	return serve(ctx, ln, newHandler(fn, cfg), fn.Log)
}

// serve answers invocations on ln until ctx is done, then shuts down.
func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	invocations, cancelInvocations := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelInvocations()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,     // headers and the event, never the deploy
		IdleTimeout:       2 * time.Minute, // the host keeps its connection open between invocations
		// No WriteTimeout: an answer comes when the deploy ends, which
		// functionTimeout or PGMI_TIMEOUT bounds.
		BaseContext: func(net.Listener) context.Context { return invocations },
		// What net/http itself reports (a malformed request, a handler
		// that wrote twice) goes to the JSON log too.
		ErrorLog: stdlog.New(internal.LineWriter(log, func(line string) (slog.Level, string) {
			return slog.LevelWarn, "HTTP server: " + line
		}), "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening for the Functions host on " + ln.Addr().String())
	select {
	case err := <-served:
		log.Error("the HTTP server stopped: " + err.Error())
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: no new invocations; running ones have " + shutdownGrace.String() + " before they are cancelled")
	cut := time.AfterFunc(shutdownGrace, cancelInvocations)
	defer cut.Stop()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace+answerGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		log.Warn("shutdown: invocations still running were cut off: " + err.Error())
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// warnReset says at cold start what the Reset timer would refuse at its
// first run.
func warnReset(fn *internal.Function, cfg *settings) {
	if cfg.resetDatabase == "" {
		return
	}
	for _, db := range fn.Deployer.Config().ResetAllow {
		if db == cfg.resetDatabase {
			return
		}
	}
	fn.Log.Warn(envResetDatabase + "=" + cfg.resetDatabase + " is not in PGMI_RESET_ALLOW: the Reset timer will be refused until it is")
}
