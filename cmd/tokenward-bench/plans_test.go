package main

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/cmd/tokenward-bench/seed"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestNoRequestScansTokens seeds 100,000 tokens (5,000 accounts) on each engine, as issue 17
// asks of CI, and checks that no request of the benchmark's table has a plan that reads the
// tokens table from end to end: plans are stable where timings are not, and a full scan is
// what grows with the organization. 15 to 38 s per engine on the shared 2-core machine.
func TestNoRequestScansTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 100,000 tokens per engine")
	}
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		db, dsn := storetest.OpenDSN(t, engine)
		now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		if err := seed.Fill(ctx, db, seed.Spec{Accounts: 5000, TokensPerAccount: 20,
			ServiceShare: 0.25, InactiveShare: 0.1, NeverUsedShare: 0.2, ExpiringShare: 0.5, Now: now}); err != nil {
			t.Fatalf("seed: %v", err)
		}
		// The sweep's notices as the first sweep records them: what every later sweep
		// finds due is what became due since.
		if _, err := db.NoticeExpiries(ctx, tokenward.AuditEvent{At: now, Actor: "tokenward", Source: "test"}); err != nil {
			t.Fatalf("notice expiries: %v", err)
		}
		driver, direct := "pgx", dsn
		if engine == store.SQLite {
			driver = "sqlite"
		}
		conn, err := sql.Open(driver, direct)
		if err != nil {
			t.Fatalf("open %s: %v", engine, err)
		}
		defer conn.Close()
		// VACUUM too on PostgreSQL, as autovacuum would after the sweep's updates: it moves
		// them out of the trigram index's pending list.
		analyze := "ANALYZE"
		if engine == store.Postgres {
			analyze = "VACUUM ANALYZE"
		}
		if _, err := conn.ExecContext(ctx, analyze); err != nil {
			t.Fatalf("analyze: %v", err)
		}
		ids, err := identifiers(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		cursors, err := deepCursors(ctx, db)
		if err != nil || cursors["dateGenerated"] == "" || cursors["lastUsed"] == "" {
			t.Fatalf("cursors of page %d: %v %v", deepPage-1, cursors, err)
		}
		for _, r := range requests(now, ids, cursors) {
			req := r.build(0)
			if err := req.Normalize(tokenward.TokenSearch); err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			plans, err := db.ExplainSearchTokens(ctx, req, false)
			if err != nil {
				t.Fatalf("%s: %v", r.name, err)
			}
			for _, p := range plans {
				if p.FullScan {
					t.Errorf("%s: the %s query reads every token:\n%s\n%s", r.name, p.Label, oneLine(p.SQL), p.Plan)
				}
				// Counting every token (or a range of the order) walks the sort order's
				// index: PostgreSQL's scan of the table, stopped at the count's limit, reread
				// its pages from outside its buffers every time (store's countOrder).
				if engine == store.Postgres && len(req.Query) == 0 && strings.HasPrefix(p.Label, "count") && strings.Contains(p.Plan, "Seq Scan") {
					t.Errorf("%s: the %s query scans the table, not the sort order's index:\n%s\n%s", r.name, p.Label, oneLine(p.SQL), p.Plan)
				}
			}
		}
		// The lifecycle sweep's lookups, which every instance runs each minute, with an idle
		// timeout that few of the seeded tokens have passed (as after the first sweep).
		plans, err := db.ExplainLifecycleSweep(ctx, now, now.Add(-355*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range plans {
			if p.FullScan {
				t.Errorf("the sweep's %s query reads every token:\n%s\n%s", p.Label, oneLine(p.SQL), p.Plan)
			}
		}
	})
}
