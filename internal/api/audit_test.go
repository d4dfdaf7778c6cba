package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

type auditPage struct {
	Items []struct {
		Time   int64  `json:"time"`
		Actor  string `json:"actor"`
		Source string `json:"source"`
		Action string `json:"action"`
		Target string `json:"target"`
		Detail string `json:"detail"`
	} `json:"items"`
	TotalItems int `json:"totalItems"`
}

func (p auditPage) lines() []string {
	var out []string
	for _, e := range p.Items {
		out = append(out, e.Actor+" "+e.Action+" "+e.Target+" "+e.Detail)
	}
	return out
}

// TestAuditTrail makes one change of each kind through the API and reads them back,
// filtered by actor, target, action and time; no secret ever appears in the trail.
func TestAuditTrail(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement))
		start := e.clock.Now().Add(-time.Second).UnixMilli()
		var sa saJSON
		e.do("POST", "/api/v2/account/serviceaccount", `{"identifier":"sa::audited","groups":["ingestion"]}`, admin).object(t, &sa)
		gen := e.do("POST", "/api/v2/apitoken/serviceaccount/sa::audited", `{"tokenName":"main"}`, admin).tokens(t)
		secret := e.remember(gen[0].TokenID)
		var listed []apiToken
		e.do("GET", "/api/v2/apitoken/serviceaccount/sa::audited", "", admin).object(t, &listed)
		id := listed[0].TokenID
		e.do("PUT", "/api/v2/apitoken/serviceaccount/sa::audited/"+id, `{"tokenName":"renamed"}`, admin).object(t, &listed[0])
		e.do("POST", "/api/v2/account/sa::audited/grant/events_management", "", admin).bare(t, nil)
		e.do("POST", "/api/v2/account/serviceaccount/sa::audited/deactivate", "", admin).container(t)
		e.do("DELETE", "/api/v2/apitoken/serviceaccount/sa::audited/"+secret, "", admin).container(t)
		e.do("DELETE", "/api/v2/account/sa::audited", "", admin).container(t)

		var page auditPage
		e.do("GET", fmt.Sprintf("/api/v2/audit?actor=admin@example.com&start=%d", start), "", admin).object(t, &page)
		got := strings.Join(page.lines(), "\n")
		target := id + " of sa::audited"
		want := strings.Join([]string{
			"admin@example.com account.delete sa::audited 0 tokens revoked",
			"admin@example.com token.revoke " + target + " ",
			"admin@example.com account.deactivate sa::audited ",
			"admin@example.com permission.grant sa::audited events_management",
			"admin@example.com token.rename " + target + " name: renamed",
			"admin@example.com token.generate " + target + " name: main",
			"admin@example.com account.create sa::audited permissions: ingestion",
		}, "\n")
		if got != want {
			t.Errorf("audit trail of admin@example.com:\n%s\nwant:\n%s", got, want)
		}
		for _, ev := range page.Items {
			if ev.Source != "127.0.0.1" {
				t.Errorf("source %q, want the client's address 127.0.0.1", ev.Source)
			}
		}
		if strings.Contains(got, secret) {
			t.Errorf("a secret appears in the audit trail")
		}
		e.do("GET", "/api/v2/audit?action=token.&target="+url.QueryEscape(target), "", admin).object(t, &page)
		if len(page.Items) != 3 {
			t.Errorf("token.* events of the token: %d, want 3 (generate, rename, revoke)", len(page.Items))
		}
		e.do("GET", fmt.Sprintf("/api/v2/audit?end=%d", start), "", admin).object(t, &page)
		for _, ev := range page.Items {
			if ev.Time > start {
				t.Errorf("event at %d after end=%d", ev.Time, start)
			}
		}
		if res := e.do("GET", "/api/v2/audit?start=yesterday", "", admin); res.Status != 400 {
			t.Errorf("start=yesterday: %d, want 400", res.Status)
		}
		plain := bearer(e.user("plain@example.com"))
		if res := e.do("GET", "/api/v2/audit", "", plain); res.Status != 403 {
			t.Errorf("audit trail for a user without Accounts: %d, want 403", res.Status)
		}
	})
}
