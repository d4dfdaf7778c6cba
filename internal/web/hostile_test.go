package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
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
