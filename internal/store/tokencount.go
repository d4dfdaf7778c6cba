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

// The count of a token search: how many tokens match, up to its cap, through the index
// that narrows them most (or, for a common free-text term on PostgreSQL, a walk of the
// live tokens); it picks the page's plan (tokensearch.go).

// countTokenSearch plans a search and runs its count, which picks the page's plan.
func (db *DB) countTokenSearch(ctx context.Context, req tokenward.SearchRequest) (s *tokenSearch, n int, err error) {
	if s, err = db.planTokenSearch(req); err != nil {
		return nil, 0, err
	}
	if db.engine == Postgres && len(s.q.runs) > 0 {
		if n, err = db.walkCount(ctx, s); err != nil || n > 0 {
			return s, n, err
		}
	}
	n, err = db.runCount(ctx, s)
	return s, n, err
}

// walkCountRows bounds the live tokens walkCount reads: twice the walk the estimate
// expects must fit, so the walk serves terms in about 1 in 15 tokens or more.
const walkCountRows = 30_000

// walkCount counts the matches of a free-text search on PostgreSQL by walking the live
// tokens, newest first, and filtering as it goes, when the sample estimate says that the
// count's cap of matches lies within walkCountRows tokens. The trigram index cannot stop
// early: its bitmap holds every match before the count reads one (100,000 entries, 12 to
// 15 ms, for "deploy" at a million tokens), where the walk stops at the cap (about
// 10,000 tokens, 4 to 5 ms). It returns 0 when the estimate is too low or the walk found
// fewer than the cap (the caller then counts through the index, as for a rare term). When
// it reaches the cap it answers as a count that stopped at its limit would, so that the
// page walks the sort order's index too.
func (db *DB) walkCount(ctx context.Context, s *tokenSearch) (int, error) {
	est, err := db.estimateMatches(ctx, s)
	if err != nil || est == 0 {
		return 0, err
	}
	walk := int64(s.cap) * s.extent / int64(est) * 2 // twice the expected walk, for the estimate's error
	if walk > walkCountRows {
		return 0, nil
	}
	s.walkRows = int(max(walk, int64(s.cap)))
	walkSQL, args := s.walkCount()
	var n int
	if err := db.read.QueryRowContext(ctx, walkSQL, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	if n < s.cap {
		s.walkRows = 0
		return 0, nil
	}
	return max(s.cap, smallMatchSet), nil
}

// walkCount is the query of walkCount, reading at most walkRows live tokens.
func (s *tokenSearch) walkCount() (string, []any) {
	return fmt.Sprintf(`SELECT count(*) FROM (SELECT 1 FROM (SELECT * FROM tokens t WHERE t.revoked_at IS NULL ORDER BY t.seq DESC LIMIT %d) t%s WHERE %s LIMIT %d) m`,
		s.walkRows, s.join, s.q.whereClause(), s.cap), slices.Clone(s.q.args)
}

// runCount runs the count of s and keeps the matches it found when they are fewer than
// smallMatchSet, for the page to read by primary key.
func (db *DB) runCount(ctx context.Context, s *tokenSearch) (int, error) {
	countSQL, countArgs := s.count()
	var n int
	var seqs sql.NullString
	if err := db.read.QueryRowContext(ctx, countSQL, countArgs...).Scan(&n, &seqs); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	s.matches = nil
	if n < smallMatchSet && seqs.String != "" {
		for _, f := range strings.Split(seqs.String, ",") {
			seq, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("count tokens: a match's seq %q: %w", f, err)
			}
			s.matches = append(s.matches, seq)
		}
	}
	if n < smallMatchSet && len(s.matches) != n {
		return 0, fmt.Errorf("count tokens: %d matches but %d seqs", n, len(s.matches))
	}
	return n, nil
}

// countTokenRange plans a search restricted to one keyset range and counts its matches,
// up to capped past the page (at least smallMatchSet, as every count).
func (db *DB) countTokenRange(ctx context.Context, req tokenward.SearchRequest, r func(*query), capped int) (*tokenSearch, int, error) {
	s, err := db.planTokenSearch(req)
	if err != nil {
		return nil, 0, err
	}
	r(&s.q)
	s.cap = max(capped, req.Limit)
	n, err := db.runCount(ctx, s)
	return s, n, err
}

// count is the query of the number of matches, up to the larger of cap and smallMatchSet,
// and of their seqs (comma-separated) when they are fewer than smallMatchSet: a term that
// matches a few tokens costs one trigram lookup, not two (on PostgreSQL, 13 ms each for
// "seed-4242@" at 1M tokens).
func (s *tokenSearch) count() (string, []any) {
	sql, args := s.candidates("t.seq", s.join, s.countOrder(), max(s.cap, smallMatchSet))
	list := "group_concat(m.seq)"
	if s.engine == Postgres {
		list = "string_agg(m.seq::text, ',')"
	}
	return fmt.Sprintf("SELECT count(*), CASE WHEN count(*) < %d THEN %s END FROM (%s) m", smallMatchSet, list, sql), args
}

// countOrder is the order a count on PostgreSQL reads its matches in, when one index
// holds them in an order: "" leaves the choice to the planner.
//
// A search with no condition of its own (every token, or a keyset range of the sort
// order) counts in the sort order, whose partial index holds the live tokens and answers
// from the index alone. Unordered, PostgreSQL chose a sequential scan of the table, whose
// pages its buffer ring for scans does not keep: 2.0 ms to count 2,000 tokens at a
// million, where the index takes 0.2 ms. A sort without an index (the account type) is
// left to the planner.
//
// A search with one condition, a time range, counts in the order of that range's index:
// PostgreSQL otherwise read every match into a bitmap before counting the first, 6.1 ms
// for the 8,800 tokens that expire within 7 days, where the ordered index scan stops at
// the count's limit in 0.7 ms.
func (s *tokenSearch) countOrder() string {
	if s.engine != Postgres {
		return ""
	}
	switch q := s.req.Query; {
	case len(q) == 0 && sortIndexes[s.req.Sort.Field] != "":
		return orderBy(*s.req.Sort, tokenSorts, tokenNullableSorts, "t.seq")
	case len(q) == 1 && rangeOrders[q[0].Key] != "":
		return "ORDER BY " + rangeOrders[q[0].Key] + ", t.seq"
	}
	return ""
}

// rangeOrders are the orders of the indexes of the time fields (migrations 0004, 0015),
// in which a count of one range reads them: NULLS FIRST as tokens_live_used has them.
var rangeOrders = map[string]string{
	"dateGenerated": "t.created_at",
	"lastUsed":      "t.last_used_at NULLS FIRST",
	"lastActivity":  "COALESCE(t.last_used_at, t.created_at)",
	"expiresAt":     expiresSort,
}
