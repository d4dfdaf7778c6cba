package main

import (
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/limit"
)

// serveConfig is what `tokenward serve` runs with: its flags, and TOKENWARD_DB for --db,
// checked.
type serveConfig struct {
	dsn, listen, org, adminEmail string
	logFormat                    string // "text" or "json"
	sessionIdle, sessionMax      time.Duration
	syncInterval, usageFlush     time.Duration
	lifecycleSweep               time.Duration
	tlsCert, tlsKey              string // both or neither
	signIn                       tokenward.SignInPolicy
	invalidTokens                limit.Rule
	trustForwardedFor            bool
	logEveryVerdict              bool
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
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.org, "org", "tokenward", "the organization's name, reported as \"customer\"")
	fs.StringVar(&cfg.adminEmail, "admin-email", "admin@localhost", "email of the first administrator, created when the database has no account")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	fs.DurationVar(&cfg.sessionIdle, "session-idle", tokenward.DefaultSessionIdle, "console sessions end after this long without activity")
	fs.DurationVar(&cfg.sessionMax, "session-max", tokenward.DefaultSessionMax, "console sessions end this long after sign-in, whatever the activity")
	fs.DurationVar(&cfg.syncInterval, "sync-interval", 250*time.Millisecond, "how often to poll the database for changes made elsewhere (PostgreSQL also notifies at once)")
	fs.DurationVar(&cfg.usageFlush, "usage-flush", 5*time.Second, "how often to write tokens' last-used times")
	fs.DurationVar(&cfg.lifecycleSweep, "lifecycle-sweep", time.Minute, "how often to record tokens' expiry notices and disable tokens past the policy's idle timeout")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM); needs --tls-key")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "the private key (PEM) of --tls-cert")
	fs.StringVar(&f.signInAccount, "limit-signin-account", "5/15m", "failed console sign-ins allowed per account from browsers that never signed in to it (and per browser that did), N/DURATION or off")
	fs.StringVar(&f.signInAddress, "limit-signin-address", "30/15m", "failed console sign-ins allowed per source address, N/DURATION or off")
	fs.IntVar(&f.checkMemory, "signin-check-memory", 128, "MiB of memory that password checks may use at once (19 MiB each); more sign-ins wait, then get 503")
	fs.IntVar(&f.checkParallel, "signin-check-parallel", 0, "password checks that may run at once; 0: one less than the cores, at least one")
	fs.StringVar(&f.invalidTokens, "limit-invalid-tokens", "600/1m", "requests with invalid tokens allowed per source address, N/DURATION or off")
	fs.BoolVar(&cfg.logEveryVerdict, "log-every-verdict", false, "log each forward-auth request (/auth/verify) as any other; by default its verdicts are counted and logged once a second")
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
		{"--sync-interval", cfg.syncInterval}, {"--usage-flush", cfg.usageFlush}, {"--lifecycle-sweep", cfg.lifecycleSweep}} {
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
