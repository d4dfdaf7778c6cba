package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/web"
)

// TestConsolePermissionTable reads the console's route table: every route sends a browser
// without a session to the sign-in form, and every route that needs the Accounts
// permission refuses a signed-in person without it with 403, before reading anything.
func TestConsolePermissionTable(t *testing.T) {
	e := newEnv(t, store.SQLite, false)
	if _, err := tokenward.NewOperator(e.service).CreateUser(context.Background(), "plain@example.com", tokenward.NewPermissionSet(tokenward.TokenManagement), password); err != nil {
		t.Fatal(err)
	}
	plain := e.browser()
	if r := e.signIn(plain, "plain@example.com", password); r.status != http.StatusSeeOther {
		t.Fatalf("plain user signs in: %d", r.status)
	}
	routes := web.New(e.service, web.Config{}).Routes()
	if len(routes) < 40 {
		t.Fatalf("%d routes in the table; the console registers more", len(routes))
	}
	param := regexp.MustCompile(`\{[^}]*\}`)
	needs := 0
	for _, route := range routes {
		if route.Public {
			continue
		}
		method, pattern, _ := strings.Cut(route.Pattern, " ")
		path := strings.TrimSuffix(param.ReplaceAllString(pattern, "x"), "{$}")
		path = strings.ReplaceAll(path, "/{$}", "/")
		var form url.Values
		if method == "POST" {
			form = url.Values{}
		}
		if r := e.send(e.browser(), method, path, form); r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/signin" {
			t.Errorf("%s without a session: %d to %q, want 303 to /console/signin", route.Pattern, r.status, r.header.Get("Location"))
		}
		switch route.Needs {
		case "":
		case tokenward.UserManagement:
			needs++
			if r := e.send(plain, method, path, form); r.status != http.StatusForbidden || !strings.Contains(r.body, "user_management") {
				t.Errorf("%s as a user without Accounts: %d, want 403 naming user_management", route.Pattern, r.status)
			}
		default:
			t.Errorf("%s needs %q: the console knows no such rule", route.Pattern, route.Needs)
		}
	}
	if needs < 30 {
		t.Errorf("only %d routes need the Accounts permission", needs)
	}
}
