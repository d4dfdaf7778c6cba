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

// trigramMatch returns an FTS5 query (for the SQLite index tokens_text) that every token
// matching c's LIKE also matches, or false when c has no value the index can narrow:
// for each value, the AND of the trigrams of its literal runs; across values, an OR. The
// index folds case as the LIKE does, so the lowered value's trigrams are the ones to look
// up; the LIKE then decides exactly.
func trigramMatch(c tokenward.SearchCondition) (string, bool) {
	if c.Negated {
		return "", false // the complement of a superset is no superset
	}
	var ors []string
	for _, v := range c.Values {
		runs := []string{v}
		if c.MatchingMethod == tokenward.MatchTagPath {
			runs = strings.Split(v, "*")
		}
		var ands []string
		for _, run := range runs {
			for _, tri := range trigrams(strings.ToLower(run)) {
				if q := ftsString(tri); !slices.Contains(ands, q) {
					ands = append(ands, q)
				}
			}
		}
		if len(ands) == 0 {
			return "", false
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	if len(ors) == 0 {
		return "", false
	}
	return "(" + strings.Join(ors, " OR ") + ")", true
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
