package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/tokenward/tokenward"
)

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
