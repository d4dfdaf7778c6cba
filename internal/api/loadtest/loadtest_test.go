// Package loadtest_test measures the forward-auth endpoint against a bare net/http handler
// that answers 200, with the same client, on loopback, in the same run.
//
// Without TOKENWARD_LOAD=1 the test runs in a tiny form (300ms per target and round) and
// checks correctness only. With TOKENWARD_LOAD=1 it runs for TOKENWARD_LOAD_DURATION per
// target and round (default 5s) with TOKENWARD_LOAD_CONCURRENCY workers (default 32).
// Throughput and latency are printed, never asserted: the machines are shared and noisy.
package loadtest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

const (
	account     = "load@example.com"
	rounds      = 2
	tinyPerTurn = 300 * time.Millisecond
)

// target is one server under load and what a correct answer from it looks like.
type target struct {
	name  string
	url   string
	check func(*http.Response) string // "" when the response is correct, else an error kind
}

// result is one measured run of one target.
type result struct {
	target   string
	round    int
	requests int
	elapsed  time.Duration
	p50, p99 time.Duration
	errors   map[string]int
}

func (r result) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) errorCount() int {
	n := 0
	for _, c := range r.errors {
		n += c
	}
	return n
}

func TestForwardAuthLoad(t *testing.T) {
	full := os.Getenv("TOKENWARD_LOAD") == "1"
	perTurn := tinyPerTurn
	concurrency := 32
	if full {
		perTurn = envDuration(t, "TOKENWARD_LOAD_DURATION", 5*time.Second)
	} else {
		t.Log("tiny correctness run; for the throughput figures run: " +
			"TOKENWARD_LOAD=1 go test -count=1 -run TestForwardAuthLoad -v ./internal/api/loadtest/")
	}
	if v := os.Getenv("TOKENWARD_LOAD_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("TOKENWARD_LOAD_CONCURRENCY=%q: want a positive integer", v)
		}
		concurrency = n
	}

	secret := newForwardAuthServer(t)
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(bare.Close)

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        2 * concurrency,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     time.Minute,
	}}
	t.Cleanup(client.CloseIdleConnections)

	targets := []target{
		{name: "bare 200", url: bare.URL + "/", check: statusOK},
		{name: "forward-auth", url: secret.url + "/auth/verify", check: func(res *http.Response) string {
			if kind := statusOK(res); kind != "" {
				return kind
			}
			if got := res.Header.Get("X-Tokenward-Account"); got != account {
				return fmt.Sprintf("X-Tokenward-Account %q", got)
			}
			return ""
		}},
	}
	authorization := fixed("Bearer " + secret.secret)

	// Warm up: open the connections and let both servers reach a steady state. Its
	// responses are checked like any other, but not reported.
	warm := min(perTurn/10, time.Second)
	for _, tg := range targets {
		r := run(client, tg, authorization, concurrency, warm)
		requireCorrect(t, "warm-up "+tg.name, r)
	}

	var results []result
	for round := 1; round <= rounds; round++ {
		for _, tg := range targets {
			r := run(client, tg, authorization, concurrency, perTurn)
			r.round = round
			results = append(results, r)
		}
	}

	report := format(results, concurrency, perTurn)
	fmt.Print(report)
	t.Log("\n" + report)

	for _, r := range results {
		requireCorrect(t, fmt.Sprintf("%s round %d", r.target, r.round), r)
	}
}

// requireCorrect fails the test when r saw no request or any error.
func requireCorrect(t *testing.T, what string, r result) {
	t.Helper()
	if r.requests == 0 {
		t.Errorf("%s: no request completed", what)
	}
	for kind, n := range r.errors {
		t.Errorf("%s: %d × %s", what, n, kind)
	}
}

func statusOK(res *http.Response) string {
	if res.StatusCode != http.StatusOK {
		return fmt.Sprintf("status %d", res.StatusCode)
	}
	return ""
}

type forwardAuth struct{ url, secret string }

// newForwardAuthServer serves the tokenward API on SQLite, verified from the in-memory
// index as serve does, with one user holding one token; it returns the URL and the secret.
func newForwardAuthServer(t *testing.T) forwardAuth {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, store.SQLite)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	verifier := auth.New(db, time.Now, logger, time.Hour)
	if err := verifier.Load(ctx); err != nil {
		t.Fatal(err)
	}
	service := tokenward.NewService(tokenward.Config{Store: db, Now: time.Now, Verifier: verifier})
	if _, err := tokenward.NewOperator(service).CreateUser(ctx, account, tokenward.NewPermissionSet(tokenward.Ingestion), ""); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	secret, _, err := tokenward.NewOperator(service).GenerateToken(ctx, account, "load")
	if err != nil {
		t.Fatalf("GenerateToken: %v", err)
	}
	srv := httptest.NewServer(api.New(service, api.Config{Org: "acme", Logger: logger}))
	t.Cleanup(srv.Close)
	return forwardAuth{url: srv.URL, secret: secret.Reveal()}
}

// fixed returns the same Authorization header for every request.
func fixed(authorization string) func() string { return func() string { return authorization } }

// run sends GET requests to tg from concurrency workers until d has passed and returns
// the count, the wall time until the last worker finished, latency percentiles and errors.
// Each request's Authorization header is authorization's (called per request).
// Requests that fail count as errors, not as requests, and their latency is not recorded.
func run(client *http.Client, tg target, authorization func() string, concurrency int, d time.Duration) result {
	type worker struct {
		latencies []time.Duration
		errors    map[string]int
	}
	workers := make([]worker, concurrency)
	// Preallocate for a generous 50k req/s shared by the workers, so appends rarely grow.
	perWorker := int(d.Seconds()*50000)/concurrency + 1
	for i := range workers {
		workers[i] = worker{latencies: make([]time.Duration, 0, perWorker), errors: map[string]int{}}
	}

	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range workers {
		w := &workers[i]
		wg.Go(func() {
			for {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				req, err := http.NewRequest(http.MethodGet, tg.url, nil)
				if err != nil {
					w.errors["request: "+err.Error()]++
					continue
				}
				req.Header.Set("Authorization", authorization())
				res, err := client.Do(req)
				if err != nil {
					w.errors["transport: "+err.Error()]++
					continue
				}
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				elapsed := time.Since(t0)
				switch kind := tg.check(res); {
				case err != nil:
					w.errors["body: "+err.Error()]++
				case kind != "":
					w.errors["unexpected "+kind]++
				default:
					w.latencies = append(w.latencies, elapsed)
				}
			}
		})
	}
	wg.Wait()
	r := result{target: tg.name, elapsed: time.Since(start), errors: map[string]int{}}

	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.latencies...)
		for k, n := range w.errors {
			r.errors[k] += n
		}
	}
	slices.Sort(all)
	r.requests = len(all)
	r.p50, r.p99 = percentile(all, 0.50), percentile(all, 0.99)
	return r
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func format(results []result, concurrency int, d time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "loopback, %d workers, %s per target and round, GOMAXPROCS %d, %d CPUs\n",
		concurrency, d, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(&b, "%-13s %-6s %-9s %-9s %-9s %-9s %s\n", "target", "round", "requests", "req/s", "p50", "p99", "errors")
	for _, r := range results {
		fmt.Fprintf(&b, "%-13s %-6d %-9d %-9.0f %-9s %-9s %d\n", r.target, r.round, r.requests, r.rate(),
			round(r.p50), round(r.p99), r.errorCount())
	}
	var ratios []string
	sum := 0.0
	for i := 0; i+1 < len(results); i += 2 {
		ratio := results[i+1].rate() / results[i].rate()
		sum += ratio
		ratios = append(ratios, fmt.Sprintf("round %d %.2f", results[i].round, ratio))
	}
	fmt.Fprintf(&b, "forward-auth / bare throughput: %.2f (%s; goal >= 0.70)\n",
		sum/float64(len(ratios)), strings.Join(ratios, ", "))
	return b.String()
}

// round shortens a latency for the table.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 5s", name, v)
	}
	return d
}
