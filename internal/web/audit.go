package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
)

// auditData is the audit trail page: a filter form and a page of events.
type auditData struct {
	Filter   tokenward.AuditFilter
	From, To string // the date inputs, YYYY-MM-DD
	Events   []tokenward.AuditEvent
	Total    string
	Page     int
	Prev     string
	Next     string
	Actions  []string
	// Labels are the tokens the page's events name, by public id: the label every token
	// table shows (••••hint and name), so that an entry and a row match by eye.
	Labels map[string]tokenward.TokenLabel
}

// auditToken is the token an audit event is about, with its label when it is known.
type auditToken struct {
	ID, Account string
	Label       tokenward.TokenLabel
	Known       bool
}

// tokenTarget reads a token event's target ("<id> of <account>", tokenward.TokenTarget).
func tokenTarget(e tokenward.AuditEvent) (id, account string, ok bool) {
	if !strings.HasPrefix(e.Action, "token.") {
		return "", "", false
	}
	return strings.Cut(e.Target, " of ")
}

// Token returns the token e is about, or nil when it is about no token.
func (d *auditData) Token(e tokenward.AuditEvent) *auditToken {
	id, account, ok := tokenTarget(e)
	if !ok {
		return nil
	}
	l, known := d.Labels[id]
	return &auditToken{ID: id, Account: account, Label: l, Known: known}
}

var auditActions = []string{"token.", "account.", "permission.", "role.", "group.", "signin.", "savedsearch.", "password.set", "invite."}

func (c *Console) auditTrail(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "audit", func() (view, error) {
		q := r.URL.Query()
		d := &auditData{Filter: tokenward.AuditFilter{Actor: q.Get("actor"), Target: q.Get("target"), Action: q.Get("action"), Limit: 50},
			From: q.Get("from"), To: q.Get("to"), Page: 1, Actions: auditActions}
		if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
			d.Page = n
		}
		d.Filter.Offset = (d.Page - 1) * d.Filter.Limit
		if t, err := time.Parse("2006-01-02", d.From); err == nil {
			d.Filter.Start = t
		}
		if t, err := time.Parse("2006-01-02", d.To); err == nil {
			d.Filter.End = t.Add(24*time.Hour - time.Millisecond)
		}
		page, err := c.service.AuditTrail(r.Context(), p, d.Filter)
		if err != nil {
			return view{}, err
		}
		d.Events = page.Items
		var ids []string
		for _, e := range page.Items {
			if id, _, ok := tokenTarget(e); ok {
				ids = append(ids, id)
			}
		}
		if d.Labels, err = c.service.TokenLabels(r.Context(), p, ids); err != nil {
			return view{}, err
		}
		d.Total = totalText(page.Total, page.Total >= page.Offset+page.Limit+1_000)
		link := func(n int) string {
			v := url.Values{}
			for _, k := range []string{"actor", "target", "action", "from", "to"} {
				if q.Get(k) != "" {
					v.Set(k, q.Get(k))
				}
			}
			v.Set("page", strconv.Itoa(n))
			return "/console/accounts/audit?" + v.Encode()
		}
		if d.Page > 1 {
			d.Prev = link(d.Page - 1)
		}
		if page.More() {
			d.Next = link(d.Page + 1)
		}
		return view{Title: "Audit Trail", Nav: "audit", Data: d}, nil
	})
}
