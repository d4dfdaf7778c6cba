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

var inviteLinkText = regexp.MustCompile(`<code id="invite-link">[^<]*(/console/set-password/[^<]+)</code>`)

// invite creates a user in the console and returns the set-password link's path, shown once.
func (e *env) invite(b *http.Client, email string) string {
	e.t.Helper()
	r := e.send(b, "POST", "/console/accounts/users", url.Values{"email": {email}})
	if r.status != http.StatusSeeOther || strings.Contains(r.header.Get("Location"), "set-password") {
		e.t.Fatalf("create user %s: %d to %q, want 303 to its page without the link", email, r.status, r.header.Get("Location"))
	}
	page := e.send(b, "GET", r.header.Get("Location"), nil)
	m := inviteLinkText.FindStringSubmatch(page.body)
	if m == nil || !strings.Contains(page.body, "User created.") {
		e.t.Fatalf("the page after creating %s lacks its set-password link:\n%s", email, page.body)
	}
	if again := e.send(b, "GET", r.header.Get("Location"), nil); inviteLinkText.MatchString(again.body) {
		e.t.Errorf("the set-password link shows again on reload")
	}
	return m[1]
}

// TestInviteSetsAPasswordOnce: the link opens a form for the new user, sets the password
// once, signs them in, is audited; a second use, a replaced link and an expired one fail.
func TestInviteSetsAPasswordOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		admin := e.browser()
		e.signIn(admin, "jane@example.com", password)
		link := e.invite(admin, "bob@example.com")

		bob := e.browser()
		form := e.send(bob, "GET", link, nil)
		if form.status != 200 || !strings.Contains(form.body, "bob@example.com") || !strings.Contains(form.body, `name="confirm"`) {
			t.Fatalf("the set-password link: %d, want the form for bob", form.status)
		}
		if r := e.send(bob, "POST", link, url.Values{"password": {"bob's long password"}, "confirm": {"bob's other password"}}); r.status != 400 || !strings.Contains(r.body, "differ") {
			t.Errorf("two different passwords: %d, want 400 saying they differ", r.status)
		}
		if r := e.send(bob, "POST", link, url.Values{"password": {"short"}, "confirm": {"short"}}); r.status != 400 || !strings.Contains(r.body, "at least 12") {
			t.Errorf("a short password: %d, want 400 naming the minimum", r.status)
		}
		r := e.send(bob, "POST", link, url.Values{"password": {"bob's long password"}, "confirm": {"bob's long password"}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/" {
			t.Fatalf("set the password: %d to %q, want 303 to the console", r.status, r.header.Get("Location"))
		}
		if page := e.send(bob, "GET", home, nil); page.status != 200 || !strings.Contains(page.body, "Password set") {
			t.Errorf("bob after setting his password: %d, want his API Access page with the notice", page.status)
		}
		if r := e.signIn(e.browser(), "bob@example.com", "bob's long password"); r.status != http.StatusSeeOther {
			t.Errorf("sign in with the password the link set: %d, want 303", r.status)
		}
		// Once only.
		for _, method := range []string{"GET", "POST"} {
			if r := e.send(e.browser(), method, link, url.Values{"password": {"mallory's password!"}, "confirm": {"mallory's password!"}}); r.status != 404 {
				t.Errorf("%s a used link: %d, want 404", method, r.status)
			}
		}
		if r := e.signIn(e.browser(), "bob@example.com", "mallory's password!"); r.status != 401 {
			t.Errorf("a used link set a password: sign-in %d", r.status)
		}
		// Audited: who made the link, and the password set through it.
		p := e.admin()
		if n := e.auditCount(p, tokenward.AuditInviteCreate, "bob@example.com"); n != 1 {
			t.Errorf("%d invite.create events for bob, want 1", n)
		}
		if n := e.auditCount(p, tokenward.AuditPasswordSet, "bob@example.com"); n != 1 {
			t.Errorf("%d password.set events for bob, want 1", n)
		}

		// A new link replaces the old one; a link expires after 7 days.
		old := e.invite(admin, "carol@example.com")
		r = e.send(admin, "POST", "/console/accounts/users/carol@example.com/invite", url.Values{})
		fresh := inviteLinkText.FindStringSubmatch(e.send(admin, "GET", r.header.Get("Location"), nil).body)
		if r.status != http.StatusSeeOther || fresh == nil {
			t.Fatalf("a new link for carol: %d, no link shown", r.status)
		}
		if r := e.send(e.browser(), "GET", old, nil); r.status != 404 {
			t.Errorf("a replaced link: %d, want 404", r.status)
		}
		e.clock.Advance(tokenward.InviteLifetime + time.Minute)
		if r := e.send(e.browser(), "GET", fresh[1], nil); r.status != 404 {
			t.Errorf("a link after 7 days: %d, want 404", r.status)
		}
	})
}
