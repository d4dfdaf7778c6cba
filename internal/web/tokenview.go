package web

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
)

// tokenView is the state of the API Tokens table, all of it in the URL so that reload, back
// and a shared link reproduce it.
type tokenView struct {
	Terms    []string // freetext search terms, shown as chips
	Types    []string // account types
	Usage    tokenward.TokenUsage
	Expiry   tokenward.TokenExpiry
	Accounts []string
	Sort     string
	Asc      bool
	Page     int // from 1
	Size     int
	AccountQ string // the Accounts panel's own search box
	// Cursor is the search's cursor for this page, from the Next or Previous link of the
	// page beside it: a deep page is then an index range, not an OFFSET walk. It never
	// goes into Share or Save links; page numbers jump by offset.
	Cursor string
	// Client narrows to tokens used from an address or a CIDR (search key clientAddress);
	// BadClient is a value that is neither, shown back in its field with the refusal.
	Client, BadClient string
}

var pageSizes = []int{10, 25, 50, 100}

func parseTokenView(q url.Values) tokenView {
	v := tokenView{Terms: nonEmpty(q["q"]), Types: nonEmpty(q["type"]), Usage: tokenward.ParseTokenUsage(q.Get("usage")),
		Expiry: tokenward.ParseTokenExpiry(q.Get("expiry")), Accounts: nonEmpty(q["account"]),
		Sort: q.Get("sort"), Asc: q.Get("dir") == "asc", AccountQ: strings.TrimSpace(q.Get("acq")), Size: 25, Page: 1,
		Cursor: q.Get("cursor"), Client: strings.TrimSpace(q.Get("client"))}
	if n, err := strconv.Atoi(q.Get("size")); err == nil && slices.Contains(pageSizes, n) {
		v.Size = n
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		v.Page = n
	}
	if !slices.Contains(tokenward.TokenSearch.SortFields, v.Sort) {
		v.Sort, v.Asc = "dateGenerated", false
	}
	return v
}

func nonEmpty(values []string) []string {
	var out []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// query returns the view as URL query parameters, with changes applied.
func (v tokenView) query(change func(*tokenView)) string {
	if change != nil {
		change(&v)
	}
	q := url.Values{}
	for _, t := range v.Terms {
		q.Add("q", t)
	}
	for _, t := range v.Types {
		q.Add("type", t)
	}
	if v.Usage != "" {
		q.Set("usage", string(v.Usage))
	}
	if v.Expiry != "" {
		q.Set("expiry", string(v.Expiry))
	}
	for _, a := range v.Accounts {
		q.Add("account", a)
	}
	if v.Sort != "dateGenerated" || v.Asc {
		q.Set("sort", v.Sort)
		q.Set("dir", map[bool]string{true: "asc", false: "desc"}[v.Asc])
	}
	if v.Size != 25 {
		q.Set("size", strconv.Itoa(v.Size))
	}
	if v.Page > 1 {
		q.Set("page", strconv.Itoa(v.Page))
	}
	if v.AccountQ != "" {
		q.Set("acq", v.AccountQ)
	}
	if v.Client != "" {
		q.Set("client", v.Client)
	}
	return q.Encode()
}

// searchRequest turns the view into the API's search request: the console and the API
// search the same way.
func (v tokenView) searchRequest(now time.Time) tokenward.SearchRequest {
	var conds []tokenward.SearchCondition
	for _, t := range v.Terms {
		conds = append(conds, tokenward.SearchCondition{Key: "freetext", Value: t})
	}
	if len(v.Types) > 0 {
		conds = append(conds, tokenward.SearchCondition{Key: "accountType", Values: v.Types, MatchingMethod: tokenward.MatchExact})
	}
	if len(v.Accounts) > 0 {
		conds = append(conds, tokenward.SearchCondition{Key: "account", Values: v.Accounts, MatchingMethod: tokenward.MatchExact})
	}
	if v.Client != "" {
		conds = append(conds, tokenward.SearchCondition{Key: "clientAddress", Value: v.Client})
	}
	conds = append(conds, v.Usage.Conditions(now)...)
	conds = append(conds, v.Expiry.Conditions(now)...)
	return tokenward.SearchRequest{Query: conds, Sort: &tokenward.SearchSort{Field: v.Sort, Ascending: v.Asc},
		Limit: v.Size, Offset: (v.Page - 1) * v.Size, Cursor: v.Cursor}
}
