package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tokenward/tokenward"
)

// accountTypeExpr is a token's account type in the API's words, from the token's copies
// of its account's kind and active state (migration 0019): no join to accounts.
const accountTypeExpr = `(CASE WHEN t.account_kind = 'user' THEN 'USER_ACCOUNT'
	WHEN t.account_active THEN 'SERVICE_ACCOUNT' ELSE 'INACTIVE_SERVICE_ACCOUNT' END)`

// tokenFields maps the token search keys to SQL over "tokens t JOIN accounts a".
var tokenFields = map[string]field{
	"id":            {expr: "t.id", trigram: true},
	"name":          {expr: "t.name", trigram: true},
	"account":       {expr: "t.account_identifier", trigram: true},
	"accountType":   {expr: accountTypeExpr, exact: accountTypeExact},
	"dateGenerated": {expr: "t.created_at"},
	"lastUsed":      {expr: "t.last_used_at"},
	"lastActivity":  {expr: "COALESCE(t.last_used_at, t.created_at)", atLeast: "t.created_at"},
	"expiresAt":     {expr: expiresSort, never: neverExpires},
	"freetext":      {freetext: []string{"t.name", "t.account_identifier", "t.id", "t.hint"}, trigram: true},
	"clientAddress": {}, // a range of addresses of token_clients (clientAddressMatch)
}

// accountTypeExact turns an account type into equalities on the token's copies of its
// account's kind and active state, the leading columns of tokens_live_type_created and
// tokens_live_type_used (migration 0019), so that the filter is one range of either.
func accountTypeExact(value string) (string, bool) {
	switch value {
	case string(tokenward.TypeUser):
		return "(t.account_kind = 'user')", true
	case string(tokenward.TypeServiceAccount):
		return "(t.account_kind = 'service' AND t.account_active = TRUE)", true
	case string(tokenward.TypeInactiveServiceAccount):
		return "(t.account_kind = 'service' AND t.account_active = FALSE)", true
	}
	return "", false
}

// neverExpires is the expiry a token that never expires sorts and filters at: the latest
// instant. expiresSort folds it in, so that one index (tokens_live_expires, migration 0015)
// serves the Expires column's sort in both directions and the expiresAt ranges.
const (
	neverExpires = "9223372036854775807"
	expiresSort  = "COALESCE(t.expires_at, " + neverExpires + ")"
)

// tokenNullableSorts are the token sort fields that may be missing (never used).
var tokenNullableSorts = map[string]bool{"lastUsed": true}

var tokenSorts = map[string]string{
	"id": "t.id", "name": "t.name", "account": "t.account_identifier", "accountType": accountTypeExpr,
	"dateGenerated": "t.created_at", "lastUsed": "t.last_used_at", "expiresAt": expiresSort,
}

// countBeyondPage bounds the work of counting matches: totalItems is exact up to this many
// matches past the end of the page, and a lower bound beyond (moreItems stays exact). The
// count reads at most this many matches more than the page did, whatever the filter.
const countBeyondPage = 1_000

// smallMatchSet splits searches in two plans, by the number of their matches, which the
// count measures first. Fewer matches are all read through the index of the most selective
// condition (a range, an account, the trigram index) and sorted: at most this many rows.
// More are found by walking the sort order's index and filtering as it goes, which stops
// after the page: about (offset+limit) × live tokens / matches rows, at most 1 in 80 of
// the live tokens for a first page.
const smallMatchSet = 2_000

// SearchTokens returns a page of live tokens matching a request normalized against
// tokenward.TokenSearch. It counts the matches first, up to countBeyondPage past the page
// (and at least smallMatchSet), through the index that narrows them most; that count picks
// the plan of the page (see smallMatchSet). Total is exact when the matches end within
// countBeyondPage of the page, a lower bound otherwise. A request with a cursor continues
// from the position it names (searchTokensFrom); every page answers the cursors of the
// pages after and before it.
func (db *DB) SearchTokens(ctx context.Context, req tokenward.SearchRequest) (tokenward.Page[tokenward.Token], error) {
	if req.Cursor != "" {
		return db.searchTokensFrom(ctx, req)
	}
	page := tokenward.Page[tokenward.Token]{Offset: req.Offset, Limit: req.Limit, Sort: *req.Sort, Items: []tokenward.Token{}}
	if req.Offset > 0 {
		if done, err := db.searchTokensPast(ctx, req, &page); done || err != nil {
			return page, err
		}
	}
	s, n, err := db.countTokenSearch(ctx, req)
	if err != nil {
		return page, err
	}
	page.Total = min(n, s.cap)
	if n >= s.cap {
		if page.Estimate, err = db.estimateMatches(ctx, s); err != nil {
			return page, err
		} else if page.Estimate <= page.Total {
			page.Estimate = 0 // no better than the count
		}
	}
	if req.Offset >= n {
		return page, nil // past the last match: no page query needed
	}
	rows, err := db.tokenRows(ctx, s, n)
	if err != nil {
		return page, err
	}
	setCursors(&page, rows)
	return page, nil
}

// searchTokensPast answers a search for a page past the first by offset, when its
// matches are many, without counting from the first match: the count reads at most
// smallMatchSet matches, the page walks the sort order's index past the offset, and the
// page and what follows it are counted from its first row on, as after a cursor
// (countFrom). Page 400 counted 11,000 matches before: 3.2 of a 4.4 ms request on SQLite
// at a million tokens, 5.7 of 7.2 on PostgreSQL. The total is the same, exact up to
// countBeyondPage past the page. It reports false, having answered nothing, when the
// matches are fewer than smallMatchSet or end before the page: SearchTokens then counts
// them all, which is then cheap or needed for an exact total.
func (db *DB) searchTokensPast(ctx context.Context, req tokenward.SearchRequest, page *tokenward.Page[tokenward.Token]) (bool, error) {
	past, err := db.pagePast(ctx, req)
	if err != nil || past == nil {
		return false, err
	}
	if page.Total, page.Estimate, err = db.countFrom(ctx, req, past.from); err != nil {
		return false, err
	}
	setCursors(page, past.rows)
	return true, nil
}

// pastPage is a full page past the first of a search with many matches, read by
// pagePast.
type pastPage struct {
	s    *tokenSearch // with the page's offset
	n    int          // matches counted, at least smallMatchSet
	rows []tokenRow
	// from is the position the total is counted from: the page's first row, inclusive,
	// as a Previous cursor of the page after it would be.
	from tokenCursor
}

// pagePast counts the matches of req up to smallMatchSet and, when they reach it, reads
// its page; nil when they are fewer or the page is not full.
func (db *DB) pagePast(ctx context.Context, req tokenward.SearchRequest) (*pastPage, error) {
	first := req
	first.Offset = 0
	s, n, err := db.countTokenSearch(ctx, first)
	if err != nil || n < smallMatchSet {
		return nil, err
	}
	s.req = req
	rows, err := db.tokenRows(ctx, s, n)
	if err != nil || len(rows) < req.Limit {
		return nil, err
	}
	from := tokenCursor{Field: req.Sort.Field, Asc: req.Sort.Ascending, Key: rows[0].key, Seq: rows[0].seq, Before: true, Offset: req.Offset}
	return &pastPage{s: s, n: n, rows: rows, from: from}, nil
}

// countFrom counts the matches of req after the position of c (or before it, for a
// Previous cursor), up to countBeyondPage past a page, and returns the total they make
// with c's offset, with an estimate of all matches when the count reached its cap.
func (db *DB) countFrom(ctx context.Context, req tokenward.SearchRequest, c tokenCursor) (total, estimate int, err error) {
	expr, nullable := tokenSorts[c.Field], tokenNullableSorts[c.Field]
	req.Offset = 0
	for _, r := range keysetRanges(expr, nullable, c.Asc, c.Key, c.Seq, c.Before) {
		s, n, err := db.countTokenRange(ctx, req, r, req.Limit+countBeyondPage-total)
		if err != nil {
			return 0, 0, err
		}
		if total += min(n, s.cap); total >= req.Limit+countBeyondPage {
			break
		}
	}
	total += c.Offset
	if total >= c.Offset+req.Limit+countBeyondPage {
		s, err := db.planTokenSearch(req)
		if err != nil {
			return 0, 0, err
		}
		if estimate, err = db.estimateMatches(ctx, s); err != nil {
			return 0, 0, err
		} else if estimate <= total {
			estimate = 0 // no better than the count
		}
	}
	return total, estimate, nil
}

// searchTokensFrom answers a search that continues from a cursor: the page after (or
// before) its position, read as at most two index ranges (keysetRanges) with no OFFSET, so
// page 400 costs what page 1 does. Total is the cursor's offset plus the matches from its
// position on, counted up to countBeyondPage past the page.
func (db *DB) searchTokensFrom(ctx context.Context, req tokenward.SearchRequest) (tokenward.Page[tokenward.Token], error) {
	page := tokenward.Page[tokenward.Token]{Limit: req.Limit, Sort: *req.Sort, Items: []tokenward.Token{}}
	c, err := decodeTokenCursor(req.Cursor, *req.Sort)
	if err != nil {
		return page, err
	}
	if page.Total, page.Estimate, err = db.countFrom(ctx, req, c); err != nil {
		return page, err
	}
	expr, nullable := tokenSorts[c.Field], tokenNullableSorts[c.Field]
	req.Offset = 0
	// Previous walks the order backwards from the position: ASC NULLS FIRST turned
	// around is DESC NULLS LAST, so the same ranges serve both directions.
	walk := req
	walk.Sort = &tokenward.SearchSort{Field: c.Field, Ascending: c.Asc != c.Before}
	var rows []tokenRow
	for _, r := range keysetRanges(expr, nullable, walk.Sort.Ascending, c.Key, c.Seq, false) {
		if walk.Limit = req.Limit - len(rows); walk.Limit == 0 {
			break
		}
		s, n, err := db.countTokenRange(ctx, walk, r, 0)
		if err != nil {
			return page, err
		}
		if n == 0 {
			continue
		}
		more, err := db.tokenRows(ctx, s, n)
		if err != nil {
			return page, err
		}
		rows = append(rows, more...)
	}
	page.Offset = c.Offset
	if c.Before {
		slices.Reverse(rows)
		page.Offset = max(0, c.Offset-len(rows))
	}
	setCursors(&page, rows)
	return page, nil
}

// tokenRow is a token of a page with its position in the search's order.
type tokenRow struct {
	token tokenward.Token
	key   any
	seq   int64
}

// tokenRows runs the page query of s, which counted n matches.
func (db *DB) tokenRows(ctx context.Context, s *tokenSearch, n int) ([]tokenRow, error) {
	pageSQL, pageArgs := s.page(n)
	rows, err := db.read.QueryContext(ctx, pageSQL, pageArgs...)
	if err != nil {
		return nil, fmt.Errorf("search tokens: %w", err)
	}
	defer rows.Close()
	var page []tokenRow
	for rows.Next() {
		var r tokenRow
		t, err := scanToken(scanWith{rows, []any{&r.key, &r.seq}})
		if err != nil {
			return nil, fmt.Errorf("scan token: %w", err)
		}
		r.token, r.key = t, sortKey(r.key)
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search tokens: %w", err)
	}
	tokens := make([]tokenward.Token, len(page))
	for i, r := range page {
		tokens[i] = r.token
	}
	if err := db.attachClients(ctx, tokens); err != nil {
		return nil, err
	}
	for i := range page {
		page[i].token = tokens[i]
	}
	return page, nil
}

// scanWith scans a row into a token's columns and then into extra.
type scanWith struct {
	rows  *sql.Rows
	extra []any
}

func (s scanWith) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.extra...)...) }

// setCursors fills the page with rows and the cursors of the pages after its last row
// (when matches remain) and before its first (when it is not the first page).
func setCursors(page *tokenward.Page[tokenward.Token], rows []tokenRow) {
	for _, r := range rows {
		page.Items = append(page.Items, r.token)
	}
	if len(rows) == 0 {
		return
	}
	at := func(r tokenRow, before bool, offset int) string {
		return tokenCursor{Field: page.Sort.Field, Asc: page.Sort.Ascending, Key: r.key, Seq: r.seq, Before: before, Offset: offset}.encode()
	}
	if page.More() {
		page.Next = at(rows[len(rows)-1], false, page.Offset+len(rows))
	}
	if page.Offset > 0 {
		page.Previous = at(rows[0], true, page.Offset)
	}
}

// tokenSearch is a token search request turned into SQL, before the count picks the page
// query's plan.
type tokenSearch struct {
	engine Engine
	req    tokenward.SearchRequest
	q      query
	// join is the accounts join the conditions or the sort need ("" when neither reads a).
	join string
	// cap is what the count reports at most: countBeyondPage past the page.
	cap int
	// matches are the seqs of every match when the count found fewer than smallMatchSet:
	// the page reads them by primary key instead of looking them up again.
	matches []int64
	// walkRows is the walk's bound when the count walked the live tokens (walkCount)
	// and reached its cap; 0 when it counted through the index.
	walkRows int
	// estimated is estimateMatches' answer once it ran, and extent the largest seq it
	// sampled.
	estimated *int
	extent    int64
	// lookup replaces q.runs in the PostgreSQL trigram lookup once the estimate has
	// sampled the pieces of its runs (lookupRuns); nil before, or with no pieces.
	lookup [][][]string
}

func (db *DB) planTokenSearch(req tokenward.SearchRequest) (*tokenSearch, error) {
	s := &tokenSearch{engine: db.engine, req: req, cap: req.Offset + req.Limit + countBeyondPage}
	s.q.and("t.revoked_at IS NULL")
	if err := s.q.addConditions(req.Query, tokenward.TokenSearch, tokenFields); err != nil {
		return nil, err
	}
	if s.q.account {
		s.join = " JOIN accounts a ON a.id = t.account_id"
	}
	return s, nil
}

// candidates is a query of at most limit matching tokens, in order (an ORDER BY clause,
// or "" for none), with columns (the seq, or more), reading them through the index that
// narrows them most. A condition
// the trigram index can narrow looks it up first: on SQLite tokens_text, which the CROSS
// JOIN makes the outer loop; on PostgreSQL the one index on all the text (tokenText).
func (s *tokenSearch) candidates(columns, join, order string, limit int) (string, []any) {
	args := slices.Clone(s.q.args)
	from, where := " FROM tokens t"+join+" WHERE ", s.q.whereClause()
	if len(s.q.runs) > 0 && s.engine == SQLite {
		var ands []string
		for _, runs := range s.q.runs {
			ands = append(ands, ftsMatch(runs))
		}
		args = append(args, strings.Join(ands, " AND "))
		from = fmt.Sprintf(" FROM tokens_text CROSS JOIN tokens t ON t.seq = tokens_text.rowid%s WHERE tokens_text MATCH $%d AND ", join, len(args))
	} else if len(s.q.runs) > 0 {
		narrow, lookup := query{args: args}, s.q.runs
		if s.lookup != nil {
			lookup = s.lookup
		}
		for _, runs := range lookup {
			narrow.and(narrow.textContains(runs))
		}
		where, args = narrow.whereClause()+" AND "+where, narrow.args
	}
	if order != "" {
		order = " " + order
	}
	return "SELECT " + columns + from + where + order + fmt.Sprintf(" LIMIT %d", limit), args
}

// sortIndexes are the SQLite indexes that walk each sort order (migrations 0004, 0015).
var sortIndexes = map[string]string{
	"dateGenerated": "tokens_live_created", "lastUsed": "tokens_live_used", "name": "tokens_live_name",
	"account": "tokens_live_account", "id": "tokens_live_id", "expiresAt": "tokens_live_expires",
}

// page is the page query for a search with n matches (as count reported them).
func (s *tokenSearch) page(n int) (string, []any) {
	limit := fmt.Sprintf(" LIMIT %d OFFSET %d", s.req.Limit, s.req.Offset)
	order := orderBy(*s.req.Sort, tokenSorts, tokenNullableSorts, "t.seq")
	if n < smallMatchSet {
		// Every match the count found, read whole by primary key, then sorted: the sort
		// index is no use to a few scattered rows. A token revoked since the count is
		// left out. The seqs came from the database as integers. Only the page's rows
		// are joined to their accounts (every sort key is the token's own): joining all
		// 614 matches of "4242" at a million tokens, PostgreSQL hashed the 50,000
		// accounts, 20 of a 23 ms page.
		seqs := make([]string, len(s.matches))
		for i, seq := range s.matches {
			seqs[i] = strconv.FormatInt(seq, 10)
		}
		return `SELECT ` + tokenColumns + `, ` + tokenSorts[s.req.Sort.Field] + `, t.seq FROM (SELECT * FROM tokens t
		WHERE t.seq IN (` + strings.Join(seqs, ", ") + `) AND t.revoked_at IS NULL ` + order + limit + `) t JOIN accounts a ON a.id = t.account_id ` + order, nil
	}
	// Many matches: walk the sort order's index, filter as it goes and skip the offset on
	// seq alone; only the page's rows are then read whole and joined. SQLite is told the
	// index: its planner, which cannot tell how many rows a range keeps, would rather read
	// a range filter's matches and sort them.
	walk := ""
	if idx, ok := sortIndexes[s.req.Sort.Field]; ok && s.engine == SQLite {
		walk = " INDEXED BY " + idx
	}
	return `SELECT ` + tokenColumns + `, ` + tokenSorts[s.req.Sort.Field] + `, t.seq FROM tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.seq IN (SELECT t.seq FROM tokens t` + walk + s.join + ` WHERE ` + s.q.whereClause() + ` ` + order + limit + `) ` + order, slices.Clone(s.q.args)
}
