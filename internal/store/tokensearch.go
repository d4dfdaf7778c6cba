package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/tokenward/tokenward"
)

// accountTypeExpr is a token's account type in the API's words.
const accountTypeExpr = `(CASE WHEN t.account_kind = 'user' THEN 'USER_ACCOUNT'
	WHEN a.active THEN 'SERVICE_ACCOUNT' ELSE 'INACTIVE_SERVICE_ACCOUNT' END)`

// tokenFields maps the token search keys to SQL over "tokens t JOIN accounts a".
var tokenFields = map[string]field{
	"id":            {expr: "t.id"},
	"name":          {expr: "t.name"},
	"account":       {expr: "t.account_identifier"},
	"accountType":   {expr: accountTypeExpr, exact: accountTypeExact},
	"dateGenerated": {expr: "t.created_at"},
	"lastUsed":      {expr: "t.last_used_at"},
	"lastActivity":  {expr: "COALESCE(t.last_used_at, t.created_at)", atLeast: "t.created_at"},
	"freetext":      {freetext: []string{"t.name", "t.account_identifier", "t.id", "t.hint"}},
}

// accountTypeExact turns an account type into conditions on the token's own account kind
// (no join needed to reject user tokens) and the account's active state.
func accountTypeExact(value string) (string, bool) {
	switch value {
	case string(tokenward.TypeUser):
		return "(t.account_kind = 'user')", true
	case string(tokenward.TypeServiceAccount):
		return "(t.account_kind = 'service' AND a.active)", true
	case string(tokenward.TypeInactiveServiceAccount):
		return "(t.account_kind = 'service' AND NOT a.active)", true
	}
	return "", false
}

// tokenNullableSorts are the token sort fields that may be missing (never used).
var tokenNullableSorts = map[string]bool{"lastUsed": true}

var tokenSorts = map[string]string{
	"id": "t.id", "name": "t.name", "account": "t.account_identifier", "accountType": accountTypeExpr,
	"dateGenerated": "t.created_at", "lastUsed": "t.last_used_at",
}

// countBeyondPage bounds the work of counting matches: totalItems is exact up to this many
// matches past the end of the page, and a lower bound beyond (moreItems stays exact). The
// count reads at most this many matches more than the page did, whatever the filter.
const countBeyondPage = 1_000

// SearchTokens returns a page of live tokens matching a request normalized against
// tokenward.TokenSearch. Each filter and sort is served by an index on live tokens, so a
// page costs about its offset plus its length, not the number of tokens. Total is exact
// when the matches end within countBeyondPage of the page, a lower bound otherwise.
func (db *DB) SearchTokens(ctx context.Context, req tokenward.SearchRequest) (tokenward.Page[tokenward.Token], error) {
	var q query
	q.and("t.revoked_at IS NULL")
	if err := q.addConditions(req.Query, tokenward.TokenSearch, tokenFields); err != nil {
		return tokenward.Page[tokenward.Token]{}, err
	}
	from := ` FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE ` + q.whereClause()
	page := tokenward.Page[tokenward.Token]{Offset: req.Offset, Limit: req.Limit, Sort: *req.Sort, Items: []tokenward.Token{}}
	rows, err := db.read.QueryContext(ctx, `SELECT `+tokenColumns+from+` `+orderBy(*req.Sort, tokenSorts, tokenNullableSorts, "t.seq")+
		fmt.Sprintf(" LIMIT %d OFFSET %d", req.Limit, req.Offset), q.args...)
	if err != nil {
		return page, fmt.Errorf("search tokens: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return page, fmt.Errorf("scan token: %w", err)
		}
		page.Items = append(page.Items, t)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("search tokens: %w", err)
	}
	if len(page.Items) < req.Limit && (len(page.Items) > 0 || req.Offset == 0) {
		page.Total = req.Offset + len(page.Items) // the last page: no count needed
		return page, nil
	}
	cap := req.Offset + req.Limit + countBeyondPage
	err = db.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1`+from+fmt.Sprintf(" LIMIT %d) m", cap), q.args...).Scan(&page.Total)
	if err != nil {
		return page, fmt.Errorf("count tokens: %w", err)
	}
	return page, nil
}

// EachLiveTokenOfOrg calls fn for every live token in generation order, for the plain
// listing of the organization's tokens; it streams, so a million tokens are never held.
func (db *DB) EachLiveTokenOfOrg(ctx context.Context, fn func(tokenward.Token) error) error {
	rows, err := db.read.QueryContext(ctx, `SELECT `+tokenColumns+`
		FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.revoked_at IS NULL ORDER BY t.created_at, t.seq`)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return fmt.Errorf("scan token: %w", err)
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	return rows.Err()
}

// TokenFacet returns a page of the distinct values of a token field among the live tokens
// matching req.Query and, when req.FacetQuery is set, matching it too.
func (db *DB) TokenFacet(ctx context.Context, facet string, req tokenward.FacetRequest) (tokenward.Page[string], error) {
	expr := tokenFields[facet].expr
	var q query
	q.and("t.revoked_at IS NULL")
	if err := q.addConditions(req.Query, tokenward.TokenSearch, tokenFields); err != nil {
		return tokenward.Page[string]{}, err
	}
	if req.FacetQuery != "" {
		q.and(q.textMatch(expr, tokenward.SearchCondition{Values: []string{req.FacetQuery}, MatchingMethod: req.FacetQueryMatchingMethod}))
	}
	page := tokenward.Page[string]{Offset: req.Offset, Limit: req.Limit, Items: []string{},
		Sort: tokenward.SearchSort{Field: facet, Ascending: true}}
	rows, err := db.read.QueryContext(ctx, `SELECT DISTINCT `+expr+` AS v FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE `+
		q.whereClause()+fmt.Sprintf(" ORDER BY v LIMIT %d OFFSET %d", req.Limit+1, req.Offset), q.args...)
	if err != nil {
		return page, fmt.Errorf("facet %s: %w", facet, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return page, fmt.Errorf("scan facet: %w", err)
		}
		page.Items = append(page.Items, v.String)
	}
	// One extra row was read to learn whether more values follow.
	page.Total = req.Offset + len(page.Items)
	if len(page.Items) > req.Limit {
		page.Items = page.Items[:req.Limit]
	}
	return page, rows.Err()
}
