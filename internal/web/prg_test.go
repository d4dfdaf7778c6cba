package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/web"
)

// TestEveryFormLeavesAReloadablePage: Post/Redirect/Get everywhere, so that a reload is
// always safe. Every POST route of the console, sent by an administrator through htmx (as
// the console's pages send forms) a form it refuses (empty, or naming an account, token or
// object that does not exist), either redirects to a page a GET answers, or shows the
// refusal with HX-Push-Url: false, so that the address stays on the page the form was on
// and a reload reloads that page. Never a 200 in answer to a refused form, never a message
// in the address. (Successes redirect: the tests of each form; the browser test reloads.)
func TestEveryFormLeavesAReloadablePage(t *testing.T) {
	e := newEnv(t, store.SQLite, false)
	admin := e.browser()
	if r := e.signIn(admin, "jane@example.com", password); r.status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.status)
	}
	param := regexp.MustCompile(`\{[^}]*\}`)
	posts := 0
	for _, route := range web.New(e.service, web.Config{}).Routes() {
		method, pattern, _ := strings.Cut(route.Pattern, " ")
		if method != "POST" || route.Public {
			continue
		}
		posts++
		path := param.ReplaceAllString(pattern, "x")
		r := e.send(admin, "POST", path, url.Values{}, "HX-Request: true", "Origin: "+e.srv.URL)
		switch to := r.header.Get("Location"); {
		case r.status == http.StatusSeeOther:
			if strings.Contains(to, "notice") || strings.Contains(to, "error") {
				t.Errorf("%s: redirected to %q, a message in the address", route.Pattern, to)
			}
			if page := e.send(admin, "GET", to, nil); page.status != http.StatusOK {
				t.Errorf("%s: redirected to %s, which answers %d to a GET", route.Pattern, to, page.status)
			}
		case r.status >= 400 && r.status < 500:
			if got := r.header.Get("HX-Push-Url"); got != "false" {
				t.Errorf("%s, refused with %d: HX-Push-Url %q, want false (the address stays on the form's page)", route.Pattern, r.status, got)
			}
		default:
			t.Errorf("%s, a refused form: %d, want 303 or a 4xx shown where the form was", route.Pattern, r.status)
		}
	}
	if posts < 30 {
		t.Errorf("only %d POST routes; the console registers more", posts)
	}
}
