package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/web"
)

// The console's regression tests of the issue "Hostile input", named after its findings.

// TestHostileNoticeFromAddress: a link cannot make a page show a genuine-looking status
// banner; a notice the console wrote shows once, and a planted notice cookie shows nothing.
func TestHostileNoticeFromAddress(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		b := e.browser()
		e.signIn(b, "jane@example.com", password)
		phish := "Your account is locked: call +1 555 0100"
		for _, path := range []string{home, "/console/accounts/api-tokens", "/console/accounts/service-accounts", "/console/accounts/roles"} {
			page := e.send(b, "GET", path+"?notice="+url.QueryEscape(phish), nil)
			if page.status != 200 || strings.Contains(page.body, "call +1 555") || strings.Contains(page.body, `class="notice"`) {
				t.Errorf("GET %s?notice=…: %d, the page shows the address's text or a notice", path, page.status)
			}
		}
		// A notice cookie not written by the console (a sibling host can plant cookies).
		planted := e.browser()
		e.signIn(planted, "jane@example.com", password)
		u, _ := url.Parse(e.srv.URL)
		planted.Jar.SetCookies(u, []*http.Cookie{{Name: "tokenward_notice", Path: "/",
			Value: "WW91ciBhY2NvdW50IGlzIGxvY2tlZA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}})
		if page := e.send(planted, "GET", home, nil); strings.Contains(page.body, `class="notice"`) {
			t.Errorf("a planted notice cookie was shown")
		}
		// A genuine one: once, then not on reload.
		r := e.send(b, "POST", "/console/accounts/service-accounts", url.Values{"identifier": {"bot"}})
		if r.status != http.StatusSeeOther || strings.Contains(r.header.Get("Location"), "notice") {
			t.Fatalf("create a service account: %d to %q, want 303 to an address without the notice", r.status, r.header.Get("Location"))
		}
		if page := e.send(b, "GET", r.header.Get("Location"), nil); !strings.Contains(page.body, "Service account created.") {
			t.Errorf("the page after creating lacks its notice")
		}
		if page := e.send(b, "GET", r.header.Get("Location"), nil); strings.Contains(page.body, "Service account created.") {
			t.Errorf("the notice shows again on reload")
		}
	})
}

// TestHostileStaticDirectoryListing: the static files are served, their directories are
// not listed.
func TestHostileStaticDirectoryListing(t *testing.T) {
	e := newEnv(t, store.SQLite, false)
	b := e.browser()
	if r := e.send(b, "GET", "/console/static/console.css", nil); r.status != 200 {
		t.Errorf("GET /console/static/console.css: %d, want 200", r.status)
	}
	for _, path := range []string{"/console/static/", "/console/static/vendor/", "/console/static/vendor", "/console/static//"} {
		r := e.send(b, "GET", path, nil)
		if loc, err := url.Parse(r.header.Get("Location")); r.status/100 == 3 && err == nil {
			r = e.send(b, "GET", mustURL(e.srv.URL+path).ResolveReference(loc).Path, nil)
		}
		// A listing links the files by their bare names.
		if r.status != 404 || strings.Contains(r.body, `href="console.css"`) || strings.Contains(r.body, `href="htmx-`) {
			t.Errorf("GET %s: %d, want 404 and no listing\n%.300s", path, r.status, r.body)
		}
	}
}

// TestHostileNoHSTSUnderTLS: under --tls-cert every answer tells browsers to keep to
// HTTPS; over plain HTTP (behind a proxy that terminates TLS) it is the proxy's to say.
func TestHostileNoHSTSUnderTLS(t *testing.T) {
	for _, tls := range []bool{true, false} {
		e := newEnv(t, store.SQLite, tls)
		b := e.browser()
		for _, path := range []string{"/console/signin", "/console/static/console.css", "/api/v2/apitoken"} {
			got := e.send(b, "GET", path, nil).header.Get("Strict-Transport-Security")
			if tls && got != "max-age=31536000" || !tls && got != "" {
				t.Errorf("TLS %v, GET %s: Strict-Transport-Security %q", tls, path, got)
			}
		}
	}
}

// signInPolicy is the default policy with the given budgets.
func signInPolicy(perAccount, perAddress tokenward.Budget) tokenward.SignInPolicy {
	p := tokenward.DefaultSignInPolicy()
	p.PerAccount, p.PerAddress = perAccount, perAddress
	return p
}

// auditCount counts the audit events of an action about target.
func (e *env) auditCount(admin tokenward.Principal, action, target string) int {
	e.t.Helper()
	page, err := e.service.AuditTrail(context.Background(), admin, tokenward.AuditFilter{Action: action, Target: target, Limit: 1})
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Total
}

// TestHostileSignInChecksPastTheBudget: the budgets are reserved before the password check,
// so that 20 parallel wrong sign-ins against a budget of 5 run 5 checks, not 20; each
// attempt is in the audit trail as checked (signin.failure) or refused (signin.limited).
func TestHostileSignInChecksPastTheBudget(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		policy := signInPolicy(tokenward.Budget{Burst: 5, Per: 15 * time.Minute}, tokenward.Budget{Burst: 100, Per: 15 * time.Minute})
		e := newEnvWith(t, engine, false, web.Config{}, tokenward.Config{SignIn: &policy})
		admin := e.admin()
		statuses := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				r := e.signIn(e.browser(), "jane@example.com", "wrong password!")
				mu.Lock()
				defer mu.Unlock()
				statuses[r.status]++
				if r.status == 429 && r.header.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
			})
		}
		wg.Wait()
		if statuses[401] != 5 || statuses[429] != 15 {
			t.Errorf("20 parallel wrong sign-ins with a budget of 5: %v, want 5×401 and 15×429", statuses)
		}
		if f, l := e.auditCount(admin, "signin.failure", "jane@example.com"), e.auditCount(admin, "signin.limited", "jane@example.com"); f != 5 || l != 15 {
			t.Errorf("audit trail: %d signin.failure and %d signin.limited, want 5 and 15", f, l)
		}
		// The right password from a browser that never signed in: still refused.
		if r := e.signIn(e.browser(), "JANE@example.com", password); r.status != 429 || r.header.Get("Set-Cookie") != "" {
			t.Errorf("right password after the budget is spent: %d, want 429 without a session", r.status)
		}
		e.clock.Advance(15 * time.Minute)
		if r := e.signIn(e.browser(), "jane@example.com", password); r.status != http.StatusSeeOther {
			t.Errorf("after the budget refilled: %d, want 303", r.status)
		}
	})
}

// TestHostileSignInLockOut: five wrong passwords from a stranger no longer lock the owner
// out: a browser that signed in before spends a budget of its own.
func TestHostileSignInLockOut(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		policy := signInPolicy(tokenward.Budget{Burst: 3, Per: 15 * time.Minute}, tokenward.Budget{})
		e := newEnvWith(t, engine, false, web.Config{}, tokenward.Config{SignIn: &policy})
		owner := e.browser()
		if r := e.signIn(owner, "jane@example.com", password); r.status != http.StatusSeeOther {
			t.Fatalf("first sign-in: %d", r.status)
		}
		stranger := e.browser()
		for range 10 {
			e.signIn(stranger, "jane@example.com", "guess guess guess")
		}
		if r := e.signIn(stranger, "jane@example.com", password); r.status != 429 {
			t.Errorf("the stranger with the right password after 10 guesses: %d, want 429", r.status)
		}
		if r := e.signIn(owner, "jane@example.com", password); r.status != http.StatusSeeOther {
			t.Errorf("the owner's browser while a stranger guesses: %d, want 303", r.status)
		}
		// The owner's browser has a budget too: a stolen device cookie is no free pass.
		for range 3 {
			e.signIn(owner, "jane@example.com", "typo typo typo")
		}
		if r := e.signIn(owner, "jane@example.com", password); r.status != 429 {
			t.Errorf("the owner's browser after its own 3 failures: %d, want 429", r.status)
		}
		// Another account's device cookie does not open jane's budget.
		if _, err := tokenward.NewOperator(e.service).CreateUser(context.Background(), "bob@example.com", 0, password); err != nil {
			t.Fatal(err)
		}
		bob := e.browser()
		if r := e.signIn(bob, "bob@example.com", password); r.status != http.StatusSeeOther {
			t.Fatalf("bob signs in: %d", r.status)
		}
		if r := e.signIn(bob, "jane@example.com", password); r.status != 429 {
			t.Errorf("jane from bob's trusted browser: %d, want 429 (the browser is trusted for bob only)", r.status)
		}
	})
}

// TestHostileSignInAddressBudget: failures from one address, whatever the emails (known,
// unknown, or text that is no email), spend its budget; past it every account is refused
// from there, and the attempts are audited with their text storable and shown escaped.
func TestHostileSignInAddressBudget(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		policy := signInPolicy(tokenward.Budget{}, tokenward.Budget{Burst: 4, Per: 15 * time.Minute})
		e := newEnvWith(t, engine, false, web.Config{}, tokenward.Config{SignIn: &policy})
		admin := e.admin()
		for _, email := range []string{"nobody@example.com", "evil\n\u202e@example.com", "nul\x00@example.com", "bad\xff@example.com"} {
			if r := e.signIn(e.browser(), email, "guess guess guess"); r.status != 401 {
				t.Errorf("sign-in as %q: %d, want 401", email, r.status)
			}
		}
		if r := e.signIn(e.browser(), "jane@example.com", password); r.status != 429 {
			t.Errorf("after 4 failures from the address: %d, want 429", r.status)
		}
		if n := e.auditCount(admin, "signin.failure", ""); n != 4 {
			t.Errorf("%d signin.failure events, want 4", n)
		}
		b := e.browser()
		e.clock.Advance(15 * time.Minute)
		e.signIn(b, "jane@example.com", password)
		page := e.send(b, "GET", "/console/accounts/audit?action=signin.", nil)
		if !strings.Contains(page.body, `&#34;evil\n\u202e@example.com&#34;`) || strings.Contains(page.body, "\u202e") {
			t.Errorf("the audit page does not show the newline and the bidi override escaped:\n%s", page.body)
		}
	})
}

// TestHostileSignInFlood: password checks at once are capped by memory; past a short
// wait a sign-in gets 503 with Retry-After, and is audited as limited.
func TestHostileSignInFlood(t *testing.T) {
	p := signInPolicy(tokenward.Budget{}, tokenward.Budget{})
	p.CheckMemory, p.QueueWait = tokenward.ArgonMemoryKiB<<10, time.Millisecond
	e := newEnvWith(t, store.SQLite, false, web.Config{TrustForwardedFor: true}, tokenward.Config{SignIn: &p})
	admin := e.admin()
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			r := e.send(e.browser(), "POST", "/console/signin", url.Values{"email": {fmt.Sprintf("u%d@example.com", i)}, "password": {"guess guess guess"}},
				fmt.Sprintf("X-Forwarded-For: 10.0.0.%d", i))
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			if r.status == 503 && r.header.Get("Retry-After") != "1" {
				t.Errorf("503 with Retry-After %q, want 1", r.header.Get("Retry-After"))
			}
		})
	}
	wg.Wait()
	if statuses[401]+statuses[503] != 40 || statuses[503] == 0 || statuses[401] == 0 {
		t.Errorf("40 parallel sign-ins with room for one check: %v, want 401s and 503s only, some of each", statuses)
	}
	if f, l := e.auditCount(admin, "signin.failure", ""), e.auditCount(admin, "signin.limited", ""); f != statuses[401] || l != statuses[503] {
		t.Errorf("audit trail: %d failures and %d limited, want %d and %d", f, l, statuses[401], statuses[503])
	}
}

// TestHostileConsoleText: the console refuses a NUL or invalid UTF-8 in its path, query
// or forms with a 400 page on both engines, before any handler reads them.
func TestHostileConsoleText(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		b := e.browser()
		e.signIn(b, "jane@example.com", password)
		for _, bad := range []string{"%00", "%FF"} {
			for _, path := range []string{
				"/console/accounts/api-tokens?q=" + bad, "/console/accounts/api-tokens?account=a" + bad + "&type=USER",
				"/console/accounts/audit?target=" + bad, "/console/accounts/users?q=" + bad,
				"/console/accounts/users/jane" + bad + "@example.com", "/console/accounts/service-accounts/sa::x" + bad,
			} {
				if r := e.send(b, "GET", path, nil); r.status != 400 {
					t.Errorf("GET %s: %d, want 400", path, r.status)
				}
			}
		}
		for _, bad := range []string{"\x00", "\xff"} {
			r := e.send(b, "POST", "/console/accounts/service-accounts", url.Values{"identifier": {"bot"}, "description": {"d" + bad}})
			if r.status != 400 {
				t.Errorf("create a service account with %q in its description: %d, want 400", bad, r.status)
			}
		}
		if _, err := e.service.AccountFor(context.Background(), e.admin(), "sa::bot", tokenward.ServiceAccount); tokenward.ErrorCode(err) != tokenward.ENotFound {
			t.Errorf("the refused form created sa::bot (%v)", err)
		}
	})
}

// TestHostileServiceAccountWithBadFirstToken: a service account created with its first
// token is both or neither: a token name the service refuses leaves no account behind, and
// a good one creates the account and shows the token's secret once.
func TestHostileServiceAccountWithBadFirstToken(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		b := e.browser()
		e.signIn(b, "jane@example.com", password)
		ctx := context.Background()
		for _, name := range []string{strings.Repeat("n", tokenward.MaxTokenNameLength+1), "bad\x00name"} {
			r := e.send(b, "POST", "/console/accounts/service-accounts",
				url.Values{"identifier": {"bot"}, "token": {"on"}, "token_name": {name}})
			if r.status != http.StatusBadRequest {
				t.Errorf("create sa::bot with token name %q: %d, want 400", name, r.status)
			}
			if _, err := e.service.AccountFor(ctx, e.admin(), "sa::bot", tokenward.ServiceAccount); tokenward.ErrorCode(err) != tokenward.ENotFound {
				t.Fatalf("the refused token name left sa::bot behind (%v)", err)
			}
		}
		r := e.send(b, "POST", "/console/accounts/service-accounts",
			url.Values{"identifier": {"bot"}, "token": {"on"}, "token_name": {"first"}})
		// Post/Redirect/Get: the answer is a redirect, the secret waits for the page it leads to.
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/accounts/service-accounts/sa::bot" {
			t.Fatalf("create sa::bot with a first token: %d to %q, want 303 to its page", r.status, r.header.Get("Location"))
		}
		if page := e.send(b, "GET", r.header.Get("Location"), nil); !strings.Contains(page.body, "Service account created.") ||
			!strings.Contains(page.body, `id="new-secret"`) {
			t.Fatalf("the page after creating sa::bot lacks its notice or the new secret")
		}
		tokens, err := e.service.ServiceAccountTokens(ctx, e.admin(), "sa::bot")
		if err != nil || len(tokens) != 1 || tokens[0].Name != "first" || tokens[0].AccountType != tokenward.TypeServiceAccount {
			t.Fatalf("sa::bot's tokens = %+v, %v; want one named first", tokens, err)
		}
		if n := e.auditCount(e.admin(), tokenward.AuditTokenGenerate, tokens[0].ID+" of sa::bot"); n != 1 {
			t.Errorf("%d token.generate events for the first token, want 1", n)
		}
	})
}
