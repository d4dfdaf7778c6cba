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

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/limit"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/web"
)

// serve: tokenward serve [--listen ADDR] [--org NAME] [--admin-email EMAIL]
func (c *cli) serve(ctx context.Context, args []string) error {
	fs, dsn := c.newFlagSet("serve", "serve [--listen ADDR] [--org NAME] [--admin-email EMAIL] [--db DSN]")
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	org := fs.String("org", "tokenward", "the organization's name, reported as \"customer\"")
	adminEmail := fs.String("admin-email", "admin@localhost", "email of the first administrator, created when the database has no account")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	sessionIdle := fs.Duration("session-idle", tokenward.DefaultSessionIdle, "console sessions end after this long without activity")
	sessionMax := fs.Duration("session-max", tokenward.DefaultSessionMax, "console sessions end this long after sign-in, whatever the activity")
	syncInterval := fs.Duration("sync-interval", 250*time.Millisecond, "how often to poll the database for changes made elsewhere (PostgreSQL also notifies at once)")
	usageFlush := fs.Duration("usage-flush", 5*time.Second, "how often to write tokens' last-used times")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (PEM); needs --tls-key")
	tlsKey := fs.String("tls-key", "", "the private key (PEM) of --tls-cert")
	signInAccount := fs.String("limit-signin-account", "5/15m", "failed console sign-ins allowed per account from browsers that never signed in to it (and per browser that did), N/DURATION or off")
	signInAddress := fs.String("limit-signin-address", "30/15m", "failed console sign-ins allowed per source address, N/DURATION or off")
	checkMemory := fs.Int("signin-check-memory", 128, "MiB of memory that password checks may use at once (19 MiB each); more sign-ins wait, then get 503")
	checkParallel := fs.Int("signin-check-parallel", 0, "password checks that may run at once; 0: one less than the cores, at least one")
	invalidTokens := fs.String("limit-invalid-tokens", "600/1m", "requests with invalid tokens allowed per source address, N/DURATION or off")
	trustXFF := fs.Bool("trust-forwarded-for", false, "count failures against the last X-Forwarded-For address (behind a proxy that sets it)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{"--session-idle": *sessionIdle, "--session-max": *sessionMax,
		"--sync-interval": *syncInterval, "--usage-flush": *usageFlush} {
		if d <= 0 {
			return usageErrorf("%s must be a positive duration such as 250ms, 30m or 12h", name)
		}
	}
	if *checkParallel < 0 {
		return usageErrorf("--signin-check-parallel must be 0 (one less than the cores) or more")
	}
	if *checkMemory < 19 {
		return usageErrorf("--signin-check-memory must be at least 19 (MiB): one password check")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usageErrorf("--tls-cert and --tls-key go together")
	}
	rules := map[string]*limit.Rule{}
	for name, text := range map[string]string{"--limit-signin-account": *signInAccount,
		"--limit-signin-address": *signInAddress, "--limit-invalid-tokens": *invalidTokens} {
		r, err := limit.ParseRule(text)
		if err != nil {
			return usageErrorf("%s: %v", name, err)
		}
		rules[name] = &r
	}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(c.stderr, nil)
	case "json":
		handler = slog.NewJSONHandler(c.stderr, nil)
	default:
		return usageErrorf("--log-format must be text or json, not %q", *logFormat)
	}
	logger := slog.New(handler)

	db, err := store.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	policy := tokenward.DefaultSignInPolicy()
	policy.PerAccount = tokenward.Budget(*rules["--limit-signin-account"])
	policy.PerAddress = tokenward.Budget(*rules["--limit-signin-address"])
	policy.CheckMemory, policy.CheckParallel = int64(*checkMemory)<<20, *checkParallel
	logger.Info("database ready", "engine", db.Engine())

	verifier := auth.New(db, time.Now, logger, *syncInterval)
	loadStart := time.Now()
	if err := verifier.Load(ctx); err != nil {
		return fmt.Errorf("build the verification index: %w", err)
	}
	service := tokenward.NewService(tokenward.Config{Store: db, Verifier: verifier,
		SessionIdle: *sessionIdle, SessionMax: *sessionMax, SignIn: &policy})
	logger.Info("verification index built", "tokens", verifier.Size(), "duration_ms", time.Since(loadStart).Milliseconds())
	background, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	go verifier.Run(background, func(ctx context.Context, wake func()) {
		db.Listen(ctx, *dsn, wake, func(err error) { logger.Warn("change notifications interrupted; polling meanwhile", "err", err) })
	})
	go verifier.RunUsageFlusher(background, *usageFlush)
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	verifier.Register(registry)

	password, created, err := tokenward.NewOperator(service).Bootstrap(ctx, *adminEmail)
	if err != nil {
		return fmt.Errorf("create the first administrator: %w", err)
	}
	if created {
		// Straight to the terminal, never through the logger: logs are kept and shipped.
		fmt.Fprintf(c.stdout, "Created the first administrator %s with every permission.\nIts password, shown this once: %s\n", *adminEmail, password)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: api.New(service, api.Config{Org: *org, Logger: logger,
			Console:       web.New(service, web.Config{Org: *org, Logger: logger, TrustForwardedFor: *trustXFF}),
			InvalidTokens: limit.New(*rules["--limit-invalid-tokens"], time.Now), TrustForwardedFor: *trustXFF,
			Metrics: registry, Ready: func(ctx context.Context) error {
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
	logger.Info("listening", "addr", ln.Addr().String(), "org", *org, "tls", *tlsCert != "")
	served := make(chan error, 1)
	go func() {
		if *tlsCert != "" {
			served <- srv.ServeTLS(ln, *tlsCert, *tlsKey)
		} else {
			served <- srv.Serve(ln)
		}
	}()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	stopBackground()
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelFlush()
	if err := verifier.FlushUsage(flushCtx); err != nil {
		logger.Error("could not record the last token usage", "err", err)
	}
	logger.Info("stopped")
	return nil
}
