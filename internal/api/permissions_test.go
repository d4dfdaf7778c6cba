package api_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestPermissionTable sends every endpoint's request as each kind of caller and asserts the
// exact status: the one place where "who may do what" is pinned down for the whole API.
func TestPermissionTable(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		var n atomic.Int64
		fresh := func(prefix string) string { return fmt.Sprintf("%s%d", prefix, n.Add(1)) }

		// The callers. Both users hold API Tokens, so own-token rows test only the account
		// kind; "admin" callers hold Accounts.
		callers := map[string]string{
			"admin user":  e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement),
			"plain user":  e.user("plain@example.com", tokenward.TokenManagement),
			"admin sa":    e.serviceAccount("sa::admin-bot", tokenward.UserManagement),
			"plain sa":    e.serviceAccount("sa::plain-bot", tokenward.Ingestion),
			"inactive sa": e.serviceAccount("sa::inactive-bot", tokenward.UserManagement),
			"revoked":     e.token("plain@example.com"),
			"no token":    "",
			"unknown":     e.remember(string(tokenward.NewSecret())),
		}
		admin := callers["admin user"]
		e.do("POST", "/api/v2/account/serviceaccount/sa::inactive-bot/deactivate", "", bearer(admin)).container(t)
		e.do("DELETE", "/api/v2/apitoken/"+callers["revoked"], "", bearer(callers["plain user"])).tokens(t)
		accountOf := map[string]string{"admin user": "admin@example.com", "plain user": "plain@example.com",
			"admin sa": "sa::admin-bot", "plain sa": "sa::plain-bot"}

		// Each row: request, then the status for admin user, plain user, admin sa, plain sa.
		// The callers that cannot authenticate always get 401. In paths and bodies, {sa},
		// {user} and {satoken} are fresh targets made for each cell, {own} a fresh token of
		// the caller, {new} a fresh name.
		const ok, forbidden = 200, 403
		rows := []struct {
			method, path, body string
			want               [4]int
		}{
			{"GET", "/api/v2/apitoken", "", [4]int{ok, ok, forbidden, forbidden}},
			{"POST", "/api/v2/apitoken", `{"tokenName":"x"}`, [4]int{ok, ok, forbidden, forbidden}},
			{"PUT", "/api/v2/apitoken/{own}", `{"tokenName":"y"}`, [4]int{ok, ok, forbidden, forbidden}},
			{"DELETE", "/api/v2/apitoken/{own}", "", [4]int{ok, ok, forbidden, forbidden}},
			{"GET", "/api/v2/apitoken/serviceaccount/{sa}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/apitoken/serviceaccount/{sa}", `{"tokenName":"main"}`, [4]int{ok, forbidden, ok, forbidden}},
			{"PUT", "/api/v2/apitoken/serviceaccount/{sa}/{satoken}", `{"tokenName":"z"}`, [4]int{ok, forbidden, ok, forbidden}},
			{"DELETE", "/api/v2/apitoken/serviceaccount/{sa}/{satoken}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/account/serviceaccount", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/serviceaccount", `{"identifier":"sa::{new}","tokens":[]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/account/serviceaccount/{sa}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"PUT", "/api/v2/account/serviceaccount/{sa}", `{"identifier":"{sa}","description":"d","tokens":[]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/serviceaccount/{sa}/deactivate", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/serviceaccount/{sa}/activate", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/search/serviceaccount", `{"query":null}`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/account?offset=0&limit=10", "", [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/account/{user}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"DELETE", "/api/v2/account/{user}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"DELETE", "/api/v2/account/{sa}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/deleteAccounts", `["{user}","{sa}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/{user}/grant/ingestion", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/{sa}/revoke/ingestion", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/grant/ingestion", `["{user}","{sa}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/revoke/ingestion", `["{user}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/account/user", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/user", `{"emailAddress":"{new}@example.com","groups":["ingestion"],"userGroups":[]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/account/user/admin", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/user/invite", `[{"emailAddress":"{new}@example.com","groups":[]}]`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/account/user/{user}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"PUT", "/api/v2/account/user/{user}", `{"identifier":"{user}","groups":["ingestion"]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/search/user", `{"query":[{"key":"identifier","value":"example"}]}`, [4]int{ok, forbidden, ok, forbidden}},
		}
		authenticated := []string{"admin user", "plain user", "admin sa", "plain sa"}
		unauthenticated := []string{"inactive sa", "revoked", "no token", "unknown"}
		for _, row := range rows {
			for i, who := range append(authenticated, unauthenticated...) {
				want := 401
				if i < len(authenticated) {
					want = row.want[i]
				}
				t.Run(fmt.Sprintf("%s %s as %s", row.method, row.path, who), func(t *testing.T) {
					sa := fresh("sa::target-")
					user := fresh("user-") + "@example.com"
					e.serviceAccount(sa)
					e.user(user)
					satoken := e.token(sa)
					own := "tw_aaaaaaaaaaaaaaaa" // callers without an account name no real token
					if acct, ok := accountOf[who]; ok && strings.Contains(row.path, "{own}") {
						own = e.token(acct)
					}
					r := strings.NewReplacer("{sa}", sa, "{user}", user, "{satoken}", satoken, "{own}", own, "{new}", fresh("new-"))
					var headers []string
					if callers[who] != "" {
						headers = append(headers, bearer(callers[who]))
					}
					res := e.do(row.method, r.Replace(row.path), r.Replace(row.body), headers...)
					if res.Status != want {
						t.Errorf("status %d, want %d (%.300s)", res.Status, want, res.Body)
					}
					_, msg, _ := res.container(t)
					if want == forbidden && !strings.Contains(msg, "permission (user_management)") && !strings.Contains(msg, "only user accounts") {
						t.Errorf("403 message %q does not say what is missing", msg)
					}
					if res.Status == 200 && row.method == "POST" && strings.Contains(row.path, "apitoken") {
						ts := res.tokens(t)
						e.remember(ts[len(ts)-1].TokenID)
					}
				})
			}
		}
	})
}
