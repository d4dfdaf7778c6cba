package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tokenward/tokenward"
)

// tokenCursor is a position in the order of a token search: the sort key and seq of one
// row, and how many matches came before that row. A page read after the position starts
// with the row that follows it, so a deep page costs an index range, not a walk over every
// row before it (what OFFSET does). Clients get it as an opaque string; it is not signed
// because it grants nothing: a forged one only starts a page somewhere else.
type tokenCursor struct {
	Field string `json:"f"`
	Asc   bool   `json:"a"`
	// Key is the row's sort key: a string, a number (epoch milliseconds), or nil for a
	// nullable sort field's missing value.
	Key any   `json:"k"`
	Seq int64 `json:"s"`
	// Before asks for the page before the row (Previous), not the one after it (Next).
	Before bool `json:"b,omitempty"`
	// Offset is the row's index among the matches, for the page's offset and total.
	Offset int `json:"o"`
}

func (c tokenCursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeTokenCursor reads a cursor a search answered, for a request sorted by sort.
// Errors: EInvalid when it is not a cursor, or one of another sort order (the position
// means nothing in another order).
func decodeTokenCursor(s string, sort tokenward.SearchSort) (tokenCursor, error) {
	invalid := tokenward.Errorf(tokenward.EInvalid, "the cursor is not one a token search answered; start again without it")
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 4096 {
		return tokenCursor{}, invalid
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	d.DisallowUnknownFields()
	var c tokenCursor
	if err := d.Decode(&c); err != nil || c.Offset < 0 || c.Seq <= 0 {
		return tokenCursor{}, invalid
	}
	if c.Field != sort.Field || c.Asc != sort.Ascending {
		return tokenCursor{}, tokenward.Errorf(tokenward.EInvalid,
			"the cursor belongs to another sort order; start again without it")
	}
	switch k := c.Key.(type) {
	case nil:
		if !tokenNullableSorts[c.Field] {
			return tokenCursor{}, invalid
		}
	case json.Number:
		n, err := k.Int64()
		if err != nil || tokenward.TokenSearch.Keys[c.Field] != tokenward.TimeField {
			return tokenCursor{}, invalid
		}
		c.Key = n
	case string:
		if tokenward.TokenSearch.Keys[c.Field] == tokenward.TimeField || !storable(k) {
			return tokenCursor{}, invalid
		}
	default:
		return tokenCursor{}, invalid
	}
	return c, nil
}

// sortKey returns a scanned sort key as a cursor holds it.
func sortKey(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// keysetRanges returns the conditions, in the order of the search, that together hold
// every row after the position (key, seq) (or from it, inclusive) in the order
// expr [ASC NULLS FIRST | DESC NULLS LAST], seq. Each is one range of the sort order's
// index, so that reading a page walks only the page: a nullable order has two segments
// (its missing keys first when ascending, last when descending), and a position in one
// is the rest of that segment, then all of the next one. Each adds its condition and
// arguments to the query it is given: a query holds one of them.
func keysetRanges(expr string, nullable, asc bool, key any, seq int64, inclusive bool) []func(q *query) {
	cmp := map[[2]bool]string{{true, false}: ">", {true, true}: ">=", {false, false}: "<", {false, true}: "<="}[[2]bool{asc, inclusive}]
	if key == nil {
		rest := func(q *query) { q.and(fmt.Sprintf("(%s IS NULL AND t.seq %s %s)", expr, cmp, q.arg(seq))) }
		if asc {
			return []func(q *query){rest, func(q *query) { q.and(expr + " IS NOT NULL") }}
		}
		return []func(q *query){rest}
	}
	rest := func(q *query) { q.and(fmt.Sprintf("((%s, t.seq) %s (%s, %s))", expr, cmp, q.arg(key), q.arg(seq))) }
	if nullable && !asc {
		return []func(q *query){rest, func(q *query) { q.and(expr + " IS NULL") }}
	}
	return []func(q *query){rest}
}
