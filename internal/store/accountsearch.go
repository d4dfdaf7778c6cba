package store

import (
	"context"
	"fmt"

	"github.com/tokenward/tokenward"
)

// accountFields maps the account search keys to SQL.
var accountFields = map[string]field{
	"id":                  {expr: "a.identifier"},
	"identifier":          {expr: "a.identifier"},
	"roles":               {expr: "ar.role_id", anyOf: "EXISTS (SELECT 1 FROM account_roles ar WHERE ar.account_id = a.id AND %s)"},
	"userGroups":          {expr: "g.id", anyOf: "EXISTS (SELECT 1 FROM user_groups g WHERE ((g.everyone AND a.kind = 'user') OR g.id IN (SELECT gm.group_id FROM group_members gm WHERE gm.account_id = a.id)) AND %s)"},
	"description":         {expr: "a.description"},
	"active":              {expr: "a.active"},
	"groups":              {expr: "ap.permission", anyOf: "EXISTS (SELECT 1 FROM account_permissions ap WHERE ap.account_id = a.id AND %s)"},
	"permission":          {expr: "ap.permission", anyOf: "EXISTS (SELECT 1 FROM account_permissions ap WHERE ap.account_id = a.id AND %s)"},
	"lastUsed":            {expr: "(SELECT MAX(t.last_used_at) FROM tokens t WHERE t.account_id = a.id)"},
	"lastSuccessfulLogin": {expr: "a.last_login_at"},
	"freetext":            {freetext: []string{"a.identifier", "a.description"}},
}

// accountNullableSorts are the account sort fields that may be missing.
var accountNullableSorts = map[string]bool{"lastUsed": true, "lastSuccessfulLogin": true}

var accountSorts = map[string]string{
	"identifier": "a.identifier", "description": "a.description", "active": "a.active",
	"lastUsed":            "(SELECT MAX(t.last_used_at) FROM tokens t WHERE t.account_id = a.id)",
	"lastSuccessfulLogin": "a.last_login_at", "dateCreated": "a.created_at",
}

// SearchAccounts returns a page of live accounts of one kind (or both, when kind is "")
// matching a request normalized against tokenward.AccountSearch.
func (db *DB) SearchAccounts(ctx context.Context, kind tokenward.AccountKind, req tokenward.SearchRequest) (tokenward.Page[tokenward.Account], error) {
	var q query
	q.and("a.deleted_at IS NULL")
	if kind != "" {
		q.and("a.kind = " + q.arg(string(kind)))
	}
	if err := q.addConditions(req.Query, tokenward.AccountSearch, accountFields); err != nil {
		return tokenward.Page[tokenward.Account]{}, err
	}
	page := tokenward.Page[tokenward.Account]{Offset: req.Offset, Limit: req.Limit, Sort: *req.Sort, Items: []tokenward.Account{}}
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM accounts a WHERE `+q.whereClause(), q.args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("count accounts: %w", err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts a WHERE `+q.whereClause()+` `+
		orderBy(*req.Sort, accountSorts, accountNullableSorts, "a.id")+fmt.Sprintf(" LIMIT %d OFFSET %d", req.Limit, req.Offset), q.args...)
	page.Items, err = collect(rows, err, "search accounts", scanAccount)
	return page, err
}
