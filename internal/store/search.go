package store

import (
	"fmt"
	"strings"

	"github.com/tokenward/tokenward"
)

// field maps one search key to SQL. A key with anyOf matches when any row of a related
// table matches (an account's permissions): anyOf is an EXISTS template whose %s is the
// condition on expr.
type field struct {
	expr  string
	anyOf string
	// exact, when set, gives an EXACT match of one value as a condition the indexes
	// serve better than comparing expr (false: fall back to expr).
	exact func(value string) (string, bool)
	// atLeast names an indexed expression never greater than expr: an upper bound on expr
	// is also one on it, which lets a range scan of its index skip what cannot match.
	atLeast string
	// freetext lists the expressions that "freetext" searches, when this is that key.
	freetext []string
	// never, when set, is the value expr takes for "never" (a NULL folded into expr, so
	// that one index serves ranges and the sort): EXACT "" on a time key compares to it.
	never string
	// account says the field reads the joined account (a.*), not only the token.
	account bool
	// trigram says a trigram index holds the field's text (tokens_text on SQLite; on
	// PostgreSQL pg_trgm indexes serve the LIKE itself): CONTAINS, STARTSWITH and TAGPATH
	// conditions on it can be narrowed by a lookup there.
	trigram bool
}

// query accumulates a WHERE clause and its numbered arguments ($1, $2, ...), which both
// engines accept.
type query struct {
	where []string
	args  []any
	// account says a condition reads the joined account, so the accounts join must stay.
	account bool
	// runs holds, for each condition the trigram index can narrow, the literal runs of
	// each of its values (trigramRuns); every match of the conditions holds them.
	runs [][][]string
}

func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

func (q *query) and(cond string) { q.where = append(q.where, cond) }

func (q *query) whereClause() string {
	if len(q.where) == 0 {
		return "TRUE"
	}
	return strings.Join(q.where, " AND ")
}

// addConditions adds a normalized search request's conditions. Keys were validated by
// SearchRequest.Normalize against the same names that fields holds.
func (q *query) addConditions(conds []tokenward.SearchCondition, spec tokenward.SearchSpec, fields map[string]field) error {
	for _, c := range conds {
		f, ok := fields[c.Key]
		if !ok {
			return fmt.Errorf("search key %q has no SQL mapping", c.Key)
		}
		if f.account {
			q.account = true
		}
		if f.trigram && (c.MatchingMethod != tokenward.MatchExact || f.freetext != nil) {
			if runs, ok := trigramRuns(c); ok {
				q.runs = append(q.runs, runs)
			}
		}
		var cond string
		switch {
		case f.freetext != nil:
			var ors []string
			for _, expr := range f.freetext {
				ors = append(ors, q.textMatch(expr, c))
			}
			cond = "(" + strings.Join(ors, " OR ") + ")"
		case f.anyOf != "":
			cond = fmt.Sprintf(f.anyOf, q.textMatch(f.expr, c))
		case f.exact != nil && c.MatchingMethod == tokenward.MatchExact && allExact(f, c.Values):
			var ors []string
			for _, v := range c.Values {
				sql, _ := f.exact(v)
				ors = append(ors, sql)
			}
			cond = "(" + strings.Join(ors, " OR ") + ")"
		case spec.Keys[c.Key] == tokenward.TimeField && f.never != "" && c.Start == nil && c.End == nil:
			cond = "(" + f.expr + " = " + f.never + ")"
		case spec.Keys[c.Key] == tokenward.TimeField:
			cond = q.timeMatch(f.expr, c)
			if f.atLeast != "" && c.End != nil && !c.Negated {
				cond = "(" + cond + " AND " + f.atLeast + " <= " + q.arg(*c.End) + ")"
			}
		case spec.Keys[c.Key] == tokenward.AddressField:
			var err error
			if cond, err = q.clientAddressMatch(c); err != nil {
				return err
			}
		case spec.Keys[c.Key] == tokenward.BoolField:
			var ors []string
			for _, v := range c.Values {
				ors = append(ors, f.expr+" = "+q.arg(v == "true"))
			}
			cond = "(" + strings.Join(ors, " OR ") + ")"
		default:
			cond = q.textMatch(f.expr, c)
		}
		if c.Negated {
			cond = "NOT " + cond
		}
		q.and(cond)
	}
	return nil
}

func allExact(f field, values []string) bool {
	for _, v := range values {
		if _, ok := f.exact(v); !ok {
			return false
		}
	}
	return true
}

// textMatch is an OR over the condition's values. CONTAINS, STARTSWITH and TAGPATH ignore
// case; EXACT compares exactly (identifiers are stored lower-case already). Every text
// column searched is NOT NULL.
func (q *query) textMatch(expr string, c tokenward.SearchCondition) string {
	var ors []string
	for _, v := range c.Values {
		pattern := escapeLike(strings.ToLower(v))
		switch c.MatchingMethod {
		case tokenward.MatchExact:
			ors = append(ors, expr+" = "+q.arg(v)) // plain, so that an index on expr serves it
			continue
		case tokenward.MatchStartsWith:
			pattern += "%"
		case tokenward.MatchTagPath:
			pattern = strings.ReplaceAll(pattern, "*", "%")
		default:
			pattern = "%" + pattern + "%"
		}
		ors = append(ors, "LOWER("+expr+") LIKE "+q.arg(pattern)+` ESCAPE '\'`)
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// timeMatch is a range on a time column; EXACT "" matches "never" (NULL).
func (q *query) timeMatch(expr string, c tokenward.SearchCondition) string {
	if c.Start == nil && c.End == nil {
		return "(" + expr + " IS NULL)"
	}
	var parts []string
	if c.Start != nil {
		parts = append(parts, expr+" >= "+q.arg(*c.Start))
	}
	if c.End != nil {
		parts = append(parts, expr+" <= "+q.arg(*c.End))
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// escapeLike escapes LIKE's wildcards so that user text matches literally.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// orderBy returns an ORDER BY clause for sort, with tie-breaker as the last key so that
// pages never overlap. For a column that can be NULL (never used), the missing value counts
// as the oldest: first in ascending order, last in descending; that is SQLite's own order
// of NULLs and the order of the PostgreSQL index on it (declared NULLS FIRST). Columns that
// cannot be NULL get no NULLS clause, so that PostgreSQL reads them backwards from their
// plain ascending index.
func orderBy(sort tokenward.SearchSort, sortExprs map[string]string, nullable map[string]bool, tieBreaker string) string {
	nulls := func(clause string) string {
		if nullable[sort.Field] {
			return " " + clause
		}
		return ""
	}
	if sort.Ascending {
		return "ORDER BY " + sortExprs[sort.Field] + " ASC" + nulls("NULLS FIRST") + ", " + tieBreaker + " ASC"
	}
	return "ORDER BY " + sortExprs[sort.Field] + " DESC" + nulls("NULLS LAST") + ", " + tieBreaker + " DESC"
}
