package tokenward

import (
	"context"
	"slices"
	"strings"
)

// Search limits of the reference §7, and ours on the size of a request: deep offsets,
// huge OR lists and long values cost the database far more than any real client needs
// (SQLite refuses expression trees past ~1,000 terms, PostgreSQL 65,535 parameters).
const (
	DefaultSearchLimit   = 100
	MaxSearchLimit       = 1000
	MaxSearchOffset      = 1_000_000
	MaxSearchConditions  = 50
	MaxSearchValues      = 100  // values of one condition
	MaxSearchValueLength = 1024 // bytes of one value
)

// SearchRequest is a Wavefront search request: every condition must hold, the results are
// sorted and paged. The JSON names are the API's; the console builds the same request.
type SearchRequest struct {
	Query  []SearchCondition `json:"query"`
	Sort   *SearchSort       `json:"sort"`
	Limit  int               `json:"limit"`
	Offset int               `json:"offset"`
	// Cursor, a page's Next or Previous (token search only), continues from where that
	// page ended or began, in the same sort order; it wins over Offset.
	Cursor string `json:"cursor"`
}

// SearchCondition is one condition. Values, when given, is an OR of values and wins over
// Value; Start and End make a range condition on a time field; Negated inverts the result.
type SearchCondition struct {
	Key            string         `json:"key"`
	Value          string         `json:"value"`
	Values         []string       `json:"values"`
	MatchingMethod MatchingMethod `json:"matchingMethod"`
	Negated        bool           `json:"negated"`
	Start          *int64         `json:"start"`
	End            *int64         `json:"end"`
}

// SearchSort orders search results by one field.
type SearchSort struct {
	Field     string `json:"field"`
	Ascending bool   `json:"ascending"`
	Default   bool   `json:"default"`
}

// MatchingMethod is how a search value matches (reference §7).
type MatchingMethod string

// Matching methods.
const (
	MatchContains   MatchingMethod = "CONTAINS"
	MatchStartsWith MatchingMethod = "STARTSWITH"
	MatchExact      MatchingMethod = "EXACT"
	MatchTagPath    MatchingMethod = "TAGPATH" // EXACT in which '*' matches any run of characters
)

// parseMatchingMethod reads a matching method as a client sends it: any case, CONTAINS
// when empty. ok is false for an unknown one.
func parseMatchingMethod(s MatchingMethod) (m MatchingMethod, ok bool) {
	switch m = MatchingMethod(strings.ToUpper(string(s))); m {
	case "":
		return MatchContains, true
	case MatchContains, MatchStartsWith, MatchExact, MatchTagPath:
		return m, true
	}
	return s, false
}

// FieldKind says how a search key is matched.
type FieldKind int

const (
	TextField    FieldKind = iota // matched by value(s) and matching method
	TimeField                     // matched by start/end range, or "never" by EXACT on ""
	BoolField                     // matched by value "true" or "false"
	AddressField                  // matched by an address or a CIDR (ParseAddressRange)
)

// SearchSpec is what one entity's search accepts.
type SearchSpec struct {
	Keys        map[string]FieldKind // "freetext" included where supported
	SortFields  []string
	DefaultSort SearchSort
	Cursors     bool // pages carry cursors, and a request may send one back
}

// Page is one page of search results. Total is the number of matches.
type Page[T any] struct {
	Items  []T
	Offset int
	Limit  int
	Total  int
	Sort   SearchSort
	// Estimate, when Total is a lower bound (the count stopped at its cap), estimates the
	// matches; 0 when there is none (a small table, or a search that cannot estimate).
	Estimate int
	// Next and Previous are the cursors of the pages after and before this one, where the
	// search has cursors (tokens) and such a page exists; "" otherwise.
	Next, Previous string
}

// More reports whether matches remain after this page.
func (p Page[T]) More() bool { return p.Offset+len(p.Items) < p.Total }

// Normalize checks the request against spec and fills in the defaults: limit 100 (at most
// 1000), offset 0, matching method CONTAINS, the spec's default sort. Errors are EInvalid and
// name the offending key, field or value.
func (r *SearchRequest) Normalize(spec SearchSpec) error {
	switch {
	case r.Limit == 0:
		r.Limit = DefaultSearchLimit
	case r.Limit < 0 || r.Limit > MaxSearchLimit:
		return Errorf(EInvalid, "limit must be between 1 and %d", MaxSearchLimit)
	}
	if r.Offset < 0 || r.Offset > MaxSearchOffset {
		return Errorf(EInvalid, "offset must be between 0 and %d", MaxSearchOffset)
	}
	if r.Cursor != "" && !spec.Cursors {
		return Errorf(EInvalid, "this search pages by offset only; send no cursor")
	}
	if len(r.Query) > MaxSearchConditions {
		return Errorf(EInvalid, "a search holds at most %d conditions", MaxSearchConditions)
	}
	if r.Sort == nil || r.Sort.Field == "" {
		s := spec.DefaultSort
		s.Default = true
		r.Sort = &s
	} else if !slices.Contains(spec.SortFields, r.Sort.Field) {
		return Errorf(EInvalid, "cannot sort by %q; sort fields are %s", r.Sort.Field, strings.Join(spec.SortFields, ", "))
	}
	// Terraform's data sources send their paging as conditions ({"key":"limit",...}); they
	// filter nothing, so they are dropped rather than refused.
	r.Query = slices.DeleteFunc(r.Query, func(c SearchCondition) bool { return c.Key == "limit" || c.Key == "offset" })
	for i := range r.Query {
		c := &r.Query[i]
		kind, ok := spec.Keys[c.Key]
		if !ok {
			keys := make([]string, 0, len(spec.Keys))
			for k := range spec.Keys {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			return Errorf(EInvalid, "unknown search key %q; keys are %s", c.Key, strings.Join(keys, ", "))
		}
		method, ok := parseMatchingMethod(c.MatchingMethod)
		if !ok {
			return Errorf(EInvalid, "unknown matchingMethod %q for key %q", strings.ToUpper(string(c.MatchingMethod)), c.Key)
		}
		c.MatchingMethod = method
		if len(c.Values) == 0 {
			c.Values = []string{c.Value}
		}
		if len(c.Values) > MaxSearchValues {
			return Errorf(EInvalid, "key %q: a condition holds at most %d values", c.Key, MaxSearchValues)
		}
		for _, v := range c.Values {
			if err := CheckText("a search value", v, MaxSearchValueLength); err != nil {
				return err
			}
		}
		switch kind {
		case TimeField:
			if c.Start == nil && c.End == nil && (c.MatchingMethod != MatchExact || c.Values[0] != "") {
				return Errorf(EInvalid, "key %q is a time: give start and/or end (epoch milliseconds)", c.Key)
			}
		case BoolField:
			for _, v := range c.Values {
				if v != "true" && v != "false" {
					return Errorf(EInvalid, "key %q takes true or false, not %q", c.Key, v)
				}
			}
		case AddressField:
			if err := checkAddressCondition(*c); err != nil {
				return err
			}
		default:
			if c.Start != nil || c.End != nil {
				return Errorf(EInvalid, "key %q is not a time: start and end do not apply", c.Key)
			}
		}
	}
	return nil
}

// checkAddressCondition checks a clientAddress condition: every value an address or a
// CIDR, matched as "within" (CONTAINS or EXACT), no time range.
func checkAddressCondition(c SearchCondition) error {
	if c.Start != nil || c.End != nil {
		return Errorf(EInvalid, "key %q is not a time: start and end do not apply", c.Key)
	}
	if c.MatchingMethod != MatchContains && c.MatchingMethod != MatchExact {
		return Errorf(EInvalid, "key %q matches an address or a CIDR: matchingMethod CONTAINS or EXACT, not %s", c.Key, c.MatchingMethod)
	}
	for _, v := range c.Values {
		if _, err := ParseAddressRange(v); err != nil {
			return err
		}
	}
	return nil
}

// AccountSearch is what user and service account searches accept. "id" is the identifier
// as the real clients name it (Terraform finds a user by id EXACT).
var AccountSearch = SearchSpec{
	Keys: map[string]FieldKind{
		"id": TextField, "identifier": TextField, "roles": TextField, "userGroups": TextField, "description": TextField, "groups": TextField, "permission": TextField,
		"active": BoolField, "lastUsed": TimeField, "lastSuccessfulLogin": TimeField, "freetext": TextField,
	},
	SortFields:  []string{"identifier", "description", "active", "lastUsed", "lastSuccessfulLogin", "dateCreated"},
	DefaultSort: SearchSort{Field: "identifier", Ascending: true},
}

// TokenSearch is what the organization's token search accepts. lastActivity (ours) is the
// later of lastUsed and dateGenerated: "unused for 30 days or more" is lastActivity before
// now - 30 days. expiresAt (ours, §13) treats "never" as the latest instant: it sorts last
// ascending, and a range with a start and no end includes it. clientAddress (ours, §14)
// matches a token one of whose recent clients has an address in the value's range ("used
// from 203.0.113.0/24").
var TokenSearch = SearchSpec{
	Keys: map[string]FieldKind{
		"id": TextField, "name": TextField, "account": TextField, "accountType": TextField,
		"dateGenerated": TimeField, "lastUsed": TimeField, "lastActivity": TimeField, "expiresAt": TimeField, "freetext": TextField,
		"clientAddress": AddressField,
	},
	SortFields:  []string{"id", "name", "account", "accountType", "dateGenerated", "lastUsed", "expiresAt"},
	DefaultSort: SearchSort{Field: "dateGenerated", Ascending: false},
	Cursors:     true,
}

// TokenFacets are the token fields whose distinct values a facet search lists.
var TokenFacets = []string{"account", "accountType", "name", "id"}

// FacetRequest asks for the distinct values of one field among the tokens matching Query,
// narrowed to values matching FacetQuery.
type FacetRequest struct {
	Query                    []SearchCondition `json:"query"`
	FacetQuery               string            `json:"facetQuery"`
	FacetQueryMatchingMethod MatchingMethod    `json:"facetQueryMatchingMethod"`
	Limit                    int               `json:"limit"`
	Offset                   int               `json:"offset"`
}

// distinctIDs looks up each of ids with of and returns their ids, in order, for those
// that keep says to keep: the lookup of a list of roles or groups a request names. Errors:
// of's (ENotFound), EInvalid for one named twice (label names it).
func distinctIDs[T any](ctx context.Context, ids []string, of func(context.Context, string) (T, error),
	key func(T) (id, label string, keep bool)) ([]string, error) {
	out, seen := []string{}, distinct[string]{}
	for _, ref := range ids {
		x, err := of(ctx, ref)
		if err != nil {
			return nil, err
		}
		id, label, keep := key(x)
		if err := seen.add(id, label); err != nil {
			return nil, err
		}
		if keep {
			out = append(out, id)
		}
	}
	return out, nil
}

// search checks p's permission and normalizes req against spec, then runs find: every
// administrator's search (roles, groups, accounts) starts so.
func search[T any](ctx context.Context, p Principal, req SearchRequest, spec SearchSpec,
	find func(context.Context, SearchRequest) (Page[T], error)) (Page[T], error) {
	if err := RequireAccounts(p); err != nil {
		return Page[T]{}, err
	}
	if err := req.Normalize(spec); err != nil {
		return Page[T]{}, err
	}
	return find(ctx, req)
}
