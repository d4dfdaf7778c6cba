package store

import (
	"slices"
	"strings"
	"unicode"

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

// PostgreSQL's trigram index reads the whole posting list of every trigram of a LIKE
// pattern, however common: "seed-4242@" at a million tokens read "see", "eed" and "ed ",
// which every token of the benchmark holds (tw_seed… ids, seed-N@ accounts), 12 ms of
// index scan where "-4242@" alone took 0.7 ms. A run made of several words (pg_trgm's
// words: letters and digits) is therefore split into pieces, one a word with the
// characters next to it, and the sample that estimates the matches also counts each
// piece: a piece in more than 1 sampled token in maxPieceShare is left out of the index
// lookup. Every match holds every piece, so the lookup still finds a superset of the
// matches, which the search's own conditions then filter exactly.

// maxPieceShare: a piece in more than one sampled token in this many is left out.
const maxPieceShare = 16

// maxPieces bounds the pieces sampled for one search (each is one more LIKE on about
// 2,000 rows); a search with more keeps its runs whole.
const maxPieces = 8

// textPiece is a piece of run run of value value of condition cond of q.runs.
type textPiece struct {
	cond, value, run int
	text             string
}

// textPieces returns the pieces of every run of runs that holds two words or more, or
// nil when there are none or too many.
func textPieces(runs [][][]string) []textPiece {
	var pieces []textPiece
	for c, values := range runs {
		for v, value := range values {
			for r, run := range value {
				for _, text := range runPieces(run) {
					pieces = append(pieces, textPiece{cond: c, value: v, run: r, text: text})
				}
			}
		}
	}
	if len(pieces) > maxPieces {
		return nil
	}
	return pieces
}

// runPieces splits run into its words, each with the character before and after it when
// run has one, or returns nil when run holds fewer than two words of minTrigramTerm
// characters with them (nothing to leave out).
func runPieces(run string) []string {
	r := []rune(run)
	var pieces []string
	for i := 0; i < len(r); {
		if !isWordRune(r[i]) {
			i++
			continue
		}
		j := i
		for j < len(r) && isWordRune(r[j]) {
			j++
		}
		if from, to := max(i-1, 0), min(j+1, len(r)); to-from >= minTrigramTerm {
			pieces = append(pieces, string(r[from:to]))
		}
		i = j
	}
	if len(pieces) < 2 {
		return nil
	}
	return pieces
}

// isWordRune is pg_trgm's word character: a letter or a digit.
func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// lookupRuns returns runs with the pieces that counts (per piece, of sampled tokens)
// show to be common left out of their runs: a run whose pieces are all common, or none,
// stays whole.
func lookupRuns(runs [][][]string, pieces []textPiece, counts []int64, sampled int64) [][][]string {
	type at struct{ cond, value, run int }
	kept, dropped := map[at][]string{}, map[at]bool{}
	for i, p := range pieces {
		k := at{p.cond, p.value, p.run}
		if counts[i]*maxPieceShare > sampled {
			dropped[k] = true
		} else {
			kept[k] = append(kept[k], p.text)
		}
	}
	out := make([][][]string, len(runs))
	for c, values := range runs {
		out[c] = make([][]string, len(values))
		for v, value := range values {
			for r, run := range value {
				if k := (at{c, v, r}); dropped[k] && len(kept[k]) > 0 {
					out[c][v] = append(out[c][v], kept[k]...)
				} else {
					out[c][v] = append(out[c][v], run)
				}
			}
		}
	}
	return out
}
