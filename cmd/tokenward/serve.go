package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
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
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *sessionIdle <= 0 || *sessionMax <= 0 {
		return usageErrorf("--session-idle and --session-max must be positive durations such as 30m or 12h")
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

	service, db, err := openService(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	service.SetSessionLifetimes(*sessionIdle, *sessionMax)
	logger.Info("database ready", "engine", db.Engine())

	password, created, err := service.Bootstrap(ctx, *adminEmail)
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
		Handler:           api.New(service, *org, logger, web.New(service, *org, logger)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String(), "org", *org)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

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
	logger.Info("stopped")
	return nil
}
