package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
)

// QueryPlan is one query a search runs, with the engine's plan of it: for the benchmark,
// which shows the plans of slow requests, and for the tests that no request reads every
// token.
type QueryPlan struct {
	Label string // what the query is for: "count", "estimate" or "page"
	SQL   string
	Args  []any
	Plan  string // one line per plan node, indented by depth
	// FullScan says the plan reads the tokens table from end to end, not through an index;
	// a count's scan that stopped at its limit, having found that many matches, is not one.
	FullScan bool
}

// ExplainSearchTokens returns the plans of the queries SearchTokens runs for req
// (normalized against tokenward.TokenSearch): it runs the count, as SearchTokens does,
// since the count picks the page's plan. With analyze, PostgreSQL's plans come from
// EXPLAIN (ANALYZE, BUFFERS) and so run the queries; SQLite's are EXPLAIN QUERY PLAN
// either way. Errors are the database's, wrapped.
func (db *DB) ExplainSearchTokens(ctx context.Context, req tokenward.SearchRequest, analyze bool) ([]QueryPlan, error) {
	planned, err := db.tokenSearchQueries(ctx, req)
	if err != nil {
		return nil, err
	}
	plans := make([]QueryPlan, len(planned))
	for i, q := range planned {
		p := &plans[i]
		p.Label, p.SQL, p.Args = q.label, q.sql, q.args
		err = db.explainPlan(ctx, p, analyze)
		if strings.HasPrefix(p.Label, "count") && q.n >= max(q.s.cap, smallMatchSet) {
			// The scan stopped at the count's limit: it read about limit / (share of
			// tokens matching) rows, not every token, as a walk of the sort index would.
			p.FullScan = false
		}
		if err != nil {
			return nil, fmt.Errorf("explain the %s query: %w", p.Label, err)
		}
	}
	return plans, nil
}

// plannedQuery is one query of a token search, with the search it belongs to and that
// search's count of matches.
type plannedQuery struct {
	label, sql string
	args       []any
	s          *tokenSearch
	n          int
}

// tokenSearchQueries returns the queries SearchTokens runs for req, running the counts
// (which pick the pages' plans): a count and a page, or with a cursor a count of each
// keyset range and a count and a page of each range the page reads.
func (db *DB) tokenSearchQueries(ctx context.Context, req tokenward.SearchRequest) ([]plannedQuery, error) {
	maxSeq, sampled, err := db.sampleExtent(ctx)
	if err != nil {
		return nil, err
	}
	counted := func(label string, s *tokenSearch, n int) []plannedQuery {
		countSQL, countArgs := s.count()
		if s.walkRows > 0 {
			countSQL, countArgs = s.walkCount()
		}
		out := []plannedQuery{{label: "count" + label, sql: countSQL, args: countArgs, s: s, n: n}}
		if label == "" && n >= s.cap && sampled {
			// The estimate of "about N" (a cursor's page estimates the search without its
			// position: planTokenSearch, as SearchTokens does).
			estimateSQL, estimateArgs := s.estimate(maxSeq, s.textPieces())
			out = append(out, plannedQuery{label: "estimate", sql: estimateSQL, args: estimateArgs, s: s, n: n})
		}
		if n > 0 {
			pageSQL, pageArgs := s.page(n)
			out = append(out, plannedQuery{label: "page" + label, sql: pageSQL, args: pageArgs, s: s, n: n})
		}
		return out
	}
	if req.Cursor == "" && req.Offset > 0 {
		if past, err := db.pagePast(ctx, req); err != nil {
			return nil, err
		} else if past != nil {
			return db.pastQueries(ctx, req, past, counted("", past.s, past.n))
		}
	}
	if req.Cursor == "" {
		s, n, err := db.countTokenSearch(ctx, req)
		if err != nil {
			return nil, err
		}
		return counted("", s, n), nil
	}
	c, err := decodeTokenCursor(req.Cursor, *req.Sort)
	if err != nil {
		return nil, err
	}
	expr, nullable := tokenSorts[c.Field], tokenNullableSorts[c.Field]
	req.Offset = 0
	req.Sort = &tokenward.SearchSort{Field: c.Field, Ascending: c.Asc != c.Before}
	var out []plannedQuery
	for i, r := range keysetRanges(expr, nullable, req.Sort.Ascending, c.Key, c.Seq, false) {
		s, n, err := db.countTokenRange(ctx, req, r, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, counted(fmt.Sprintf(" of range %d", i+1), s, n)...)
	}
	return out, nil
}

// pastQueries are the queries of searchTokensPast: those of the first count and the page
// (counted), then the counts from the page on (countFrom); the estimate only when they
// reached their cap.
func (db *DB) pastQueries(ctx context.Context, req tokenward.SearchRequest, past *pastPage, counted []plannedQuery) ([]plannedQuery, error) {
	var out, estimate []plannedQuery
	for _, q := range counted {
		if q.label == "estimate" {
			estimate = append(estimate, q)
		} else {
			out = append(out, q)
		}
	}
	c := past.from
	req.Offset = 0
	total := 0
	for i, r := range keysetRanges(tokenSorts[c.Field], tokenNullableSorts[c.Field], c.Asc, c.Key, c.Seq, true) {
		s, n, err := db.countTokenRange(ctx, req, r, req.Limit+countBeyondPage-total)
		if err != nil {
			return nil, err
		}
		countSQL, countArgs := s.count()
		out = append(out, plannedQuery{label: fmt.Sprintf("count from the page, range %d", i+1), sql: countSQL, args: countArgs, s: s, n: n})
		if total += min(n, s.cap); total >= req.Limit+countBeyondPage {
			return append(out, estimate...), nil
		}
	}
	return out, nil
}

// ExplainLifecycleSweep returns the plans of the lookups the lifecycle sweep runs at now:
// the expiry notices due, and the tokens of each kind idle since before idleSince. They
// run on every instance each minute, so the test that no plan reads every token covers
// them too. Errors are the database's, wrapped.
func (db *DB) ExplainLifecycleSweep(ctx context.Context, now, idleSince time.Time) ([]QueryPlan, error) {
	plans := []QueryPlan{{Label: "due expiry notices", SQL: db.dueExpiries(), Args: []any{millis(now)}}}
	for _, kind := range []tokenward.AccountKind{tokenward.UserAccount, tokenward.ServiceAccount} {
		plans = append(plans, QueryPlan{Label: "idle " + string(kind) + " tokens",
			SQL:  `SELECT seq FROM tokens WHERE ` + db.idleCondition() + db.batchLock(),
			Args: []any{string(kind), millis(idleSince), millis(now)}})
	}
	for i := range plans {
		p := &plans[i]
		err := db.explainPlan(ctx, p, false)
		if err != nil {
			return nil, fmt.Errorf("explain the %s query: %w", p.Label, err)
		}
	}
	return plans, nil
}

// sqliteTableScan matches SQLite's plan line for reading a table in rowid order ("SCAN t"),
// not a walk of one of its indexes ("SCAN t USING INDEX ...").
var sqliteTableScan = regexp.MustCompile(`(?m)^\s*SCAN (t|tokens)\s*$`)

// sqliteSubqueryT matches the plan line of a derived table named t (the estimate's sample
// windows), whose "SCAN t" reads the subquery's rows, not the tokens table.
var sqliteSubqueryT = regexp.MustCompile(`(?m)^\s*(CO-ROUTINE|MATERIALIZE) t\s*$`)

// sqliteFullScan says whether a SQLite plan reads the tokens table in rowid order.
func sqliteFullScan(plan string) bool {
	for _, m := range sqliteTableScan.FindAllStringSubmatch(plan, -1) {
		if m[1] == "tokens" || !sqliteSubqueryT.MatchString(plan) {
			return true
		}
	}
	return false
}

func (db *DB) postgresPlan(ctx context.Context, query string, args []any, analyze bool) (string, error) {
	explain := "EXPLAIN "
	if analyze {
		explain = "EXPLAIN (ANALYZE, BUFFERS) "
	}
	rows, err := db.read.QueryContext(ctx, explain+query, args...)
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
		b.WriteString(line + "\n")
	}
	return b.String(), rows.Err()
}

func (db *DB) sqlitePlan(ctx context.Context, query string, args []any) (string, error) {
	rows, err := db.read.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
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
		b.WriteString(strings.Repeat("  ", d) + detail + "\n")
	}
	return b.String(), rows.Err()
}

// explainPlan fills in p's plan on this engine (with analyze, PostgreSQL runs the query
// too) and whether it reads the whole tokens table.
func (db *DB) explainPlan(ctx context.Context, p *QueryPlan, analyze bool) (err error) {
	if db.engine == Postgres {
		p.Plan, err = db.postgresPlan(ctx, p.SQL, p.Args, analyze)
		p.FullScan = strings.Contains(p.Plan, "Seq Scan on tokens")
	} else {
		p.Plan, err = db.sqlitePlan(ctx, p.SQL, p.Args)
		p.FullScan = sqliteFullScan(p.Plan)
	}
	return err
}
