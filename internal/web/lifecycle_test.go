package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestConsoleTokenLifecycle: the expiry picker of Generate reaches the service, the
// tables show expiry, Rotate… shows the new secret once, and the policy page previews
// and saves, refusing a default above the maximum on the page.
func TestConsoleTokenLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		ctx := context.Background()
		b := e.browser()
		if r := e.signIn(b, "jane@example.com", password); r.status != http.StatusSeeOther {
			t.Fatalf("sign in: %d", r.status)
		}
		page := e.send(b, "GET", home, nil)
		for _, want := range []string{`name="expires"`, `value="never" selected`, `value="30"`, `name="expires_days"`} {
			if !strings.Contains(page.body, want) {
				t.Errorf("API Access without a policy lacks %s", want)
			}
		}
		// Generate for 30 days, then one that never expires.
		if r := e.send(b, "POST", "/console/profile/tokens", url.Values{"name": {"month"}, "expires": {"30"}}); r.status != http.StatusSeeOther {
			t.Fatalf("generate for 30 days: %d %s", r.status, r.body)
		}
		if r := e.send(b, "POST", "/console/profile/tokens", url.Values{"name": {"forever"}, "expires": {"never"}}); r.status != http.StatusSeeOther {
			t.Fatalf("generate never: %d", r.status)
		}
		if r := e.send(b, "POST", "/console/profile/tokens", url.Values{"expires": {"custom"}, "expires_days": {"0"}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Expires: a number of days") {
			t.Errorf("custom 0 days: %d, want 400 naming Expires", r.status)
		}
		op := tokenward.NewOperator(e.service)
		tokens, err := op.Tokens(ctx, "jane@example.com")
		if err != nil || len(tokens) != 2 {
			t.Fatalf("own tokens: %d, %v", len(tokens), err)
		}
		if want := e.clock.Now().Add(30 * 24 * time.Hour); !tokens[0].Expires.Equal(want) {
			t.Errorf("30 days token expires %v, want %v", tokens[0].Expires, want)
		}
		if !tokens[1].Expires.IsZero() {
			t.Errorf("never token expires %v", tokens[1].Expires)
		}
		page = e.send(b, "GET", home, nil)
		if !strings.Contains(page.body, `<th scope="col">Expires</th>`) || !strings.Contains(page.body, ">never<") ||
			!strings.Contains(page.body, tokens[0].Expires.UTC().Format("Jan 2, 2006")) {
			t.Errorf("API Access shows no expiry")
		}
		org := e.send(b, "GET", "/console/accounts/api-tokens", nil)
		if !strings.Contains(org.body, `sort=expiresAt`) || !strings.Contains(org.body, ">never<") || !strings.Contains(org.body, "/console/accounts/api-tokens/rotate") {
			t.Errorf("API Tokens table shows no expiry or rotate")
		}

		if u := e.send(b, "GET", "/console/accounts/users/jane@example.com", nil); !strings.Contains(u.body, `action="/console/accounts/api-tokens/rotate"`) || !strings.Contains(u.body, ">never<") {
			t.Errorf("a user's page offers no Rotate or shows no expiry")
		}
		// Rotate, no JavaScript: the confirm page asks the grace period.
		path := "/console/profile/tokens/" + tokens[1].ID + "/rotate"
		c := e.send(b, "GET", "/console/confirm?"+url.Values{"to": {path}, "grace": {"1h"}}.Encode(), nil)
		if c.status != http.StatusOK || !strings.Contains(c.body, `name="grace"`) || !strings.Contains(c.body, `value="1h" selected`) {
			t.Errorf("confirm rotate: %d, no grace choice", c.status)
		}
		r := e.send(b, "POST", path, url.Values{"grace": {"1h"}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != home {
			t.Fatalf("rotate: %d to %q", r.status, r.header.Get("Location"))
		}
		shown := e.send(b, "GET", home, nil)
		if !strings.Contains(shown.body, `id="new-secret"`) || !strings.Contains(shown.body, "keeps working for 1 hour") {
			t.Errorf("after rotation the page shows no new secret")
		}
		if again := e.send(b, "GET", home, nil); strings.Contains(again.body, `id="new-secret"`) {
			t.Errorf("the rotated secret shown twice")
		}
		after, _ := op.Tokens(ctx, "jane@example.com")
		rotated := byID(after, tokens[1].ID)
		if !rotated.GraceEnds.Equal(e.clock.Now().Add(time.Hour)) {
			t.Errorf("rotated %s grace ends %v", rotated.ID, rotated.GraceEnds)
		}
		if r := e.send(b, "POST", path, url.Values{"grace": {"48h"}}); r.status != http.StatusBadRequest {
			t.Errorf("grace 48h: %d, want 400", r.status)
		}

		// Policy: an error on the page, a preview that changes nothing, a save.
		pol := e.send(b, "GET", "/console/accounts/token-policy", nil)
		if pol.status != http.StatusOK || !strings.Contains(pol.body, `href="/console/accounts/token-policy" aria-current="page"`) {
			t.Fatalf("policy page: %d", pol.status)
		}
		bad := e.send(b, "POST", "/console/accounts/token-policy", url.Values{"user_default": {"30"}, "user_max": {"7"}, "action": {"save"}})
		if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "above the maximum") || !strings.Contains(bad.body, `value="30"`) {
			t.Errorf("default above maximum: %d", bad.status)
		}
		preview := e.send(b, "POST", "/console/accounts/token-policy", url.Values{"user_max": {"7"}, "action": {"preview"}})
		if preview.status != http.StatusOK || !strings.Contains(preview.body, "2 existing tokens</strong> would expire sooner") {
			t.Errorf("preview: %d %s", preview.status, between(preview.body, "Preview", "</p>"))
		}
		if p, _ := op.TokenPolicy(ctx); p.UserTokens.Max != 0 {
			t.Errorf("preview changed the policy: %+v", p)
		}
		save := e.send(b, "POST", "/console/accounts/token-policy", url.Values{"user_max": {"7"}, "sa_default": {"90"}, "action": {"save"}})
		if save.status != http.StatusSeeOther {
			t.Fatalf("save: %d", save.status)
		}
		if p, _ := op.TokenPolicy(ctx); p.UserTokens.Max != 7*24*time.Hour || p.ServiceAccountTokens.Default != 90*24*time.Hour {
			t.Errorf("saved policy: %+v", p)
		}
		if saved := e.send(b, "GET", "/console/accounts/token-policy", nil); !strings.Contains(saved.body, "2 existing tokens now expire sooner") {
			t.Errorf("saved notice missing")
		}
		// Now the picker offers no "never" and no preset above 7 days for user tokens;
		// service accounts default to 90 days.
		page = e.send(b, "GET", home, nil)
		if strings.Contains(page.body, `value="never"`) || strings.Contains(page.body, `value="30"`) || !strings.Contains(page.body, `value="7" selected`) {
			t.Errorf("picker under a 7-day maximum: %s", between(page.body, `name="expires"`, "</select>"))
		}
		sa := e.send(b, "GET", "/console/accounts/service-accounts", nil)
		if !strings.Contains(sa.body, `value="90" selected`) || !strings.Contains(sa.body, `value="never"`) {
			t.Errorf("service-account create form's picker: %s", between(sa.body, `name="expires"`, "</select>"))
		}
		if r := e.send(b, "POST", "/console/profile/tokens", url.Values{"expires": {"never"}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, "never expires is not allowed") {
			t.Errorf("never under a maximum: %d", r.status)
		}
	})
}

// TestConsoleServiceAccountLifecycle: create with a token for 60 days, generate with a
// custom lifetime, rotate from the account's page and from the org table.
func TestConsoleServiceAccountLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		ctx := context.Background()
		b := e.browser()
		e.signIn(b, "jane@example.com", password)
		r := e.send(b, "POST", "/console/accounts/service-accounts", url.Values{"identifier": {"ci"}, "token": {"1"}, "token_name": {"main"}, "expires": {"60"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("create with token: %d %s", r.status, r.body)
		}
		acct := r.header.Get("Location")
		if r := e.send(b, "POST", acct+"/tokens", url.Values{"name": {"odd"}, "expires": {"custom"}, "expires_days": {"12"}}); r.status != http.StatusSeeOther {
			t.Fatalf("generate custom: %d", r.status)
		}
		tokens, err := tokenward.NewOperator(e.service).Tokens(ctx, "sa::ci")
		if err != nil {
			t.Fatal(err)
		}
		now := e.clock.Now()
		if len(tokens) != 2 || !tokens[0].Expires.Equal(now.Add(60*24*time.Hour)) || !tokens[1].Expires.Equal(now.Add(12*24*time.Hour)) {
			t.Fatalf("service-account tokens: %+v", tokens)
		}
		r = e.send(b, "POST", acct+"/tokens/"+tokens[0].ID+"/rotate", url.Values{"grace": {"0"}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != acct {
			t.Fatalf("rotate on the account's page: %d %q", r.status, r.header.Get("Location"))
		}
		if p := e.send(b, "GET", acct, nil); !strings.Contains(p.body, `id="new-secret"`) || !strings.Contains(p.body, "stopped working") || !strings.Contains(p.body, acct+"/tokens/"+tokens[0].ID+"/rotate") {
			t.Errorf("account page after rotation shows no secret or no Rotate")
		}
		ret := "/console/accounts/api-tokens?type=SERVICE_ACCOUNT"
		r = e.send(b, "POST", "/console/accounts/api-tokens/rotate", url.Values{"token": {tokens[1].ID}, "grace": {"24h"}, "return": {ret}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != ret {
			t.Fatalf("rotate from the org table: %d %q", r.status, r.header.Get("Location"))
		}
		if p := e.send(b, "GET", ret, nil); !strings.Contains(p.body, `id="new-secret"`) || !strings.Contains(p.body, "24 hours") {
			t.Errorf("org table after rotation shows no secret")
		}
	})
}

func byID(tokens []tokenward.Token, id string) tokenward.Token {
	for _, t := range tokens {
		if t.ID == id {
			return t
		}
	}
	return tokenward.Token{}
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}

// TestConsoleExpiryViewsAndIdle: the API Access page lists the caller's tokens expiring
// within 30 days (or expired), soonest first, with the date; the API Tokens table filters
// by "Expires within 7 days" and "Expired" and sorts by Expires (never last); the policy
// page previews how many tokens an idle timeout disables, saving disables them, and the
// tables say so.
func TestConsoleExpiryViewsAndIdle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		b := e.browser()
		if r := e.signIn(b, "jane@example.com", password); r.status != http.StatusSeeOther {
			t.Fatalf("sign in: %d", r.status)
		}
		for _, form := range []url.Values{
			{"name": {"soon"}, "expires": {"custom"}, "expires_days": {"3"}},
			{"name": {"later"}, "expires": {"custom"}, "expires_days": {"20"}},
			{"name": {"far"}, "expires": {"60"}},
			{"name": {"forever"}, "expires": {"never"}},
		} {
			if r := e.send(b, "POST", "/console/profile/tokens", form); r.status != http.StatusSeeOther {
				t.Fatalf("generate %s: %d %s", form.Get("name"), r.status, r.body)
			}
		}
		start := e.clock.Now()

		page := e.send(b, "GET", home, nil).body
		notice, _, _ := strings.Cut(page[strings.Index(page, `id="expiring"`)+1:], "</section>")
		if !strings.Contains(page, `id="expiring"`) || !inOrder(notice, "“soon”", "“later”") || strings.Contains(notice, "“far”") || strings.Contains(notice, "“forever”") ||
			!strings.Contains(notice, start.Add(3*24*time.Hour).UTC().Format("Jan 2, 2006")) || !strings.Contains(notice, "in 3 days") {
			t.Errorf("the expiry notice = %q, want soon (in 3 days, with its date) then later, nothing else", notice)
		}

		table := func(query string) string {
			r := e.send(b, "GET", "/console/accounts/api-tokens?"+query, nil)
			if r.status != http.StatusOK {
				t.Fatalf("API Tokens ?%s: %d", query, r.status)
			}
			body, _, _ := strings.Cut(r.body[strings.Index(r.body, "<tbody>"):], "</tbody>")
			return body
		}
		if rows := table("expiry=expires7"); !strings.Contains(rows, cell("soon")) || strings.Contains(rows, cell("later")) || strings.Contains(rows, cell("far")) {
			t.Errorf("Expires within 7 days lists %q, want soon alone", rows)
		}
		if rows := table("sort=expiresAt&dir=asc"); !inOrder(rows, cell("soon"), cell("later"), cell("far"), cell("forever")) {
			t.Errorf("sorted by Expires, soonest first: %q", rows)
		}
		if rows := table("sort=expiresAt&dir=desc"); !inOrder(rows, cell("forever"), cell("far"), cell("later"), cell("soon")) {
			t.Errorf("sorted by Expires, latest first: %q", rows)
		}

		e.clock.Set(start.Add(4 * 24 * time.Hour)) // soon has expired; sessions ended
		if r := e.signIn(b, "jane@example.com", password); r.status != http.StatusSeeOther {
			t.Fatalf("sign in again: %d", r.status)
		}
		if rows := table("expiry=expired"); !strings.Contains(rows, cell("soon")) || strings.Contains(rows, cell("later")) {
			t.Errorf("Expired lists %q, want soon alone", rows)
		}
		if page := e.send(b, "GET", home, nil).body; !strings.Contains(page, "<strong>expired</strong> on") {
			t.Errorf("the notice does not say soon expired")
		}

		// An idle timeout of 1 day: every unexpired token was generated 4 days ago and never
		// used (soon has expired: it is not counted).
		form := url.Values{"user_idle": {"1"}, "action": {"preview"}}
		if r := e.send(b, "POST", "/console/accounts/token-policy", form); !strings.Contains(r.body, "<strong>3 existing tokens</strong> would be disabled as idle") {
			t.Errorf("the preview does not count 3 idle tokens: %d", r.status)
		}
		form.Set("action", "save")
		r := e.send(b, "POST", "/console/accounts/token-policy", form)
		if r.status != http.StatusSeeOther {
			t.Fatalf("save: %d", r.status)
		}
		if policy := e.send(b, "GET", r.header.Get("Location"), nil).body; !strings.Contains(policy, "3 idle tokens disabled.") || !strings.Contains(policy, `name="user_idle" type="number" min="1" inputmode="numeric" value="1"`) {
			t.Errorf("after saving, the policy page lacks the notice or the idle timeout")
		}
		if rows := table(""); strings.Count(rows, "Disabled: idle") != 3 {
			t.Errorf("the table shows %d idle badges, want 3", strings.Count(rows, "Disabled: idle"))
		}
	})
}

// cell is a token's name as its table cell holds it: the bare name could also be part of
// a random public id or hint ("tw_ayfarbx…" holds "far").
func cell(name string) string { return "<td>" + name + "</td>" }

// inOrder reports whether every one of words appears in s, in that order.
func inOrder(s string, words ...string) bool {
	at := 0
	for _, w := range words {
		i := strings.Index(s[at:], w)
		if i < 0 {
			return false
		}
		at += i + len(w)
	}
	return true
}
