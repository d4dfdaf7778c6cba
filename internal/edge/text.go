package edge

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/tokenward/tokenward"
)

// Every string a request brings (path, query, form, JSON) passes here before anything
// else reads it: valid UTF-8 without NUL (text PostgreSQL cannot store, which SQLite would
// take: both engines must answer the same 400), within the lengths below. What a string
// may hold beyond that (names that refuse bidirectional overrides, emails, permission
// names) is the domain's rule, in the root package.
const (
	MaxPathBytes       = 2048  // the decoded path
	MaxQueryBytes      = 8192  // the raw query string
	MaxQueryValueBytes = 4096  // one decoded query or form value, and its name
	MaxFormValues      = 1000  // values in one query string or form
	MaxJSONString      = 65536 // one string of a JSON body (the body is at most MaxBodyBytes)
)

// CheckRequestText refuses a request whose path or query holds text the service does not
// take. Errors: EInvalid naming the part.
func CheckRequestText(r *http.Request) error {
	if err := tokenward.CheckText("the path", r.URL.Path, MaxPathBytes); err != nil {
		return err
	}
	if len(r.URL.RawQuery) > MaxQueryBytes {
		return tokenward.Errorf(tokenward.EInvalid, "the query string is at most %d bytes", MaxQueryBytes)
	}
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return tokenward.Errorf(tokenward.EInvalid, "the query string is malformed: write name=value pairs joined by &, %%-encoded")
	}
	return CheckValues("query parameter", q)
}

// CheckValues checks the names and values of a query string or a form.
func CheckValues(what string, values url.Values) error {
	n := 0
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range values {
			if !yield(k) {
				return
			}
		}
	}) {
		if err := tokenward.CheckText(what+" name", name, MaxQueryValueBytes); err != nil {
			return err
		}
		shown := fmt.Sprintf("%s %q", what, name)
		if !utf8.ValidString(name) || len(name) > 64 {
			shown = what
		}
		for _, v := range values[name] {
			if n++; n > MaxFormValues {
				return tokenward.Errorf(tokenward.EInvalid, "a request holds at most %d %s values", MaxFormValues, what)
			}
			if err := tokenward.CheckText(shown, v, MaxQueryValueBytes); err != nil {
				return err
			}
		}
	}
	return nil
}

// CheckJSONText checks every string of a JSON body, keys included, whether or not the
// route reads it: a field the route ignores today may be read tomorrow, and text the
// service refuses should be refused the same everywhere. (encoding/json would turn
// invalid UTF-8 into U+FFFD silently, so decodeBody checks the raw bytes first; here a
// \u0000 escape has become a NUL.) The one exception is Terraform's: its data sources
// send their paging as search conditions ({"key":"offset","value":string(rune(n))}),
// so that offset 0 arrives as a NUL; such a condition filters nothing and is dropped
// (tokenward.SearchRequest.Normalize), and its value is not checked.
func CheckJSONText(v any) error {
	switch v := v.(type) {
	case string:
		return tokenward.CheckText("a string of the request body", v, MaxJSONString)
	case []any:
		for _, e := range v {
			if err := CheckJSONText(e); err != nil {
				return err
			}
		}
	case map[string]any:
		paging := v["key"] == "limit" || v["key"] == "offset"
		for k, e := range v {
			if err := tokenward.CheckText("a key of the request body", k, MaxJSONString); err != nil {
				return err
			}
			if paging && (k == "value" || k == "values") {
				continue
			}
			if err := CheckJSONText(e); err != nil {
				return err
			}
		}
	}
	return nil
}
