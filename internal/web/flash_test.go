package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

var shownSecret = regexp.MustCompile(`<code id="new-secret">([^<]+)</code>`)

// TestGenerateRedirectsAndShowsTheSecretOnce: Generate answers with a redirect to a page
// that is safe to reload; that page shows the secret once, the address never holds it,
// and another session cannot take it.
func TestGenerateRedirectsAndShowsTheSecretOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		b := e.browser()
		e.signIn(b, "jane@example.com", password)
		other := e.browser()
		e.signIn(other, "jane@example.com", password)

		r := e.send(b, "POST", "/console/profile/tokens", url.Values{"name": {"laptop"}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != home {
			t.Fatalf("generate: %d to %q, want 303 to %s", r.status, r.header.Get("Location"), home)
		}
		if strings.Contains(r.body, "new-secret") {
			t.Errorf("the redirect's body shows the secret")
		}
		for _, ck := range r.header.Values("Set-Cookie") {
			if strings.Count(ck, "-") >= 4 {
				t.Errorf("a cookie looks like it carries the secret: %q", ck)
			}
		}
		// Another session of the same person does not get it.
		if page := e.send(other, "GET", home, nil); shownSecret.MatchString(page.body) {
			t.Errorf("another session was shown the secret")
		}
		page := e.send(b, "GET", r.header.Get("Location"), nil)
		m := shownSecret.FindStringSubmatch(page.body)
		if m == nil || !strings.Contains(page.body, "laptop") {
			t.Fatalf("the page after Generate lacks the secret:\n%s", page.body)
		}
		if _, err := e.service.Authenticate(t.Context(), m[1]); err != nil {
			t.Errorf("the shown secret does not authenticate: %v", err)
		}
		if again := e.send(b, "GET", home, nil); strings.Contains(again.body, m[1]) || shownSecret.MatchString(again.body) {
			t.Errorf("the secret shows again on reload")
		}

		// A service account's Generate too.
		e.send(b, "POST", "/console/accounts/service-accounts", url.Values{"identifier": {"bot"}})
		e.send(b, "GET", "/console/accounts/service-accounts/sa::bot", nil) // its notice
		r = e.send(b, "POST", "/console/accounts/service-accounts/sa::bot/tokens", url.Values{"name": {"main"}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/accounts/service-accounts/sa::bot" {
			t.Fatalf("generate for sa::bot: %d to %q, want 303 to its page", r.status, r.header.Get("Location"))
		}
		if page := e.send(b, "GET", r.header.Get("Location"), nil); !shownSecret.MatchString(page.body) {
			t.Errorf("sa::bot's page after Generate lacks the secret")
		}
	})
}

// TestFlashExpires: a flash not shown within its lifetime is gone.
func TestFlashExpires(t *testing.T) {
	e := newEnv(t, store.SQLite, false)
	b := e.browser()
	e.signIn(b, "jane@example.com", password)
	e.send(b, "POST", "/console/profile/tokens", url.Values{"name": {"laptop"}})
	e.clock.Advance(tokenward.FlashLifetime + time.Minute) // past its lifetime, within the session's idle time
	if page := e.send(b, "GET", home, nil); shownSecret.MatchString(page.body) {
		t.Errorf("an expired flash was shown")
	}
}
