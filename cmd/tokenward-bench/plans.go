package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
)

// explain returns the plans of the queries SearchTokens runs for req, as the store reports
// them (EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite), each with
// its time alone on the direct connection, to split a slow request between its count and
// its page.
func explain(ctx context.Context, db *store.DB, direct *sql.DB, req tokenward.SearchRequest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    request: %s\n", describeRequest(req))
	if err := req.Normalize(tokenward.TokenSearch); err != nil {
		return b.String() + "    (invalid request: " + err.Error() + ")\n"
	}
	plans, err := db.ExplainSearchTokens(ctx, req, true)
	if err != nil {
		return b.String() + "    (no plan: " + err.Error() + ")\n"
	}
	for _, p := range plans {
		fmt.Fprintf(&b, "    %s query: %s\n      args: %v\n", p.Label, oneLine(p.SQL), p.Args)
		for _, line := range strings.Split(strings.TrimRight(p.Plan, "\n"), "\n") {
			b.WriteString("      " + line + "\n")
		}
		if d, err := timeQuery(ctx, direct, p.SQL, p.Args); err == nil {
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
