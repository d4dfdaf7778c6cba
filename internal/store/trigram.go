package store

import (
	"slices"
	"strings"

	"github.com/tokenward/tokenward"
)

// minTrigramTerm is the shortest text, in characters, the trigram indexes can look up.
// A condition with a shorter value (or, for TAGPATH, no run of this many characters
// between wildcards) gets no index lookup: its LIKE is evaluated on the rows the sort
// order's index walks. That fallback is fast for short terms that most tokens contain
// (the page fills quickly) and reads every live token for a rare one.
const minTrigramTerm = 3

// trigramRuns returns, for each of c's values, its literal runs of at least
// minTrigramTerm characters, lowered: every token matching c's LIKE holds all the runs of
// one of the values, in one of its text columns (lowered, but for EXACT, as given). ok is false when some value has no such
// run, or c is negated (the complement of a superset is no superset): the index cannot
// narrow c.
func trigramRuns(c tokenward.SearchCondition) (runs [][]string, ok bool) {
	if c.Negated {
		return nil, false
	}
	for _, v := range c.Values {
		pieces := []string{v}
		if c.MatchingMethod == tokenward.MatchTagPath {
			pieces = strings.Split(v, "*")
		}
		var long []string
		for _, p := range pieces {
			if c.MatchingMethod != tokenward.MatchExact {
				p = strings.ToLower(p) // as the LIKE pattern is; EXACT compares the value as given
			}
			if len([]rune(p)) >= minTrigramTerm {
				long = append(long, p)
			}
		}
		if len(long) == 0 {
			return nil, false
		}
		runs = append(runs, long)
	}
	return runs, len(runs) > 0
}

// ftsMatch is the FTS5 query (for the SQLite index tokens_text) of runs: an OR over the
// values of the AND of their runs' trigrams. The index folds case as the LIKE does.
func ftsMatch(runs [][]string) string {
	var ors []string
	for _, value := range runs {
		var ands []string
		for _, run := range value {
			for _, tri := range trigrams(run) {
				if q := ftsString(tri); !slices.Contains(ands, q) {
					ands = append(ands, q)
				}
			}
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// tokenText is the expression of the PostgreSQL trigram index tokens_live_text_trgm
// (migration 0009): every text column a search reads, lowered, in one string, so that one
// index scan narrows a condition on any of them.
const tokenText = `LOWER(t.name || ' ' || t.account_identifier || ' ' || t.id || ' ' || t.hint)`

// textContains is the PostgreSQL condition of runs on tokenText: an OR over the values of
// the AND of tokenText LIKE LOWER('%run%').
func (q *query) textContains(runs [][]string) string {
	var ors []string
	for _, value := range runs {
		var ands []string
		for _, run := range value {
			// LOWER as the index's: an EXACT run is the value as given.
			ands = append(ands, tokenText+" LIKE LOWER("+q.arg("%"+escapeLike(run)+"%")+`) ESCAPE '\'`)
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// trigrams returns every run of minTrigramTerm consecutive characters of s.
func trigrams(s string) []string {
	r := []rune(s)
	var out []string
	for i := 0; i+minTrigramTerm <= len(r); i++ {
		out = append(out, string(r[i:i+minTrigramTerm]))
	}
	return out
}

// ftsString quotes s as an FTS5 string, which the trigram tokenizer reads as one trigram.
func ftsString(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
