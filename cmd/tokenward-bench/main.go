// Command tokenward-bench seeds a large synthetic organization (by default 1,000,000 tokens
// over 50,000 accounts) into SQLite and PostgreSQL and times the requests the console's
// organization token table makes, 25 rows a page, through the same Service.SearchTokens
// the API calls. It prints p50 and p95 of the server time per request and engine, flags
// every request whose p95 misses the 20 ms goal, and shows the query plans of those.
//
//	go run ./cmd/tokenward-bench [--engines sqlite,postgres] [--tokens 1000000]
//	    [--accounts 50000] [--runs 50] [--sqlite PATH] [--postgres URL] [--keep] [--goal 20ms]
//
// Its http mode (http.go) measures forward auth over the network against a bare server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/tokenward/tokenward/internal/store"
)

// defaultGoal is the product's target for the p95 server time of every token-table
// request (--goal changes it, e.g. to see plans on a small organization).
const defaultGoal = 20 * time.Millisecond

// warmups are the untimed runs of each request before the timed ones.
const warmups = 3

type options struct {
	engines  []store.Engine
	tokens   int
	accounts int
	runs     int
	sqlite   string
	postgres string
	keep     bool
	goal     time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && args[0] == "http" {
		return runHTTP(ctx, args[1:], stdout, stderr)
	}
	opts, err := parseFlags(args, stderr, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "tokenward-bench:", err)
		return 2
	}
	began := time.Now()
	var reports []*engineReport
	var notes []string
	failed := false
	for _, engine := range opts.engines {
		rep, skip, err := benchEngine(ctx, stdout, engine, opts)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "tokenward-bench: %s: %v\n", engine, err)
			notes = append(notes, fmt.Sprintf("%s: failed: %v", engine, err))
			failed = true
		case skip != "":
			fmt.Fprintf(stdout, "%s: skipped: %s\n", engine, skip)
			notes = append(notes, fmt.Sprintf("%s rows skipped: %s", engine, skip))
		default:
			reports = append(reports, rep)
		}
		if ctx.Err() != nil {
			break
		}
	}
	printReport(stdout, opts, reports, notes, time.Since(began))
	if failed || ctx.Err() != nil {
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("tokenward-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	engines := fs.String("engines", "sqlite,postgres", "comma-separated engines to benchmark: sqlite, postgres")
	var o options
	fs.IntVar(&o.tokens, "tokens", 1_000_000, "tokens to seed (a multiple of --accounts, at most 20 per account)")
	fs.IntVar(&o.accounts, "accounts", 50_000, "accounts to seed; a quarter are service accounts")
	fs.IntVar(&o.runs, "runs", 50, "timed runs of each request, after 3 warm-up runs")
	fs.StringVar(&o.sqlite, "sqlite", "", "SQLite file to create (must not exist; default: a fresh file in "+os.TempDir()+")")
	fs.StringVar(&o.postgres, "postgres", "", "PostgreSQL URL (default: env TOKENWARD_BENCH_POSTGRES, then TOKENWARD_TEST_POSTGRES); "+
		"a fresh database tw_bench_<random> is created on its server when allowed, else the named database must be empty")
	fs.DurationVar(&o.goal, "goal", defaultGoal, "the p95 target; requests at or above it are flagged and their plans shown")
	fs.BoolVar(&o.keep, "keep", false, "keep the seeded databases instead of removing them at exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: go run ./cmd/tokenward-bench [flags]\n\nSeeds a synthetic organization and times the organization token table's requests.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, e := range strings.Split(*engines, ",") {
		e = strings.TrimSpace(e)
		switch store.Engine(e) {
		case store.SQLite, store.Postgres:
			if !slices.Contains(o.engines, store.Engine(e)) {
				o.engines = append(o.engines, store.Engine(e))
			}
		case "":
		default:
			return o, fmt.Errorf("unknown engine %q in --engines (want sqlite, postgres)", e)
		}
	}
	if len(o.engines) == 0 {
		return o, fmt.Errorf("--engines names no engine")
	}
	switch {
	case o.accounts <= 0:
		return o, fmt.Errorf("--accounts must be positive")
	case o.tokens <= 0 || o.tokens%o.accounts != 0:
		return o, fmt.Errorf("--tokens (%d) must be a positive multiple of --accounts (%d): every seeded account gets the same number of tokens", o.tokens, o.accounts)
	case o.tokens/o.accounts > 20:
		return o, fmt.Errorf("--tokens/--accounts is %d; an account holds at most 20 tokens", o.tokens/o.accounts)
	case o.runs < 1:
		return o, fmt.Errorf("--runs must be at least 1")
	}
	if o.postgres == "" {
		o.postgres = getenv("TOKENWARD_BENCH_POSTGRES")
	}
	if o.postgres == "" {
		o.postgres = getenv("TOKENWARD_TEST_POSTGRES")
	}
	return o, nil
}
