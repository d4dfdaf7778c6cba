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
	Label string // what the query is for: "count" or "page"
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
	s, n, err := db.countTokenSearch(ctx, req)
	if err != nil {
		return nil, err
	}
	countSQL, countArgs := s.count()
	pageSQL, pageArgs := s.page(n)
	plans := []QueryPlan{{Label: "count", SQL: countSQL, Args: countArgs}, {Label: "page", SQL: pageSQL, Args: pageArgs}}
	for i := range plans {
		p := &plans[i]
		if db.engine == Postgres {
			p.Plan, err = db.postgresPlan(ctx, p.SQL, p.Args, analyze)
			p.FullScan = strings.Contains(p.Plan, "Seq Scan on tokens")
		} else {
			p.Plan, err = db.sqlitePlan(ctx, p.SQL, p.Args)
			p.FullScan = sqliteTableScan.MatchString(p.Plan)
		}
		if p.Label == "count" && n >= max(s.cap, smallMatchSet) {
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
		var err error
		if db.engine == Postgres {
			p.Plan, err = db.postgresPlan(ctx, p.SQL, p.Args, false)
			p.FullScan = strings.Contains(p.Plan, "Seq Scan on tokens")
		} else {
			p.Plan, err = db.sqlitePlan(ctx, p.SQL, p.Args)
			p.FullScan = sqliteTableScan.MatchString(p.Plan)
		}
		if err != nil {
			return nil, fmt.Errorf("explain the %s query: %w", p.Label, err)
		}
	}
	return plans, nil
}

// sqliteTableScan matches SQLite's plan line for reading a table in rowid order ("SCAN t"),
// not a walk of one of its indexes ("SCAN t USING INDEX ...").
var sqliteTableScan = regexp.MustCompile(`(?m)^\s*SCAN (t|tokens)\s*$`)

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
