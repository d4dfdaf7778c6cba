package store_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/cmd/tokenward-bench/seed"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestMatchEstimate: where the count stops at its cap, a search answers an estimate of
// its matches (from a sample of the table) close to the true number, the same one twice;
// where the count is exact, none.
func TestMatchEstimate(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 30,000 tokens per engine")
	}
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) // the seed's own clock; nothing here reads the real one
		if err := seed.Fill(ctx, db, seed.Spec{Accounts: 1500, TokensPerAccount: 20,
			ServiceShare: 0.25, InactiveShare: 0.1, NeverUsedShare: 0.2, Now: now}); err != nil {
			t.Fatalf("seed: %v", err)
		}
		exact := func(conds []tokenward.SearchCondition) int {
			n := 0
			for offset := 0; ; offset += 1000 {
				page := search(t, db, tokenward.SearchRequest{Query: conds, Limit: 1000, Offset: offset})
				if n += len(page.Items); !page.More() {
					return n
				}
			}
		}
		for _, c := range []struct {
			name   string
			conds  []tokenward.SearchCondition
			capped bool
		}{
			{"every token", nil, true},
			{"service accounts", []tokenward.SearchCondition{{Key: "accountType", Values: []string{"SERVICE_ACCOUNT"}, MatchingMethod: tokenward.MatchExact}}, true},
			{"names starting deploy", []tokenward.SearchCondition{{Key: "name", Value: "deploy", MatchingMethod: tokenward.MatchStartsWith}}, true},
			{"one account", []tokenward.SearchCondition{{Key: "account", Value: "seed-42@example.com", MatchingMethod: tokenward.MatchExact}}, false},
			{"free text deploy", []tokenward.SearchCondition{{Key: "freetext", Value: "DEPLOY"}}, true},
			{"free text of one account", []tokenward.SearchCondition{{Key: "freetext", Value: userTerm(t, db)}}, false},
		} {
			t.Run(c.name, func(t *testing.T) {
				req := tokenward.SearchRequest{Query: c.conds, Limit: 25}
				page := search(t, db, req)
				if c.name == "free text of one account" {
					checkPieceLookup(t, db, engine, req, page)
				}
				if !c.capped {
					if page.Estimate != 0 {
						t.Errorf("an exact count of %d came with an estimate of %d", page.Total, page.Estimate)
					}
					return
				}
				want := exact(c.conds)
				if page.Total >= want || page.Estimate == 0 {
					t.Fatalf("total %d, estimate %d, for %d matches: want a capped total and an estimate", page.Total, page.Estimate, want)
				}
				if ratio := float64(page.Estimate) / float64(want); math.Abs(math.Log(ratio)) > math.Log(1.5) {
					t.Errorf("estimate %d for %d matches (%.2fx), want within 1.5x", page.Estimate, want, ratio)
				}
				if again := search(t, db, req); again.Estimate != page.Estimate {
					t.Errorf("estimates %d then %d of one table", page.Estimate, again.Estimate)
				}
				if next := search(t, db, tokenward.SearchRequest{Query: c.conds, Limit: 25, Cursor: page.Next}); next.Estimate != page.Estimate {
					t.Errorf("the next page by cursor estimates %d, the first %d", next.Estimate, page.Estimate)
				}
				if c.name == "free text deploy" && engine == store.Postgres {
					// A common term is counted by walking the live tokens, not through the
					// trigram index (walkCount); the totals above hold either way.
					if err := req.Normalize(tokenward.TokenSearch); err != nil {
						t.Fatal(err)
					}
					plans, err := db.ExplainSearchTokens(ctx, req, false)
					if err != nil {
						t.Fatal(err)
					}
					if !strings.Contains(plans[0].SQL, "ORDER BY t.seq DESC LIMIT") {
						t.Errorf("free text deploy counted by %s, want the walk of the live tokens", plans[0].SQL)
					}
				}
				t.Logf("%d matches, count says more than %d, estimate %d", want, page.Total, page.Estimate)
			})
		}
	})
}

// userTerm is "seed-N@" for the first seeded user account from seed-42 on (the seed draws
// which accounts are service accounts, sa::seed-N): a term that its 20 tokens hold, and
// whose piece "seed-" every seeded token holds.
func userTerm(t *testing.T, db *store.DB) string {
	t.Helper()
	for i := 42; i < 100; i++ {
		account := fmt.Sprintf("seed-%d@example.com", i)
		page := search(t, db, tokenward.SearchRequest{Limit: 25, Query: []tokenward.SearchCondition{
			{Key: "account", Value: account, MatchingMethod: tokenward.MatchExact}}})
		if page.Total == 20 {
			return fmt.Sprintf("seed-%d@", i)
		}
	}
	t.Fatal("no user account among seed-42 to seed-99")
	return ""
}

// checkPieceLookup checks a free-text search for a userTerm: it finds the 20 tokens of
// that account and no other, and on PostgreSQL its trigram lookup leaves the common
// piece "seed-" out (lookupRuns).
func checkPieceLookup(t *testing.T, db *store.DB, engine store.Engine, req tokenward.SearchRequest, page tokenward.Page[tokenward.Token]) {
	t.Helper()
	term := req.Query[0].Value
	if page.Total != 20 || len(page.Items) != 20 {
		t.Fatalf("%q: %d matches, %d on the page, want the 20 tokens of one account", term, page.Total, len(page.Items))
	}
	for _, tok := range page.Items {
		if tok.Account != term+"example.com" {
			t.Errorf("token of %s found by %q", tok.Account, term)
		}
	}
	if engine != store.Postgres {
		return
	}
	if err := req.Normalize(tokenward.TokenSearch); err != nil {
		t.Fatal(err)
	}
	plans, err := db.ExplainSearchTokens(context.Background(), req, false)
	if err != nil {
		t.Fatal(err)
	}
	want := "%" + strings.TrimPrefix(term, "seed") + "%"
	if lookup := plans[0].Args[len(plans[0].Args)-1]; lookup != want {
		t.Errorf("the count looks up %v in the trigram index, want only the rare piece %s: %s", lookup, want, plans[0].SQL)
	}
}
