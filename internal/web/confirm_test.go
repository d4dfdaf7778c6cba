package web_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tokenward/tokenward/internal/store"
)

// TestConfirmationPage: without JavaScript a revoke or delete asks on a page whose question
// comes from the target's route; any other target, or one elsewhere, is no page.
func TestConfirmationPage(t *testing.T) {
	e := newEnv(t, store.SQLite, false)
	b := e.browser()
	e.signIn(b, "jane@example.com", password)
	tests := []struct {
		query  string
		status int
		want   string
	}{
		{"to=/console/accounts/service-accounts/sa::bot/delete", 200, "Delete sa::bot?"},
		{"to=/console/accounts/api-tokens/revoke&token=tw_x&return=/console/accounts/api-tokens?q%3Dx", 200, `name="token" value="tw_x"`},
		{"to=/console/accounts/users/bob@example.com/delete", 200, `action="/console/accounts/users/bob@example.com/delete"`},
		{"to=/console/accounts/users/bob@example.com", 404, ""},              // not a confirmed action
		{"to=https://evil.example/console/accounts/roles/x/delete", 404, ""}, // elsewhere
		{"to=//evil.example/console/accounts/roles/x/delete", 404, ""},       // elsewhere
		{"to=/console/accounts/roles/x/delete?then=1", 404, ""},              // a query of its own
		{"to=/console/accounts/roles/x/delete&msg=" + url.QueryEscape("Call +1 555"), 200, "Delete this role?"},
	}
	for _, tc := range tests {
		r := e.send(b, "GET", "/console/confirm?"+tc.query, nil)
		if r.status != tc.status || !strings.Contains(r.body, tc.want) {
			t.Errorf("GET /console/confirm?%s: %d, want %d with %q", tc.query, r.status, tc.status, tc.want)
		}
		if strings.Contains(r.body, "<h1>Call +1 555") {
			t.Errorf("the address wrote the question")
		}
	}
}
