package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tokenward/tokenward"
)

// orgTokensData is the API Tokens page.
type orgTokensData struct {
	View         tokenView
	Tokens       []tokenward.Token
	Total        int
	Capped       bool // Total is a lower bound
	Estimate     int  // when Capped, the search's estimate of the matches (0: none)
	From, To     int
	HasPrev      bool
	HasNext      bool
	Saved        []savedSearchItem
	OpenSaved    string
	AccountNames []string // the Accounts panel
	Types        []string
	PageSizes    []int
	Query        string // the view's query string, for Share and Save
	// next and previous are the search's cursors of the pages beside this one.
	next, previous string
}

// link returns the table's URL with a change applied; templates call it for every control.
func (d *orgTokensData) Link(change string, value string) string {
	v := d.View
	q := v.query(func(v *tokenView) {
		switch change {
		case "sort":
			if v.Sort == value {
				v.Asc = !v.Asc
			} else {
				v.Sort, v.Asc = value, value == "name" || value == "account" || value == "id" || value == "accountType" || value == "expiresAt"
			}
			v.Page = 1
		case "page":
			v.Page, _ = strconv.Atoi(value)
		case "size":
			v.Size, _ = strconv.Atoi(value)
			v.Page = 1
		case "remove-term":
			v.Terms = slices.DeleteFunc(slices.Clone(v.Terms), func(s string) bool { return s == value })
			v.Page = 1
		case "remove-account":
			v.Accounts = slices.DeleteFunc(slices.Clone(v.Accounts), func(s string) bool { return s == value })
			v.Page = 1
		case "remove-type":
			v.Types = slices.DeleteFunc(slices.Clone(v.Types), func(s string) bool { return s == value })
			v.Page = 1
		case "usage":
			v.Usage, v.Page = tokenward.ParseTokenUsage(value), 1
		case "client":
			v.Client, v.Page = value, 1
		case "expiry":
			v.Expiry, v.Page = tokenward.ParseTokenExpiry(value), 1
		}
	})
	if q == "" {
		return "/console/accounts/api-tokens"
	}
	return "/console/accounts/api-tokens?" + q
}

// NextLink and PrevLink are the links of the pages beside this one. They carry the
// search's cursors, so that walking page by page costs every page what the first costs.
func (d *orgTokensData) NextLink() string {
	return withCursor(d.Link("page", strconv.Itoa(d.View.Page+1)), d.next)
}

func (d *orgTokensData) PrevLink() string {
	return withCursor(d.Link("page", strconv.Itoa(d.View.Page-1)), d.previous)
}

func withCursor(link, cursor string) string {
	if cursor == "" {
		return link
	}
	sep := "?"
	if strings.Contains(link, "?") {
		sep = "&"
	}
	return link + sep + "cursor=" + url.QueryEscape(cursor)
}

// pageNumber is one entry of the pager's numbers: a page, or a gap ("…") between two.
type pageNumber struct {
	N       int
	Link    string
	Current bool
	Gap     bool
}

// LastPage is the number of the last page, or 0 when the total is a lower bound.
func (d *orgTokensData) LastPage() int {
	if d.Capped || d.Total == 0 {
		return 0
	}
	return (d.Total + d.View.Size - 1) / d.View.Size
}

// PageNumbers are the pages the pager links: the first, the last, and two either side of
// the current one, with gaps between; without a known last page, up to the next one.
func (d *orgTokensData) PageNumbers() []pageNumber {
	if d.Total == 0 && !d.HasNext {
		return nil
	}
	last, cur := d.LastPage(), d.View.Page
	if last == 0 {
		last = cur
		if d.HasNext {
			last = cur + 1
		}
	}
	var out []pageNumber
	for n := 1; n <= last; n++ {
		if n != 1 && n != last && (n < cur-2 || n > cur+2) {
			if len(out) > 0 && !out[len(out)-1].Gap {
				out = append(out, pageNumber{Gap: true})
			}
			continue
		}
		out = append(out, pageNumber{N: n, Link: d.Link("page", strconv.Itoa(n)), Current: n == cur})
	}
	return out
}

// SortMark is the arrow shown beside the sorted column's header.
func (d *orgTokensData) SortMark(field string) string {
	if d.View.Sort != field {
		return ""
	}
	if d.View.Asc {
		return "▲"
	}
	return "▼"
}

// AriaSort is the column's aria-sort value.
func (d *orgTokensData) AriaSort(field string) string {
	if d.View.Sort != field {
		return "none"
	}
	return map[bool]string{true: "ascending", false: "descending"}[d.View.Asc]
}

func (d *orgTokensData) HasType(t string) bool     { return slices.Contains(d.View.Types, t) }
func (d *orgTokensData) HasAccount(a string) bool  { return slices.Contains(d.View.Accounts, a) }
func (d *orgTokensData) TypeLabel(t string) string { return typeLabels[t] }
func (d *orgTokensData) TotalText() string {
	if d.Capped && d.Estimate > d.Total {
		return "about " + groupDigits(d.Estimate)
	}
	return totalText(d.Total, d.Capped)
}
func (d *orgTokensData) AccountLink(a string) string { return accountLink(a) }

var typeLabels = map[string]string{"USER_ACCOUNT": "User account", "SERVICE_ACCOUNT": "Service account",
	"INACTIVE_SERVICE_ACCOUNT": "Inactive service account"}

func totalText(n int, capped bool) string {
	s := groupDigits(n)
	if capped {
		return "more than " + s
	}
	return s
}

func groupDigits(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func accountLink(identifier string) string {
	if strings.HasPrefix(identifier, tokenward.ServiceAccountPrefix) {
		return "/console/accounts/service-accounts/" + url.PathEscape(identifier)
	}
	return "/console/accounts/users/" + url.PathEscape(identifier)
}

func (c *Console) orgTokensView(r *http.Request, p tokenward.Principal) (view, error) {
	return c.orgTokensViewOf(r, p, parseTokenView(r.URL.Query()))
}

func (c *Console) orgTokensViewOf(r *http.Request, p tokenward.Principal, tv tokenView) (view, error) {
	now := c.service.Now()
	page, err := c.service.SearchTokens(r.Context(), p, tv.searchRequest(now))
	if tokenward.ErrorCode(err) == tokenward.EInvalid && tv.Cursor != "" {
		// A cursor from an older link (another sort, a release that wrote them
		// differently): the page number still says where to go.
		tv.Cursor = ""
		page, err = c.service.SearchTokens(r.Context(), p, tv.searchRequest(now))
	}
	if err != nil {
		return view{}, err
	}
	d := &orgTokensData{View: tv, Tokens: page.Items, Total: page.Total, Types: []string{"USER_ACCOUNT", "SERVICE_ACCOUNT", "INACTIVE_SERVICE_ACCOUNT"},
		PageSizes: pageSizes, Query: tv.query(func(v *tokenView) { v.Page = 1 }), OpenSaved: r.URL.Query().Get("saved")}
	d.Capped = page.Total >= page.Offset+page.Limit+1_000
	d.Estimate = page.Estimate
	if len(page.Items) > 0 {
		d.From, d.To = page.Offset+1, page.Offset+len(page.Items)
	}
	d.HasPrev, d.HasNext = tv.Page > 1, page.More()
	d.next, d.previous = page.Next, page.Previous

	facet, err := c.service.TokenFacet(r.Context(), p, "account", tokenward.FacetRequest{FacetQuery: tv.AccountQ, Limit: 15})
	if err != nil {
		return view{}, err
	}
	d.AccountNames = facet.Items
	for _, a := range tv.Accounts {
		if !slices.Contains(d.AccountNames, a) {
			d.AccountNames = append([]string{a}, d.AccountNames...)
		}
	}
	saved, err := c.service.SavedSearches(r.Context(), p, "TOKEN", 0, 100)
	if err != nil {
		return view{}, err
	}
	for _, s := range saved.Items {
		name, query := savedNameAndQuery(s.Query)
		d.Saved = append(d.Saved, savedSearchItem{ID: s.ID, Name: name, Query: query})
	}
	return view{Title: "API Tokens", Nav: "api-tokens", Data: d}, nil
}

func (c *Console) orgTokens(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "api-tokens", func() (view, error) {
		tv := parseTokenView(r.URL.Query())
		if _, err := tokenward.ParseAddressRange(tv.Client); tv.Client != "" && err != nil {
			// The refusal is shown above the table without that filter, the value kept in
			// its field to be corrected.
			tv.BadClient, tv.Client = tv.Client, ""
			return view{}, onPage(err, func() (view, error) { return c.orgTokensViewOf(r, p, tv) })
		}
		return c.orgTokensViewOf(r, p, tv)
	})
}

// back is where a form on the API Tokens page returns to: the view it was posted from. The
// value comes from the form, so it is rebuilt rather than trusted: the table's own path
// and nothing else (no other path, host or scheme: no open redirect), with its query
// re-encoded (no control characters reach the Location header).
func back(r *http.Request) string { return backTo(r.PostFormValue("return")) }

// backTo is back for a return value however it came.
func backTo(ret string) string {
	const table = "/console/accounts/api-tokens"
	u, err := url.Parse(ret)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || u.Path != table {
		return table
	}
	if q := u.Query().Encode(); q != "" {
		return table + "?" + q
	}
	return table
}

func (c *Console) revokeOrgToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	t, err := c.service.RevokeOrgToken(r.Context(), p, r.PostFormValue("token"))
	if err != nil {
		return onPage(err, func() (view, error) { return c.orgTokensView(r, p) })
	}
	return c.redirect(w, r, back(r), flash{Notice: fmt.Sprintf("Token %s of %s revoked. Anything still using it now gets an authorization error.", "••••"+t.Hint, t.Account)})
}
