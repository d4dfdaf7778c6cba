package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestCursorPaging pages through token searches by cursor, forwards with Next and back
// with Previous, and checks every page against the same search paged by offset: the same
// rows in the same order, offsets and totals, in every sort order (a nullable one with
// missing keys, ties in every key), with a filter that picks each of the two page plans.
func TestCursorPaging(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(5, uint64(len(engine))))
		err := db.WriteBatch(ctx, func(tx *sql.Tx) error {
			for i := range 12 {
				kind, active := "user", true
				if i%3 == 0 {
					kind, active = "service", i%2 == 0
				}
				var id int64
				if err := tx.QueryRowContext(ctx, `INSERT INTO accounts (identifier, kind, active, created_at) VALUES ($1, $2, $3, 0) RETURNING id`,
					fmt.Sprintf("acct-%02d", rng.IntN(40)*100+i), kind, active).Scan(&id); err != nil {
					return err
				}
				for j := range 210 {
					var used any
					if rng.IntN(3) > 0 {
						used = int64(rng.IntN(50))
					}
					if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, digest, hint, name, account_id, account_identifier, account_kind, account_active, created_at, last_used_at)
						SELECT $1, $2, 'hint', $3, id, identifier, kind, active, $4, $5 FROM accounts WHERE id = $6`,
						fmt.Sprintf("tw_%03d_%02d_%03d", rng.IntN(1000), i, j), []byte(fmt.Sprintf("d%d-%d", i, j)), fmt.Sprintf("name-%d", rng.IntN(30)),
						int64(rng.IntN(400)), used, id); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		filters := map[string][]tokenward.SearchCondition{
			"all 2,520 (walk the sort index)":  nil,
			"service accounts (read and sort)": {{Key: "accountType", Values: []string{"SERVICE_ACCOUNT"}, MatchingMethod: tokenward.MatchExact}},
		}
		for name, conds := range filters {
			for _, field := range tokenward.TokenSearch.SortFields {
				for _, asc := range []bool{true, false} {
					req := tokenward.SearchRequest{Query: conds, Sort: &tokenward.SearchSort{Field: field, Ascending: asc}}
					t.Run(fmt.Sprintf("%s/%s/asc=%v", name, field, asc), func(t *testing.T) {
						checkCursorPaging(t, db, req)
					})
				}
			}
		}
		t.Run("a cursor of another order is refused", func(t *testing.T) {
			page := search(t, db, tokenward.SearchRequest{Limit: 10, Sort: &tokenward.SearchSort{Field: "name", Ascending: true}})
			for _, bad := range []tokenward.SearchRequest{
				{Limit: 10, Cursor: page.Next, Sort: &tokenward.SearchSort{Field: "name", Ascending: false}},
				{Limit: 10, Cursor: page.Next, Sort: &tokenward.SearchSort{Field: "lastUsed", Ascending: true}},
				{Limit: 10, Cursor: "not-a-cursor", Sort: &tokenward.SearchSort{Field: "name", Ascending: true}},
				{Limit: 10, Cursor: page.Next[:len(page.Next)-3], Sort: &tokenward.SearchSort{Field: "name", Ascending: true}},
			} {
				if _, err := db.SearchTokens(ctx, bad); tokenward.ErrorCode(err) != tokenward.EInvalid {
					t.Errorf("cursor %q sorted by %+v: %v, want EInvalid", bad.Cursor, *bad.Sort, err)
				}
			}
		})
	})
}

// checkCursorPaging compares cursor paging with offset paging for one search.
func checkCursorPaging(t *testing.T, db *store.DB, req tokenward.SearchRequest) {
	var want []string
	for offset := 0; ; offset += 1000 {
		r := req
		r.Offset, r.Limit = offset, 1000
		page := search(t, db, r)
		want = append(want, ids(page.Items)...)
		if !page.More() {
			break
		}
	}
	// A page by offset: the rows of the whole order there, and a total exact up to 1,000
	// past the page (counted from the page on when the matches are many).
	for _, offset := range []int{1, 97, 1000, 1494, 1495, 1496, 2000, len(want) - 25, len(want) - 1, len(want), len(want) + 7} {
		r := req
		r.Offset, r.Limit = offset, 25
		page := search(t, db, r)
		from, end := min(offset, len(want)), min(offset+25, len(want))
		if got := ids(page.Items); !slices.Equal(got, want[from:end]) {
			t.Fatalf("offset %d: %d tokens, not those of the whole order there", offset, len(got))
		}
		if wantTotal := min(len(want), offset+25+1000); page.Total != wantTotal {
			t.Fatalf("offset %d: total %d, want %d of %d", offset, page.Total, wantTotal, len(want))
		}
	}
	const size = 97
	var got []string
	var pages []tokenward.Page[tokenward.Token]
	r := req
	r.Limit = size
	for {
		page := search(t, db, r)
		if page.Offset != len(got) || page.Total < min(len(want), page.Offset+size+1000) || page.Total > len(want) {
			t.Fatalf("page %d: offset %d total %d, want offset %d of %d", len(pages), page.Offset, page.Total, len(got), len(want))
		}
		got = append(got, ids(page.Items)...)
		pages = append(pages, page)
		if page.Next == "" {
			break
		}
		r.Cursor = page.Next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("forward by cursor: %d tokens, want %d in the order of offset paging", len(got), len(want))
	}
	// Back from the last page: each Previous is the page before, exactly.
	for i := len(pages) - 1; i > 0; i-- {
		r.Cursor = pages[i].Previous
		page := search(t, db, r)
		if !slices.Equal(ids(page.Items), ids(pages[i-1].Items)) || page.Offset != pages[i-1].Offset {
			t.Fatalf("previous of page %d (offset %d): %d tokens at offset %d, want page %d", i, pages[i].Offset, len(page.Items), page.Offset, i-1)
		}
	}
	if pages[0].Previous != "" {
		t.Errorf("the first page has a previous cursor")
	}
}

func search(t *testing.T, db *store.DB, req tokenward.SearchRequest) tokenward.Page[tokenward.Token] {
	t.Helper()
	if err := req.Normalize(tokenward.TokenSearch); err != nil {
		t.Fatal(err)
	}
	page, err := db.SearchTokens(context.Background(), req)
	if err != nil {
		t.Fatalf("search %+v: %v", req, err)
	}
	return page
}

func ids(tokens []tokenward.Token) []string {
	var out []string
	for _, t := range tokens {
		out = append(out, t.ID)
	}
	return out
}
