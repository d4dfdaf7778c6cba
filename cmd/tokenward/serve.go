package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/limit"
	"github.com/tokenward/tokenward/internal/loop"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/web"
	"github.com/tokenward/tokenward/internal/webhook"
)

// serveCommand: tokenward serve [--listen ADDR] [--org NAME] [--admin-email EMAIL] ...
func (c *cli) serveCommand() *cobra.Command {
	cmd := leaf(&cobra.Command{
		Use:   "serve",
		Short: "Serve the API, forward auth and the console",
		Long: `Serve the Wavefront-compatible API, forward auth (/auth/verify) and the console
(/console/). On a database without accounts it creates the first administrator and
prints its password, once. It prints the console's address when it listens, and stops
gracefully on SIGINT or SIGTERM (requests drain, last-used times are written).

On SQLite it holds a shared lock on the file DB.lock beside the database while it runs,
so that tokenward restore refuses to replace the database under it.`,
		Example: `  tokenward serve
  tokenward serve --db postgres://tokenward:secret@db:5432/tokenward --listen 0.0.0.0:8080`,
		Args: exactArgs(),
	})
	flags := c.addServeFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := flags.check()
		if err != nil {
			return err
		}
		return c.runServer(cmd.Context(), cfg)
	}
	return cmd
}

// runServer opens the database, builds the verification index and the service, creates
// the first administrator when there is no account, and serves until ctx ends; then it
// drains requests and writes the last token usage. It returns the error that stopped it
// early, or nil after a clean shutdown.
func (c *cli) runServer(ctx context.Context, cfg serveConfig) error {
	handler := logHandler(cfg.logFormat, c.stderr)
	logger := slog.New(handler)

	release, err := holdServerLock(cfg.dsn)
	if err != nil {
		return err
	}
	defer release()
	db, err := store.Open(ctx, cfg.dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	logger.Info("database ready", "engine", db.Engine())

	verifier := auth.New(db, time.Now, logger, cfg.syncInterval)
	loadStart := time.Now()
	if err := verifier.Load(ctx); err != nil {
		return fmt.Errorf("build the verification index: %w", err)
	}
	service := tokenward.NewService(tokenward.Config{Store: db, Verifier: verifier,
		SessionIdle: cfg.sessionIdle, SessionMax: cfg.sessionMax, SignIn: &cfg.signIn,
		IdleMargin: max(tokenward.DefaultIdleMargin, 2*cfg.usageFlush)})
	logger.Info("verification index built", "tokens", verifier.Size(), "duration_ms", time.Since(loadStart).Milliseconds())
	background, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	runnerDone := startBackground(background, cfg, db, verifier, service, logger)

	if err := c.bootstrap(ctx, service, cfg.adminEmail); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	srv := newHTTPServer(cfg, service, db, verifier, handler)
	logger.Info("listening", "addr", ln.Addr().String(), "org", cfg.org, "tls", cfg.tlsCert != "")
	fmt.Fprintf(c.stdout, "console: %s\n", consoleURL(ln.Addr(), cfg.tlsCert != ""))
	served := make(chan error, 1)
	go func() {
		if cfg.tlsCert != "" {
			served <- srv.ServeTLS(ln, cfg.tlsCert, cfg.tlsKey)
		} else {
			served <- srv.Serve(ln)
		}
	}()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	if err := drain(srv, served, logger); err != nil {
		return err
	}
	stopBackground()
	<-runnerDone
	service.WaitReports() // audit events of refused tokens still being written
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelFlush()
	if err := verifier.FlushUsage(flushCtx); err != nil {
		logger.Error("could not record the last token usage", "err", err)
	}
	logger.Info("stopped")
	return nil
}

// startBackground starts what every instance does besides serving, until ctx ends:
// following changes made elsewhere, writing token usage, the lifecycle sweeps, webhook
// deliveries and bulk revocation jobs. The channel closes once the revocation runner has
// stopped (and released the job it held).
func startBackground(ctx context.Context, cfg serveConfig, db *store.DB, verifier *auth.Verifier, service *tokenward.Service,
	logger *slog.Logger) <-chan struct{} {
	go verifier.Run(ctx, func(ctx context.Context, wake func()) {
		db.Listen(ctx, cfg.dsn, wake, func(err error) { logger.Warn("change notifications interrupted; polling meanwhile", "err", err) })
	})
	go verifier.RunUsageFlusher(ctx, cfg.usageFlush)
	paceGC(ctx)
	go runLifecycleSweeps(ctx, tokenward.NewOperator(service), cfg.lifecycleSweep, logger)
	webhooks := cfg.webhooks
	webhooks.Logger = logger
	go webhook.New(db, webhooks).Run(ctx)
	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		service.NewRevokeRunner(0, cfg.revokeJobLease).Run(ctx, time.Second, func(err error) {
			logger.Warn("bulk revocation: a batch failed; it is tried again", "err", err)
		})
	}()
	return runnerDone
}

// runLifecycleSweeps runs the lifecycle sweep (expiry notices, idle timeouts) every
// interval until ctx ends. Every instance sweeps; the sweep records each notice once
// whatever the number of instances, so none needs electing.
func runLifecycleSweeps(ctx context.Context, ops *tokenward.Operator, interval time.Duration, logger *slog.Logger) {
	loop.Every(ctx, interval, func(ctx context.Context) {
		sweep, err := ops.SweepLifecycle(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("lifecycle sweep failed; will retry", "err", err)
		case sweep.Notices > 0 || sweep.IdleDisabled > 0:
			logger.Info("lifecycle sweep", "notices", sweep.Notices, "idle_disabled", sweep.IdleDisabled)
		}
	})
}

// consoleURL is the console's address on the listener: a wildcard listener (0.0.0.0, [::])
// is reached at localhost from the machine it runs on.
func consoleURL(addr net.Addr, tls bool) string {
	scheme, host, port := "http", addr.String(), ""
	if tls {
		scheme = "https"
	}
	if h, p, err := net.SplitHostPort(addr.String()); err == nil {
		host, port = h, p
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			host = "localhost"
		}
		host = net.JoinHostPort(host, port)
	}
	return scheme + "://" + host + "/console/"
}

// bootstrap creates the first administrator when the database has no account, and prints
// its password. It returns an error when the account cannot be created.
func (c *cli) bootstrap(ctx context.Context, service *tokenward.Service, adminEmail string) error {
	password, created, err := tokenward.NewOperator(service).Bootstrap(ctx, adminEmail)
	if err != nil {
		return fmt.Errorf("create the first administrator: %w", err)
	}
	if created {
		// Straight to the terminal, never through the logger: logs are kept and shipped.
		fmt.Fprintf(c.stdout, "Created the first administrator %s with every permission.\nIts password, shown this once: %s\n", adminEmail, password)
	}
	return nil
}

// newHTTPServer returns the server of the API and the console, with its metrics and
// readiness check, logging through handler.
func newHTTPServer(cfg serveConfig, service *tokenward.Service, db *store.DB, verifier *auth.Verifier, handler slog.Handler) *http.Server {
	logger := slog.New(handler)
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	verifier.Register(registry)
	return &http.Server{
		Handler: api.New(service, api.Config{Org: cfg.org, Logger: logger,
			Console:       web.New(service, web.Config{Org: cfg.org, Logger: logger, TrustForwardedFor: cfg.trustForwardedFor}),
			InvalidTokens: limit.New(cfg.invalidTokens, time.Now), TrustForwardedFor: cfg.trustForwardedFor,
			LogEveryVerdict: cfg.logEveryVerdict,
			Metrics:         registry, Ready: func(ctx context.Context) error {
				if err := verifier.Ready(); err != nil {
					return err
				}
				return db.Ping(ctx)
			}}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
}

// drain stops srv taking requests and waits, at most 15 seconds, for those in flight, then
// for srv's serve loop to report on served. It returns an error when requests were still
// running at the deadline or the loop ended other than by the shutdown.
func drain(srv *http.Server, served <-chan error, logger *slog.Logger) error {
	logger.Info("shutting down: draining requests")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
