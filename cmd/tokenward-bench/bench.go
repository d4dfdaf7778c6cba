package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/cmd/tokenward-bench/seed"
	"github.com/tokenward/tokenward/internal/store"
)

// pageSize is the console token table's page length.
const pageSize = 25

// countBeyondPage is the store's cap on counting past the page (internal/store
// tokensearch.go): a Total of offset+limit+countBeyondPage is a lower bound.
const countBeyondPage = 1_000

// principal is an administrator; SearchTokens checks its permission and looks nothing up.
var principal = tokenward.Principal{AccountID: 1, Account: "bench@example.com", Kind: tokenward.UserAccount,
	Permissions: tokenward.NewPermissionSet(tokenward.UserManagement)}

// result is a request's measurements on one engine.
type result struct {
	request
	times    []time.Duration
	p50, p95 time.Duration
	items    int    // rows on the page (last run)
	total    int    // the page's Total (last run)
	capped   bool   // total is the count's cap, a lower bound
	plan     string // for a request that missed the goal
}

type engineReport struct {
	engine    store.Engine
	describe  string
	tokens    int
	seed      time.Duration
	analyze   time.Duration
	measure   time.Duration
	results   []*result
	baseline  *result // the plain primary-key page, the ratio column's denominator
	notes     []string
	loadStart string // the machine's load averages when the measurements began
	loadEnd   string
}

// benchEngine seeds a fresh database on engine, times every request and explains the ones
// that miss the goal. The database is removed before it returns unless --keep.
func benchEngine(ctx context.Context, out io.Writer, engine store.Engine, opts options) (rep *engineReport, skip string, err error) {
	var t *target
	if engine == store.SQLite {
		t, err = prepareSQLite(opts)
	} else {
		t, skip, err = preparePostgres(ctx, opts.postgres)
	}
	if err != nil || skip != "" {
		return nil, skip, err
	}
	defer func() {
		if opts.keep {
			fmt.Fprintf(out, "%s: kept %s\n", engine, t.removeMsg)
			return
		}
		if cerr := t.cleanup(); cerr != nil {
			fmt.Fprintf(out, "%s: could not remove %s: %v\n", engine, t.removeMsg, cerr)
		}
	}()
	rep = &engineReport{engine: engine, describe: t.describe}
	fmt.Fprintf(out, "%s: %s\n", engine, t.describe)

	now := time.Now().UTC().Truncate(time.Millisecond)
	if rep.seed, err = fill(ctx, out, engine, t.dsn, opts, now); err != nil {
		return nil, "", err
	}

	direct, err := analyze(ctx, out, t, rep)
	if err != nil {
		return nil, "", err
	}
	defer direct.Close()

	ids, err := identifiers(ctx, direct)
	if err != nil {
		return nil, "", err
	}
	db, err := store.Open(ctx, t.dsn)
	if err != nil {
		return nil, "", err
	}
	defer db.Close()
	svc := tokenward.NewService(tokenward.Config{Store: db})

	var vacuumedBefore string
	if engine == store.Postgres {
		vacuumedBefore = lastAutovacuum(ctx, direct)
	}
	rep.loadStart = loadAverage()
	began := time.Now()
	if rep.baseline, err = measureBaseline(ctx, out, engine, direct, opts, rep.tokens); err != nil {
		return nil, "", err
	}
	cursors, err := deepCursors(ctx, db)
	if err != nil {
		return nil, "", err
	}
	if rep.results, err = measure(ctx, out, engine, svc, db, direct, opts, requests(now, ids, cursors)); err != nil {
		return nil, "", err
	}
	rep.measure = time.Since(began)
	rep.loadEnd = loadAverage()
	if busy(rep.loadStart) || busy(rep.loadEnd) {
		rep.notes = append(rep.notes, fmt.Sprintf("the machine was busy (load average %s at the start, %s at the end, on %d CPUs): other work inflates these timings, mostly the p95", rep.loadStart, rep.loadEnd, runtime.NumCPU()))
	}
	if engine == store.Postgres {
		if after := lastAutovacuum(ctx, direct); after != vacuumedBefore {
			rep.notes = append(rep.notes, fmt.Sprintf("autovacuum/autoanalyze of tokens ran during the measurements (now %s); timings near it may be noisy", after))
		}
	}
	return rep, "", nil
}

// analyze gathers the planners' statistics on a plain connection to the target, which it
// returns (one connection at most) for the caller to close, and counts the live tokens.
func analyze(ctx context.Context, out io.Writer, t *target, rep *engineReport) (*sql.DB, error) {
	direct, err := sql.Open(t.driver, t.direct)
	if err != nil {
		return nil, err
	}
	direct.SetMaxOpenConns(1)
	// On PostgreSQL VACUUM too, as autovacuum does soon after a million inserts (it
	// otherwise ran during the measurements): a live table's pages are all-visible, which
	// lets a count read a partial index alone, without visiting the rows.
	statements := "ANALYZE"
	if t.engine == store.Postgres {
		statements = "VACUUM ANALYZE"
	}
	began := time.Now()
	if _, err := direct.ExecContext(ctx, statements); err != nil {
		direct.Close()
		return nil, fmt.Errorf("analyze: %s", redact(err.Error(), t.direct))
	}
	rep.analyze = time.Since(began)
	if err := direct.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE revoked_at IS NULL`).Scan(&rep.tokens); err != nil {
		direct.Close()
		return nil, fmt.Errorf("count tokens: %w", err)
	}
	fmt.Fprintf(out, "%s: %s in %.1f s; %d live tokens\n", rep.engine, statements, rep.analyze.Seconds(), rep.tokens)
	return direct, nil
}

// fill seeds the target database with the synthetic organization and returns how long it
// took. The connection is closed after: the benchmark reopens it after ANALYZE, so that no
// connection plans with stale statistics.
func fill(ctx context.Context, out io.Writer, engine store.Engine, dsn string, opts options, now time.Time) (time.Duration, error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	perAccount := opts.tokens / opts.accounts
	fmt.Fprintf(out, "%s: seeding %d tokens over %d accounts (%d each) ...\n", engine, opts.tokens, opts.accounts, perAccount)
	began := time.Now()
	if err := seed.Fill(ctx, db, seed.Spec{Accounts: opts.accounts, TokensPerAccount: perAccount,
		ServiceShare: 0.25, InactiveShare: 0.1, NeverUsedShare: 0.2, ExpiringShare: 0.5, Now: now}); err != nil {
		return 0, err
	}
	took := time.Since(began)
	fmt.Fprintf(out, "%s: seeded in %.1f s\n", engine, took.Seconds())
	return took, nil
}

// baselineSQL is the plain primary-key page: 25 live tokens from a given seq on, with their
// accounts, the cheapest page an engine serves. Every request's ratio is against it.
const baselineSQL = `SELECT t.id, t.name, t.hint, t.account_id, a.identifier, a.kind, a.active, t.created_at, t.last_used_at, t.revoked_at
	FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.seq >= $1 AND t.revoked_at IS NULL ORDER BY t.seq LIMIT 25`

// measureBaseline times the primary-key page, from a different seq on each run, on the
// plain connection.
func measureBaseline(ctx context.Context, out io.Writer, engine store.Engine, direct *sql.DB, opts options, tokens int) (*result, error) {
	r := &result{request: request{name: "primary-key page (baseline)"}}
	fmt.Fprintf(out, "%s: %-34s", engine, r.name)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range warmups + opts.runs {
		from := rng.Int64N(int64(max(1, tokens-pageSize))) + 1
		start := time.Now()
		n, err := timeQueryOnce(ctx, direct, baselineSQL, from)
		if err != nil {
			fmt.Fprintln(out)
			return nil, fmt.Errorf("baseline: %w", err)
		}
		if i >= warmups {
			r.times = append(r.times, time.Since(start))
		}
		r.items = n
	}
	r.p50, r.p95 = percentile(r.times, 0.50), percentile(r.times, 0.95)
	fmt.Fprintf(out, " p50 %7.1f ms  p95 %7.1f ms\n", ms(r.p50), ms(r.p95))
	return r, nil
}

// timeQueryOnce runs a query and reads every row, returning how many it read.
func timeQueryOnce(ctx context.Context, db *sql.DB, query string, args ...any) (int, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	dest := make([]any, len(cols))
	for i := range dest {
		dest[i] = new(any)
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// measure runs each request warmups+opts.runs times through the service, timing the runs
// after the warm-ups, and explains the ones that miss the goal.
func measure(ctx context.Context, out io.Writer, engine store.Engine, svc *tokenward.Service, db *store.DB, direct *sql.DB, opts options, reqs []request) ([]*result, error) {
	var results []*result
	var err error
	for _, req := range reqs {
		r := &result{request: req}
		fmt.Fprintf(out, "%s: %-34s", engine, req.name)
		var page tokenward.Page[tokenward.Token]
		for i := range warmups + opts.runs {
			sr := req.build(i)
			start := time.Now()
			page, err = svc.SearchTokens(ctx, principal, sr)
			elapsed := time.Since(start)
			if err != nil {
				fmt.Fprintln(out)
				return nil, fmt.Errorf("%s: %w", req.name, err)
			}
			if i >= warmups {
				r.times = append(r.times, elapsed)
			}
		}
		r.p50, r.p95 = percentile(r.times, 0.50), percentile(r.times, 0.95)
		r.items, r.total = len(page.Items), page.Total
		r.capped = page.Total >= page.Offset+page.Limit+countBeyondPage
		fmt.Fprintf(out, " p50 %7.1f ms  p95 %7.1f ms\n", ms(r.p50), ms(r.p95))
		if r.p95 >= opts.goal {
			r.plan = explain(ctx, db, direct, req.build(warmups+opts.runs-1))
		}
		results = append(results, r)
	}
	return results, nil
}

// loadAverage returns the 1-, 5- and 15-minute load averages, or "?" where /proc has none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// busy reports whether a load average's 1-minute figure exceeds the number of CPUs.
func busy(load string) bool {
	var one float64
	if _, err := fmt.Sscan(load, &one); err != nil {
		return false
	}
	return one > float64(runtime.NumCPU())
}

// deepPage is the page the deep-page requests read: by offset, and by the cursor that
// the page before it answered, as the console's Next does.
const deepPage = 400

// percentile is the nearest-rank percentile of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// lastAutovacuum describes when PostgreSQL last vacuumed or analyzed tokens on its own.
func lastAutovacuum(ctx context.Context, db *sql.DB) string {
	var vac, an sql.NullTime
	err := db.QueryRowContext(ctx, `SELECT last_autovacuum, last_autoanalyze FROM pg_stat_user_tables WHERE relname = 'tokens'`).Scan(&vac, &an)
	if err != nil {
		return "unknown"
	}
	f := func(t sql.NullTime) string {
		if !t.Valid {
			return "never"
		}
		return t.Time.Format(time.TimeOnly)
	}
	return "autovacuum " + f(vac) + ", autoanalyze " + f(an)
}
