package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/cmd/tokenward-bench/seed"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestNoticeExpiriesOnceAcrossBatchesAndInstances: four sweeps at one instant, two on each
// of two connections pools (two instances), over more due tokens than one batch holds,
// record one notice per due token between them, and a second round records none.
func TestNoticeExpiriesOnceAcrossBatchesAndInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		db, dsn := storetest.OpenDSN(t, engine)
		if err := seed.Fill(ctx, db, seed.Spec{Accounts: 250, TokensPerAccount: 20, ExpiringShare: 1, Now: t0}); err != nil {
			t.Fatal(err)
		}
		other, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		// Due: every token expiring within 30 days, or expired.
		end := t0.Add(30 * 24 * time.Hour).UnixMilli()
		req := tokenward.SearchRequest{Query: []tokenward.SearchCondition{{Key: "expiresAt", End: &end}}, Limit: 1}
		if err := req.Normalize(tokenward.TokenSearch); err != nil {
			t.Fatal(err)
		}
		due, err := db.SearchTokens(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if due.Total <= 500 || due.Total > 1000 {
			t.Fatalf("%d tokens due; the test needs more than one batch (500) and an exact count (at most 1,000)", due.Total)
		}
		by := tokenward.AuditEvent{At: t0, Actor: "tokenward", Source: "lifecycle sweep"}
		round := func() int {
			var mu sync.Mutex
			var wg sync.WaitGroup
			total := 0
			for _, d := range []*store.DB{db, other, db, other} {
				wg.Go(func() {
					n, err := d.NoticeExpiries(ctx, by)
					if err != nil {
						t.Errorf("NoticeExpiries: %v", err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
				})
			}
			wg.Wait()
			return total
		}
		if got := round(); got != due.Total {
			t.Errorf("four sweeps at once recorded %d notices, want %d", got, due.Total)
		}
		if got := round(); got != 0 {
			t.Errorf("sweeping again recorded %d notices, want 0", got)
		}
		targets := map[string]bool{}
		for offset := 0; ; offset += 1000 {
			page, err := db.AuditEvents(ctx, tokenward.AuditFilter{Action: "token.", Offset: offset, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page.Items {
				if targets[e.Target] {
					t.Errorf("two notices of %s", e.Target)
				}
				targets[e.Target] = true
			}
			if len(page.Items) < 1000 {
				break
			}
		}
		if len(targets) != due.Total {
			t.Errorf("the audit trail holds notices of %d tokens, want %d", len(targets), due.Total)
		}
	})
}
