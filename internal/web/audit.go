package web

import (
	"net/http"
	"net/url"
	"strconv"
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
