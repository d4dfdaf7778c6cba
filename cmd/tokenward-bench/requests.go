package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
)

// request is one row of the table: a search request, built afresh for each run i (counted
// from 0 over the warm-ups and the timed runs) so that a request may vary its target.
type request struct {
	name  string
	build func(i int) tokenward.SearchRequest
}

// identifiers returns every live account identifier, in creation order.
func identifiers(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT identifier FROM accounts WHERE deleted_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("the seeded database has no accounts")
	}
	return ids, nil
}

// deepCursors returns, for the default order and for lastUsed descending, the Next cursor
// of the page before deepPage ("" when the organization has fewer pages).
func deepCursors(ctx context.Context, db *store.DB) (map[string]string, error) {
	cursors := map[string]string{}
	for _, sort := range []string{"dateGenerated", "lastUsed"} {
		req := tokenward.SearchRequest{Limit: pageSize, Offset: (deepPage - 2) * pageSize, Sort: &tokenward.SearchSort{Field: sort}}
		if err := req.Normalize(tokenward.TokenSearch); err != nil {
			return nil, err
		}
		page, err := db.SearchTokens(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("the cursor of page %d: %w", deepPage-1, err)
		}
		cursors[sort] = page.Next
	}
	return cursors, nil
}

// requests are the token table's requests, as the console makes them; cursors are
// deepCursors'.
func requests(now time.Time, ids []string, cursors map[string]string) []request {
	day := int64(24 * time.Hour / time.Millisecond)
	nowMs := now.UnixMilli()
	weekAgo, monthAgo := nowMs-7*day, nowMs-30*day
	page := func(conds ...tokenward.SearchCondition) tokenward.SearchRequest {
		return tokenward.SearchRequest{Query: conds, Limit: pageSize}
	}
	usedLastWeek := func() tokenward.SearchCondition {
		return tokenward.SearchCondition{Key: "lastUsed", Start: &weekAgo}
	}
	serviceAccounts := func() tokenward.SearchCondition {
		return tokenward.SearchCondition{Key: "accountType", Value: "SERVICE_ACCOUNT", MatchingMethod: tokenward.MatchExact}
	}
	pick := func(i, k int) []string { return pickAccounts(ids, i, k) }
	rare := rareText(ids)
	return []request{
		{"default order", func(int) tokenward.SearchRequest { return page() }},
		{"sort lastUsed desc", func(int) tokenward.SearchRequest {
			r := page()
			r.Sort = &tokenward.SearchSort{Field: "lastUsed", Ascending: false}
			return r
		}},
		{"used in last 7 days", func(int) tokenward.SearchRequest { return page(usedLastWeek()) }},
		{"unused for 30+ days", func(int) tokenward.SearchRequest {
			return page(tokenward.SearchCondition{Key: "lastActivity", End: &monthAgo})
		}},
		{"accountType SERVICE_ACCOUNT", func(int) tokenward.SearchRequest { return page(serviceAccounts()) }},
		{"one account (EXACT)", func(i int) tokenward.SearchRequest {
			return page(tokenward.SearchCondition{Key: "account", Value: pick(i, 1)[0], MatchingMethod: tokenward.MatchExact})
		}},
		{"three accounts (EXACT)", func(i int) tokenward.SearchRequest {
			return page(tokenward.SearchCondition{Key: "account", Values: pick(i, 3), MatchingMethod: tokenward.MatchExact})
		}},
		{`freetext "deploy"`, func(int) tokenward.SearchRequest {
			return page(tokenward.SearchCondition{Key: "freetext", Value: "deploy"})
		}},
		{fmt.Sprintf("freetext %q (rare)", rare), func(int) tokenward.SearchRequest {
			return page(tokenward.SearchCondition{Key: "freetext", Value: rare})
		}},
		// A fragment of digits that a few hundred tokens hold (614 at a million): the plan
		// for fewer than smallMatchSet matches, with more rows to sort than the rare term's.
		{`freetext "4242" (hundreds)`, func(int) tokenward.SearchRequest {
			return page(tokenward.SearchCondition{Key: "freetext", Value: "4242"})
		}},
		{"service + last 7d, lastUsed desc", func(int) tokenward.SearchRequest {
			r := page(serviceAccounts(), usedLastWeek())
			r.Sort = &tokenward.SearchSort{Field: "lastUsed", Ascending: false}
			return r
		}},
		{"expires within 7 days", func(int) tokenward.SearchRequest {
			return page(tokenward.ExpiresWithin7Days.Conditions(now)...)
		}},
		{"sort expiresAt asc", func(int) tokenward.SearchRequest {
			r := page()
			r.Sort = &tokenward.SearchSort{Field: "expiresAt", Ascending: true}
			return r
		}},
		{fmt.Sprintf("default order, page %d", deepPage), func(int) tokenward.SearchRequest {
			r := page()
			r.Offset = (deepPage - 1) * pageSize
			return r
		}},
		{fmt.Sprintf("default order, page %d by cursor", deepPage), func(int) tokenward.SearchRequest {
			r := page()
			r.Cursor = cursors["dateGenerated"]
			return r
		}},
		{fmt.Sprintf("lastUsed desc, page %d by cursor", deepPage), func(int) tokenward.SearchRequest {
			r := page()
			r.Sort, r.Cursor = &tokenward.SearchSort{Field: "lastUsed"}, cursors["lastUsed"]
			return r
		}},
	}
}

// pickAccounts picks k of ids for the account filters of run i: a different, reproducible
// choice on every run, so that no cache of one answer flatters them.
func pickAccounts(ids []string, i, k int) []string {
	rng := rand.New(rand.NewPCG(uint64(i), uint64(k)))
	var out []string
	for len(out) < k && len(out) < len(ids) {
		if id := ids[rng.IntN(len(ids))]; !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// rareText is a freetext value that matches one account's tokens: "seed-4242@" when that
// user exists, else the like of a user account in the middle of the list.
func rareText(ids []string) string {
	if slices.Contains(ids, "seed-4242@example.com") {
		return "seed-4242@"
	}
	for _, id := range ids[len(ids)/2:] {
		if at := strings.IndexByte(id, '@'); at > 0 {
			return id[:at+1]
		}
	}
	return "seed-4242@"
}
