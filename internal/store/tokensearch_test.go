package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// corpusRunes are what the random corpus's text is made of: letters of both cases (ASCII
// and not), LIKE's wildcards and escape, FTS5's quote, spaces and separators.
var corpusRunes = []rune("abcdeABCDE0123-_.@:% \\\"éÉßk")

func randomText(rng *rand.Rand, min, max int) string {
	r := make([]rune, min+rng.IntN(max-min+1))
	for i := range r {
		r[i] = corpusRunes[rng.IntN(len(corpusRunes))]
	}
	return string(r)
}

// TestTextSearchIsLike checks that the text conditions, which the trigram indexes narrow,
// find exactly the tokens that a plain LIKE over every live token finds (the semantics
// of textMatch before the indexes), on a random corpus with renames and revocations and
// random terms of every length, case and matching method.
func TestTextSearchIsLike(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		db, dsn := storetest.OpenDSN(t, engine)
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(17, uint64(len(engine))))
		var fields [][4]string // name, account, id, hint of every token inserted
		err := db.WriteBatch(ctx, func(tx *sql.Tx) error {
			for i := range 80 {
				account := fmt.Sprintf("acct-%d-%s", i, randomText(rng, 2, 8))
				var id int64
				if err := tx.QueryRowContext(ctx, `INSERT INTO accounts (identifier, kind, created_at) VALUES ($1, 'user', 0) RETURNING id`, account).Scan(&id); err != nil {
					return err
				}
				for j := range 20 {
					f := [4]string{randomText(rng, 0, 14), account, fmt.Sprintf("tw_%d_%d%s", i, j, randomText(rng, 1, 4)), randomText(rng, 4, 4)}
					if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, digest, hint, name, account_id, account_identifier, account_kind, created_at)
						VALUES ($1, $2, $3, $4, $5, $6, 'user', $7)`, f[2], []byte(f[2]), f[3], f[0], id, account, int64(i*20+j)); err != nil {
						return err
					}
					fields = append(fields, f)
				}
			}
			// Renames and revocations must reach the trigram index.
			for k, f := range fields[:300] {
				if rng.IntN(2) == 0 {
					fields[k][0] = randomText(rng, 0, 14) // later terms are drawn from the new name
					if _, err := tx.ExecContext(ctx, `UPDATE tokens SET name = $1 WHERE id = $2`, fields[k][0], f[2]); err != nil {
						return err
					}
				} else if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = 1 WHERE id = $1`, f[2]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("seed the corpus: %v", err)
		}
		direct := openDirect(t, engine, dsn)

		keys := []string{"freetext", "freetext", "name", "account", "id"}
		methods := []tokenward.MatchingMethod{tokenward.MatchContains, tokenward.MatchContains, tokenward.MatchStartsWith, tokenward.MatchTagPath, tokenward.MatchExact}
		for i := range 400 {
			c := tokenward.SearchCondition{Key: keys[rng.IntN(len(keys))], MatchingMethod: methods[rng.IntN(len(methods))], Negated: rng.IntN(6) == 0}
			for range 1 + rng.IntN(2) {
				c.Values = append(c.Values, randomTerm(rng, fields, c.MatchingMethod))
			}
			req := tokenward.SearchRequest{Query: []tokenward.SearchCondition{c}, Limit: 1000, Sort: &tokenward.SearchSort{Field: "id", Ascending: true}}
			if err := req.Normalize(tokenward.TokenSearch); err != nil {
				t.Fatalf("normalize %+v: %v", c, err)
			}
			got := searchAll(t, db, req)
			want := likeIDs(t, direct, c)
			if !slices.Equal(got, want) {
				t.Fatalf("query %d, %s %s %q negated=%v: search found %d tokens, LIKE %d\ngot  %q\nwant %q",
					i, c.Key, c.MatchingMethod, c.Values, c.Negated, len(got), len(want), got, want)
			}
		}
	})
}

// randomTerm is a search value: mostly a piece of a token's field in random case (1 to 7
// characters, so short terms fall back), sometimes random text; TAGPATH gets a wildcard.
func randomTerm(rng *rand.Rand, fields [][4]string, method tokenward.MatchingMethod) string {
	if rng.IntN(5) == 0 {
		return randomText(rng, 1, 5)
	}
	f := []rune(fields[rng.IntN(len(fields))][rng.IntN(4)])
	if method == tokenward.MatchExact {
		return string(f)
	}
	if len(f) == 0 {
		return ""
	}
	start := rng.IntN(len(f))
	piece := f[start:min(len(f), start+1+rng.IntN(7))]
	for i := range piece {
		if rng.IntN(2) == 0 {
			piece[i] = []rune(strings.ToUpper(string(piece[i])))[0]
		}
	}
	if method == tokenward.MatchTagPath && len(piece) > 1 {
		at := rng.IntN(len(piece))
		return string(piece[:at]) + "*" + string(piece[at+1:])
	}
	return string(piece)
}

// searchAll returns the ids of every match of req, page after page.
func searchAll(t *testing.T, db *store.DB, req tokenward.SearchRequest) []string {
	t.Helper()
	var ids []string
	for {
		page, err := db.SearchTokens(context.Background(), req)
		if err != nil {
			t.Fatalf("SearchTokens: %v", err)
		}
		for _, tok := range page.Items {
			ids = append(ids, tok.ID)
		}
		if len(page.Items) < req.Limit {
			return ids
		}
		req.Offset += req.Limit
	}
}

// likeIDs evaluates c the plain way, LOWER(column) LIKE over every live token, and returns
// the matching ids in the search's order (id ascending, in the column's collation).
func likeIDs(t *testing.T, direct *sql.DB, c tokenward.SearchCondition) []string {
	t.Helper()
	columns := map[string][]string{"freetext": {"name", "account_identifier", "id", "hint"}, "name": {"name"}, "account": {"account_identifier"}, "id": {"id"}}[c.Key]
	var ors []string
	var args []any
	for _, v := range c.Values {
		pattern := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(v))
		switch c.MatchingMethod {
		case tokenward.MatchStartsWith:
			pattern += "%"
		case tokenward.MatchTagPath:
			pattern = strings.ReplaceAll(pattern, "*", "%")
		case tokenward.MatchContains:
			pattern = "%" + pattern + "%"
		}
		for _, col := range columns {
			args = append(args, v)
			if c.MatchingMethod == tokenward.MatchExact {
				ors = append(ors, fmt.Sprintf("%s = $%d", col, len(args)))
				continue
			}
			args[len(args)-1] = pattern
			ors = append(ors, fmt.Sprintf(`LOWER(%s) LIKE $%d ESCAPE '\'`, col, len(args)))
		}
	}
	cond := "(" + strings.Join(ors, " OR ") + ")"
	if c.Negated {
		cond = "NOT " + cond
	}
	rows, err := direct.Query(`SELECT id FROM tokens WHERE revoked_at IS NULL AND `+cond+` ORDER BY id`, args...)
	if err != nil {
		t.Fatalf("LIKE query: %v", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// openDirect opens a plain connection to the test database at dsn, outside the store.
func openDirect(t *testing.T, engine store.Engine, dsn string) *sql.DB {
	t.Helper()
	driver := "pgx"
	if engine == store.SQLite {
		driver, dsn = "sqlite", "file:"+dsn+"?mode=ro&_pragma=busy_timeout(5000)"
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
