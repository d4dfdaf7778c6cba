package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
)

// The store's SQL builder is internal to it, so this file reproduces the SQL it sends for
// the requests above (internal/store/tokensearch.go SearchTokens and search.go), to show
// the plans of the slow ones. checkReproduction compares its answer with SearchTokens's
// and flags any drift.

const tokenColumns = `t.id, t.name, t.hint, t.account_id, a.identifier, a.kind, a.active,
	t.created_at, t.last_used_at, t.revoked_at`

const accountTypeExpr = `(CASE WHEN t.account_kind = 'user' THEN 'USER_ACCOUNT'
	WHEN a.active THEN 'SERVICE_ACCOUNT' ELSE 'INACTIVE_SERVICE_ACCOUNT' END)`

var fieldExprs = map[string]string{
	"id": "t.id", "name": "t.name", "account": "t.account_identifier", "accountType": accountTypeExpr,
	"dateGenerated": "t.created_at", "lastUsed": "t.last_used_at", "lastActivity": "COALESCE(t.last_used_at, t.created_at)",
}

var sortExprs = map[string]string{
	"id": "t.id", "name": "t.name", "account": "t.account_identifier", "accountType": accountTypeExpr,
	"dateGenerated": "t.created_at", "lastUsed": "t.last_used_at",
}

var freetextExprs = []string{"t.name", "t.account_identifier", "t.id", "t.hint"}

// countBeyondPage is the store's cap on counting past the page (internal/store
// tokensearch.go); checkReproduction notices when the two differ, by the page's Total.
const countBeyondPage = 1_000

// exactExprs are the keys whose EXACT match the store rewrites into conditions its indexes
// serve better than comparing the field's expression (the field's exact function).
var exactExprs = map[string]map[string]string{
	"accountType": {
		string(tokenward.TypeUser):                   "(t.account_kind = 'user')",
		string(tokenward.TypeServiceAccount):         "(t.account_kind = 'service' AND a.active)",
		string(tokenward.TypeInactiveServiceAccount): "(t.account_kind = 'service' AND NOT a.active)",
	},
}

// allExact reports whether the store rewrites every value of an EXACT condition on key.
func allExact(key string, values []string) bool {
	m := exactExprs[key]
	for _, v := range values {
		if _, ok := m[v]; !ok {
			return false
		}
	}
	return m != nil
}

// reproduce returns the page query and the count query SearchTokens runs for req, their
// arguments, and the FROM ... WHERE clause they share.
func reproduce(req tokenward.SearchRequest) (pageSQL, countSQL string, args []any, from string, err error) {
	if err := req.Normalize(tokenward.TokenSearch); err != nil {
		return "", "", nil, "", err
	}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	text := func(expr string, c tokenward.SearchCondition) string {
		var ors []string
		for _, v := range c.Values {
			if c.MatchingMethod == tokenward.MatchExact {
				ors = append(ors, "COALESCE("+expr+", '') = "+arg(v))
				continue
			}
			pattern := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(v))
			switch c.MatchingMethod {
			case tokenward.MatchStartsWith:
				pattern += "%"
			case tokenward.MatchTagPath:
				pattern = strings.ReplaceAll(pattern, "*", "%")
			default:
				pattern = "%" + pattern + "%"
			}
			ors = append(ors, "LOWER(COALESCE("+expr+", '')) LIKE "+arg(pattern)+` ESCAPE '\'`)
		}
		return "(" + strings.Join(ors, " OR ") + ")"
	}
	where := []string{"t.revoked_at IS NULL"}
	for _, c := range req.Query {
		var cond string
		switch {
		case c.Key == "freetext":
			var ors []string
			for _, expr := range freetextExprs {
				ors = append(ors, text(expr, c))
			}
			cond = "(" + strings.Join(ors, " OR ") + ")"
		case c.MatchingMethod == tokenward.MatchExact && allExact(c.Key, c.Values):
			var ors []string
			for _, v := range c.Values {
				ors = append(ors, exactExprs[c.Key][v])
			}
			cond = "(" + strings.Join(ors, " OR ") + ")"
		case tokenward.TokenSearch.Keys[c.Key] == tokenward.TimeField:
			expr := fieldExprs[c.Key]
			var parts []string
			if c.Start != nil {
				parts = append(parts, expr+" >= "+arg(*c.Start))
			}
			if c.End != nil {
				parts = append(parts, expr+" <= "+arg(*c.End))
			}
			if len(parts) == 0 {
				parts = append(parts, expr+" IS NULL")
			}
			cond = "(" + strings.Join(parts, " AND ") + ")"
		default:
			cond = text(fieldExprs[c.Key], c)
		}
		if c.Negated {
			cond = "NOT " + cond
		}
		where = append(where, cond)
	}
	from = ` FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE ` + strings.Join(where, " AND ")
	order := "ORDER BY " + sortExprs[req.Sort.Field] + " DESC NULLS LAST, t.seq DESC"
	if req.Sort.Ascending {
		order = "ORDER BY " + sortExprs[req.Sort.Field] + " ASC NULLS FIRST, t.seq ASC"
	}
	pageSQL = `SELECT ` + tokenColumns + from + ` ` + order + fmt.Sprintf(" LIMIT %d OFFSET %d", req.Limit, req.Offset)
	countSQL = `SELECT count(*) FROM (SELECT 1` + from + fmt.Sprintf(" LIMIT %d) m", req.Offset+req.Limit+countBeyondPage)
	return pageSQL, countSQL, args, from, nil
}

// matches counts every token req matches, uncapped, to tell an exact Total from a lower
// bound.
func matches(ctx context.Context, db *sql.DB, req tokenward.SearchRequest) (int, error) {
	_, _, args, from, err := reproduce(req)
	if err != nil {
		return 0, err
	}
	var n int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1`+from+`) m`, args...).Scan(&n)
	return n, err
}

// countRuns reports whether SearchTokens ran its count query for a page.
func countRuns(page tokenward.Page[tokenward.Token]) bool {
	return !(len(page.Items) < page.Limit && (len(page.Items) > 0 || page.Offset == 0))
}

// checkReproduction runs the reproduced queries and reports how their answers differ from
// the page SearchTokens returned (its ids, and its Total when it ran the count query), or
// "" when they agree.
func checkReproduction(ctx context.Context, db *sql.DB, req tokenward.SearchRequest, page tokenward.Page[tokenward.Token]) string {
	pageSQL, countSQL, args, _, err := reproduce(req)
	if err != nil {
		return err.Error()
	}
	rows, err := db.QueryContext(ctx, pageSQL, args...)
	if err != nil {
		return "reproduced SQL failed: " + err.Error()
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id string
		dest := make([]any, 10)
		dest[0] = &id
		for i := 1; i < len(dest); i++ {
			dest[i] = new(any)
		}
		if err := rows.Scan(dest...); err != nil {
			return "reproduced SQL failed: " + err.Error()
		}
		got = append(got, id)
	}
	if err := rows.Err(); err != nil {
		return "reproduced SQL failed: " + err.Error()
	}
	var want []string
	for _, t := range page.Items {
		want = append(want, t.ID)
	}
	if !slices.Equal(got, want) {
		return fmt.Sprintf("reproduced SQL returned %d rows that differ from SearchTokens's %d: the plan shown may not be the store's", len(got), len(want))
	}
	if countRuns(page) {
		var total int
		if err := db.QueryRowContext(ctx, countSQL, args...).Scan(&total); err != nil {
			return "reproduced count failed: " + err.Error()
		}
		if total != page.Total {
			return fmt.Sprintf("reproduced count gives %d, SearchTokens's Total is %d (has the store's count cap changed?): the plan shown may not be the store's", total, page.Total)
		}
	}
	return ""
}

// explain returns the plans of the queries SearchTokens ran for req: EXPLAIN (ANALYZE,
// BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite.
func explain(ctx context.Context, db *sql.DB, engine store.Engine, req tokenward.SearchRequest, page tokenward.Page[tokenward.Token]) string {
	pageSQL, countSQL, args, _, err := reproduce(req)
	if err != nil {
		return "cannot reproduce the SQL: " + err.Error()
	}
	var b strings.Builder
	shown := append([]any{}, args...)
	fmt.Fprintf(&b, "    request: %s\n", describeRequest(req))
	queries := []struct{ label, sql string }{{"page query", pageSQL}}
	if countRuns(page) {
		queries = append(queries, struct{ label, sql string }{"count query (runs because the page is full)", countSQL})
	}
	for _, q := range queries {
		fmt.Fprintf(&b, "    %s: %s\n      args: %v\n", q.label, oneLine(q.sql), shown)
		var plan string
		if engine == store.Postgres {
			plan, err = pgPlan(ctx, db, q.sql, args)
		} else {
			plan, err = sqlitePlan(ctx, db, q.sql, args)
		}
		if err != nil {
			fmt.Fprintf(&b, "      (no plan: %v)\n", err)
			continue
		}
		b.WriteString(plan)
		if d, err := timeQuery(ctx, db, q.sql, args); err == nil {
			fmt.Fprintf(&b, "      -> this query alone: %s ms (median of 3 runs on a plain connection)\n", fmtMs(d))
		}
	}
	return b.String()
}

// timeQuery runs a query three times, reading every row, and returns the median time, so
// that a slow request's cost can be split between its page query and its count query.
func timeQuery(ctx context.Context, db *sql.DB, query string, args []any) (time.Duration, error) {
	var times []time.Duration
	for range 3 {
		start := time.Now()
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		cols, _ := rows.Columns()
		dest := make([]any, len(cols))
		for i := range dest {
			dest[i] = new(any)
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return 0, err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return 0, err
		}
		times = append(times, time.Since(start))
	}
	return percentile(times, 0.5), nil
}

func pgPlan(ctx context.Context, db *sql.DB, query string, args []any) (string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		b.WriteString("      " + line + "\n")
	}
	return b.String(), rows.Err()
}

func sqlitePlan(ctx context.Context, db *sql.DB, query string, args []any) (string, error) {
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	depth := map[int64]int{}
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int64
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		d := 0
		if pd, ok := depth[parent]; ok {
			d = pd + 1
		}
		depth[id] = d
		b.WriteString("      " + strings.Repeat("  ", d) + detail + "\n")
	}
	return b.String(), rows.Err()
}

// describeRequest renders a search request briefly, as the API's JSON would say it.
func describeRequest(req tokenward.SearchRequest) string {
	var conds []string
	for _, c := range req.Query {
		s := c.Key
		switch {
		case c.Start != nil || c.End != nil:
			if c.Start != nil {
				s += fmt.Sprintf(" start=%d", *c.Start)
			}
			if c.End != nil {
				s += fmt.Sprintf(" end=%d", *c.End)
			}
		case len(c.Values) > 0:
			s += fmt.Sprintf(" %s %q", strings.ToLower(string(c.MatchingMethod)), c.Values)
		default:
			s += fmt.Sprintf(" %s %q", strings.ToLower(string(c.MatchingMethod)), c.Value)
		}
		conds = append(conds, s)
	}
	sort := "default (dateGenerated desc)"
	if req.Sort != nil && !req.Sort.Default {
		sort = req.Sort.Field + map[bool]string{true: " asc", false: " desc"}[req.Sort.Ascending]
	}
	return fmt.Sprintf("query [%s], sort %s, limit %d, offset %d", strings.Join(conds, "; "), sort, req.Limit, req.Offset)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
