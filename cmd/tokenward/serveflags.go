package main

import (
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/limit"
	"github.com/tokenward/tokenward/internal/webhook"
)

// serveConfig is what `tokenward serve` runs with: its flags, and TOKENWARD_DB for --db,
// checked.
type serveConfig struct {
	dsn, listen, org, adminEmail string
	logFormat                    string // "text" or "json"
	sessionIdle, sessionMax      time.Duration
	syncInterval, usageFlush     time.Duration
	lifecycleSweep               time.Duration
	revokeJobLease               time.Duration
	tlsCert, tlsKey              string // both or neither
	signIn                       tokenward.SignInPolicy
	invalidTokens                limit.Rule
	trustForwardedFor            bool
	logEveryVerdict              bool
	webhooks                     webhook.Config // the delivery of events to webhooks
}

// serveFlags holds serve's flags as parsed, before checkServeFlags turns them into a
// serveConfig.
type serveFlags struct {
	cfg                                         serveConfig
	dsn                                         *string
	signInAccount, signInAddress, invalidTokens string
	checkMemory, checkParallel                  int
}

// addServeFlags defines serve's flags on cmd (their names and defaults are part of every
// deployment's command line: keep them) and returns where their values land.
func (c *cli) addServeFlags(cmd *cobra.Command) *serveFlags {
	f := &serveFlags{dsn: c.dbFlag(cmd)}
	cfg, fs := &f.cfg, cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "the `ADDRESS` to listen on, host:port")
	fs.StringVar(&cfg.org, "org", "tokenward", "the organization's `NAME`, reported as \"customer\"")
	fs.StringVar(&cfg.adminEmail, "admin-email", "admin@localhost", "the `EMAIL` of the first administrator, created when the database has no account")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "the log's `FORMAT`: text or json")
	_ = cmd.RegisterFlagCompletionFunc("log-format", completeFrom("text", "json"))
	fs.DurationVar(&cfg.sessionIdle, "session-idle", tokenward.DefaultSessionIdle, "console sessions end after this long without activity")
	fs.DurationVar(&cfg.sessionMax, "session-max", tokenward.DefaultSessionMax, "console sessions end this long after sign-in, whatever the activity")
	fs.DurationVar(&cfg.syncInterval, "sync-interval", 250*time.Millisecond, "how often to poll the database for changes made elsewhere (PostgreSQL also notifies at once)")
	fs.DurationVar(&cfg.usageFlush, "usage-flush", 5*time.Second, "how often to write tokens' last-used times")
	fs.DurationVar(&cfg.lifecycleSweep, "lifecycle-sweep", time.Minute, "how often to record tokens' expiry notices and disable tokens past the policy's idle timeout")
	fs.DurationVar(&cfg.revokeJobLease, "revoke-job-lease", tokenward.DefaultRevokeLease, "how long a bulk revocation job stays with an instance that stopped (a crash) before another takes it over")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "serve HTTPS with the certificate in `FILE` (PEM); needs --tls-key")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "the `FILE` holding the private key (PEM) of --tls-cert")
	fs.StringVar(&f.signInAccount, "limit-signin-account", "5/15m", "failed console sign-ins per account from new browsers, and per known browser: `N/DURATION` or off")
	fs.StringVar(&f.signInAddress, "limit-signin-address", "30/15m", "failed console sign-ins allowed per source address: `N/DURATION` or off")
	fs.IntVar(&f.checkMemory, "signin-check-memory", 128, "the `MiB` of memory password checks may use at once (19 MiB each); more sign-ins wait, then get 503")
	fs.IntVar(&f.checkParallel, "signin-check-parallel", 0, "how many password checks may run at once, `N`; 0: one less than the cores, at least one")
	fs.StringVar(&f.invalidTokens, "limit-invalid-tokens", "600/1m", "requests with invalid tokens allowed per source address: `N/DURATION` or off")
	fs.BoolVar(&cfg.logEveryVerdict, "log-every-verdict", false, "log each /auth/verify request as any other; by default its verdicts are counted and logged once a second")
	fs.DurationVar(&cfg.webhooks.Backoff, "webhook-backoff", 10*time.Second, "delay before a failed webhook delivery's first retry, doubled each time (with jitter) up to an hour, for a day")
	fs.DurationVar(&cfg.webhooks.Lease, "webhook-lease", time.Minute, "how long an instance holds a webhook delivery it sends; if it dies, another takes it over after this")
	fs.DurationVar(&cfg.webhooks.Poll, "webhook-poll", time.Second, "how often an idle instance looks for due webhook deliveries")
	fs.DurationVar(&cfg.webhooks.Timeout, "webhook-timeout", 10*time.Second, "how long a webhook receiver may take to answer a delivery")
	fs.BoolVar(&cfg.trustForwardedFor, "trust-forwarded-for", false, "count failures against the last X-Forwarded-For address (behind a proxy that sets it)")
	return f
}

// check returns the serveConfig of the parsed flags, or a usage error naming the flag
// when one is malformed or out of range.
func (f *serveFlags) check() (serveConfig, error) {
	cfg := f.cfg
	signInAccount, signInAddress, invalidTokens := f.signInAccount, f.signInAddress, f.invalidTokens
	checkMemory, checkParallel := f.checkMemory, f.checkParallel
	dsn := f.dsn
	cfg.dsn = *dsn

	for _, d := range []struct {
		flag  string
		value time.Duration
	}{{"--session-idle", cfg.sessionIdle}, {"--session-max", cfg.sessionMax},
		{"--sync-interval", cfg.syncInterval}, {"--usage-flush", cfg.usageFlush}, {"--lifecycle-sweep", cfg.lifecycleSweep},
		{"--webhook-backoff", cfg.webhooks.Backoff}, {"--webhook-lease", cfg.webhooks.Lease},
		{"--webhook-poll", cfg.webhooks.Poll}, {"--webhook-timeout", cfg.webhooks.Timeout},
		{"--revoke-job-lease", cfg.revokeJobLease}} {
		if d.value <= 0 {
			return serveConfig{}, usageErrorf("%s must be a positive duration such as 250ms, 30m or 12h", d.flag)
		}
	}
	if checkParallel < 0 {
		return serveConfig{}, usageErrorf("--signin-check-parallel must be 0 (one less than the cores) or more")
	}
	if checkMemory < 19 {
		return serveConfig{}, usageErrorf("--signin-check-memory must be at least 19 (MiB): one password check")
	}
	if cfg.webhooks.Lease <= cfg.webhooks.Timeout {
		// A lease that could end while its POST runs would let a second instance send the
		// same delivery while the first still waits for the answer.
		return serveConfig{}, usageErrorf("--webhook-lease must be longer than --webhook-timeout")
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return serveConfig{}, usageErrorf("--tls-cert and --tls-key go together")
	}
	var perAccount, perAddress limit.Rule
	for _, r := range []struct {
		flag, text string
		into       *limit.Rule
	}{{"--limit-signin-account", signInAccount, &perAccount}, {"--limit-signin-address", signInAddress, &perAddress},
		{"--limit-invalid-tokens", invalidTokens, &cfg.invalidTokens}} {
		rule, err := limit.ParseRule(r.text)
		if err != nil {
			return serveConfig{}, usageErrorf("%s: %v", r.flag, err)
		}
		*r.into = rule
	}
	cfg.signIn = tokenward.DefaultSignInPolicy()
	cfg.signIn.PerAccount, cfg.signIn.PerAddress = tokenward.Budget(perAccount), tokenward.Budget(perAddress)
	cfg.signIn.CheckMemory, cfg.signIn.CheckParallel = int64(checkMemory)<<20, checkParallel
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return serveConfig{}, usageErrorf("--log-format must be text or json, not %q", cfg.logFormat)
	}
	return cfg, nil
}

// logHandler returns the slog handler of a checked --log-format, writing to w.
func logHandler(format string, w io.Writer) slog.Handler {
	if format == "json" {
		return slog.NewJSONHandler(w, nil)
	}
	return slog.NewTextHandler(w, nil)
}
