package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
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

// checkDecoded checks every string of a decoded JSON body: map keys, slice elements and
// struct fields alike (encoding/json has already turned invalid UTF-8 into U+FFFD, which
// decodeBody refuses on the raw bytes first; a \u0000 escape decodes to NUL).
func checkDecoded(v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		return tokenward.CheckText("a string of the request body", v.String(), MaxJSONString)
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return checkDecoded(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			// JSON kept as sent (a saved search's query): its strings are the client's too.
			var inner any
			if len(v.Bytes()) == 0 || json.Unmarshal(v.Bytes(), &inner) != nil {
				return nil // not JSON: whoever reads it refuses it
			}
			return checkDecoded(reflect.ValueOf(&inner))
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // bytes, not text
		}
		for i := range v.Len() {
			if err := checkDecoded(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if err := checkDecoded(it.Key()); err != nil {
				return err
			}
			if err := checkDecoded(it.Value()); err != nil {
				return err
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				if err := checkDecoded(v.Field(i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
