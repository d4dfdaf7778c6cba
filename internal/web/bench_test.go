package web_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/cmd/tokenward-bench/seed"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/web"
)

// BenchmarkAPITokensPage measures the server time of the console's API Tokens page (the
// search, the Accounts panel and the saved searches, rendered) over a seeded organization:
// TOKENWARD_BENCH_TOKENS tokens (default 100,000; the README quotes 1,000,000), on each
// engine. It reports p50 and p95 beside the mean.
func BenchmarkAPITokensPage(b *testing.B) {
	n := 100_000
	if v := os.Getenv("TOKENWARD_BENCH_TOKENS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	for _, engine := range storetest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			ctx := context.Background()
			db, dsn := storetest.OpenDSN(b, engine)
			if err := seed.Fill(ctx, db, seed.Spec{Accounts: n / 20, TokensPerAccount: 20, ServiceShare: 0.25, InactiveShare: 0.1,
				NeverUsedShare: 0.2, Now: time.Now()}); err != nil {
				b.Fatal(err)
			}
			analyze(b, engine, dsn)
			service := tokenward.NewService(tokenward.Config{Store: db})
			if _, err := tokenward.NewOperator(service).CreateUser(ctx, "bench@example.com", tokenward.NewPermissionSet(tokenward.UserManagement), password); err != nil {
				b.Fatal(err)
			}
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			h := api.New(service, api.Config{Org: "acme", Logger: logger, Console: web.New(service, web.Config{Org: "acme", Logger: logger})})
			signIn := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/console/signin", strings.NewReader(url.Values{"email": {"bench@example.com"}, "password": {password}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			h.ServeHTTP(signIn, req)
			cookie := signIn.Result().Cookies()[0]
			pages := []string{"", "?sort=lastUsed", "?usage=used7", "?usage=unused30", "?type=SERVICE_ACCOUNT", "?q=deploy",
				"?type=SERVICE_ACCOUNT&usage=used7&sort=lastUsed", "?page=400"}
			var times []time.Duration
			i := 0
			for b.Loop() {
				req := httptest.NewRequest("GET", "/console/accounts/api-tokens"+pages[i%len(pages)], nil)
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				times = append(times, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("page %s: %d", pages[i%len(pages)], rec.Code)
				}
				i++
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// analyze gathers the planner's statistics after the seed, as autovacuum (PostgreSQL) or
// the optimizer's own ANALYZE would on a database that grew over time: without them
// PostgreSQL plans a million tokens as an empty table until autoanalyze happens to run,
// mid-measurement or not.
func analyze(b *testing.B, engine store.Engine, dsn string) {
	b.Helper()
	driver := "pgx"
	if engine == store.SQLite {
		driver, dsn = "sqlite", "file:"+dsn+"?_pragma=busy_timeout(5000)"
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatalf("open %s: %v", engine, err)
	}
	defer conn.Close()
	if _, err := conn.Exec("ANALYZE"); err != nil {
		b.Fatalf("analyze: %v", err)
	}
}
