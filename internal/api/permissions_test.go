package api_test

import (
	"context"
	"fmt"
	"regexp"
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
		adminPrincipal := e.principal(admin)
		e.do("POST", "/api/v2/account/serviceaccount/sa::inactive-bot/deactivate", "", bearer(admin)).container(t)
		e.do("DELETE", "/api/v2/apitoken/"+callers["revoked"], "", bearer(callers["plain user"])).tokens(t)
		job, err := e.service.StartRevokeJob(context.Background(), adminPrincipal, tokenward.RevokeRequest{Account: "sa::plain-bot", ExpectedCount: new(int)})
		if tokenward.ErrorCode(err) != tokenward.EConflict {
			t.Fatalf("a job expecting 0 of sa::plain-bot's tokens: %v, want a conflict", err)
		}
		job, err = e.service.StartRevokeJob(context.Background(), adminPrincipal, tokenward.RevokeRequest{IDs: []string{"tw_nosuchtoken"}})
		if err != nil {
			t.Fatal(err)
		}
		accountOf := map[string]string{"admin user": "admin@example.com", "plain user": "plain@example.com",
			"admin sa": "sa::admin-bot", "plain sa": "sa::plain-bot"}

		// Each row: request, then the status for admin user, plain user, admin sa, plain sa.
		// The callers that cannot authenticate always get 401. In paths and bodies, {sa},
		// {user}, {satoken}, {role} and {group} are fresh targets made for each cell, {own} a
		// fresh token of the caller, {new} a fresh name. Bodies starting "group=" are forms.
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
			{"POST", "/api/v2/account/validateAccounts", `["{user}","{sa}","nobody@example.com"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/{user}/addRoles", `["{role}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/{sa}/removeRoles", `["{role}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/{sa}/addUserGroups", `["{group}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/account/{user}/removeUserGroups", `["{group}"]`, [4]int{ok, forbidden, ok, forbidden}},

			// The organization's tokens (§4, §7) and the audit trail.
			{"GET", "/api/v2/apitoken/customertokens?limit=5", "", [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/apitoken/customertokens/{satoken}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/apitoken/{own}/rotate", `{"gracePeriodSeconds":60}`, [4]int{ok, ok, forbidden, forbidden}},
			{"POST", "/api/v2/apitoken/serviceaccount/{sa}/{satoken}/rotate", `{}`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/apitoken/customertokens/{satoken}/rotate", `{}`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/apitoken/policy", "", [4]int{ok, forbidden, ok, forbidden}},
			{"PUT", "/api/v2/apitoken/policy", `{"userTokens":{},"serviceAccountTokens":{}}`, [4]int{ok, forbidden, ok, forbidden}},
			{"PUT", "/api/v2/apitoken/customertokens/revoke", `{"tokenID":"{satoken}"}`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/apitoken/customertokens/revoke-bulk", `{"account":"{sa}"}`, [4]int{202, forbidden, 202, forbidden}},
			{"GET", "/api/v2/job/{job}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/search/token", `{"query":[{"key":"account","value":"{sa}"}]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/search/token/facets", `{"facets":["name","account"]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/search/token/accountType", `{"limit":10}`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/audit?limit=5", "", [4]int{ok, forbidden, ok, forbidden}},

			// Webhooks (§13).
			{"GET", "/api/v2/webhook", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/webhook", `{"url":"https://hooks.example.com/{new}","events":["token.*"]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/webhook/{webhook}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"PUT", "/api/v2/webhook/{webhook}", `{"active":false}`, [4]int{ok, forbidden, ok, forbidden}},
			{"DELETE", "/api/v2/webhook/{webhook}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/webhook/{webhook}/deliveries", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/webhook/{webhook}/deliveries/{delivery}/redeliver", "", [4]int{ok, forbidden, ok, forbidden}},

			// Saved searches (§8): every account its own.
			{"GET", "/api/v2/savedsearch", "", [4]int{ok, ok, ok, ok}},
			{"POST", "/api/v2/savedsearch", `{"entityType":"TOKEN","query":{"name":"x"}}`, [4]int{ok, ok, ok, ok}},
			{"GET", "/api/v2/savedsearch/type/TOKEN", "", [4]int{ok, ok, ok, ok}},
			{"GET", "/api/v2/savedsearch/{saved}", "", [4]int{ok, ok, ok, ok}},
			{"PUT", "/api/v2/savedsearch/{saved}", `{"entityType":"TOKEN","query":{"name":"y"}}`, [4]int{ok, ok, ok, ok}},
			{"DELETE", "/api/v2/savedsearch/{saved}", "", [4]int{ok, ok, ok, ok}},

			// The legacy user API (§10).
			{"GET", "/api/v2/user", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/user?sendEmail=false", `{"emailAddress":"{new}@example.com","groups":["ingestion"],"userGroups":null}`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/user/{user}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"PUT", "/api/v2/user/{user}", `{"identifier":"{user}","groups":["ingestion"],"userGroups":["{group}"]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"DELETE", "/api/v2/user/{user}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/user/deleteUsers", `["{user}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/user/{user}/grant", "group=ingestion", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/user/{user}/revoke", "group=ingestion", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/user/grant/ingestion", `["{user}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/user/revoke/ingestion", `["{user}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/user/{user}/addUserGroups", `["{group}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/user/{user}/removeUserGroups", `["{group}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/user/invite", `[{"emailAddress":"{new}@example.com"}]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/user/validateUsers", `["{user}"]`, [4]int{ok, forbidden, ok, forbidden}},

			// Roles and user groups (§11).
			{"GET", "/api/v2/role?offset=0&limit=5", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/role", `{"name":"{new}","permissions":["ingestion"]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/role/{role}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"PUT", "/api/v2/role/{role}", `{"name":"{new}","permissions":["events_management"]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"DELETE", "/api/v2/role/{role}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/role/{role}/addAssignees", `["{user}","{sa}","{group}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/role/{role}/removeAssignees", `["{user}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/role/grant/ingestion", `["{role}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/role/revoke/ingestion", `["{role}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/search/role", `{"query":[{"key":"id","value":"{role}","matchingMethod":"EXACT"}]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/usergroup", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/usergroup", `{"name":"{new}","description":"d","roleIDs":["{role}"]}`, [4]int{ok, forbidden, ok, forbidden}},
			{"GET", "/api/v2/usergroup/{group}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"PUT", "/api/v2/usergroup/{group}", `{"name":"{new}","description":"e"}`, [4]int{ok, forbidden, ok, forbidden}},
			{"DELETE", "/api/v2/usergroup/{group}", "", [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/usergroup/{group}/addUsers", `["{user}","{sa}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/usergroup/{group}/removeUsers", `["{user}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/usergroup/{group}/addRoles", `["{role}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/usergroup/{group}/removeRoles", `["{role}"]`, [4]int{ok, forbidden, ok, forbidden}},
			{"POST", "/api/v2/search/usergroup", `{"query":[{"key":"name","value":"Everyone","matchingMethod":"EXACT"}]}`, [4]int{ok, forbidden, ok, forbidden}},
			// Last: each caller's token revokes itself (the admin user keeps the tokens the rows
			// above generated, so an administrator remains).
			{"DELETE", "/api/v2/apitoken/self", "", [4]int{ok, ok, ok, ok}},
		}
		// The route table is the list to cover: every route behind authentication has a row
		// here, and a route that needs user_management is forbidden to the plain user.
		for _, route := range e.server.Routes() {
			method, pattern, _ := strings.Cut(route.Pattern, " ")
			match := regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]*\\\}`).ReplaceAllString(regexp.QuoteMeta(pattern), `[^/]+`) + `(\?.*)?$`)
			covered := false
			for _, row := range rows {
				if row.method == method && match.MatchString(row.path) {
					covered = true
					if route.Needs == tokenward.UserManagement && row.want[1] != forbidden {
						t.Errorf("%s needs user_management, but its row %s %s lets the plain user in", route.Pattern, row.method, row.path)
					}
				}
			}
			if !covered {
				t.Errorf("route %s (needs %q) has no row in the permission table", route.Pattern, route.Needs)
			}
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
					saved := "aaaaaaaaaaaaaaaa" // callers without an account have no saved search
					if _, ok := accountOf[who]; ok && strings.Contains(row.path, "{saved}") {
						ss, err := e.service.CreateSavedSearch(context.Background(), e.principal(callers[who]), "TOKEN", `{"name":"mine"}`)
						if err != nil {
							t.Fatal(err)
						}
						saved = ss.ID
					}
					var role, group string
					if strings.Contains(row.path+row.body, "{role}") || strings.Contains(row.path+row.body, "{group}") {
						role = e.role(adminPrincipal, fresh("role-"), tokenward.Ingestion)
						group = e.group(adminPrincipal, fresh("group-"), role)
					}
					webhook, delivery := webhookWithDelivery(t, e, adminPrincipal, row.path, fresh("sa::hooked-"))
					r := strings.NewReplacer("{webhook}", webhook, "{delivery}", delivery, "{saved}", saved, "{sa}", sa, "{user}", user, "{satoken}", satoken, "{own}", own, "{new}", fresh("new-"),
						"{role}", role, "{group}", group, "{job}", job.ID)
					var headers []string
					if callers[who] != "" {
						headers = append(headers, bearer(callers[who]))
					}
					if strings.HasPrefix(row.body, "group=") {
						headers = append(headers, "Content-Type: application/x-www-form-urlencoded")
					}
					path := r.Replace(row.path)
					res := e.do(row.method, path, r.Replace(row.body), headers...)
					if res.Status != want {
						t.Errorf("status %d, want %d (%.300s)", res.Status, want, res.Body)
					}
					var msg string
					if res.Status == 200 && e.shape(row.method, path) == "bare" {
						res.bare(t, nil)
					} else {
						_, msg, _ = res.container(t)
					}
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

// webhookWithDelivery creates, when path names {webhook}, a webhook of account events and
// an account, so that the webhook has a delivery, and returns both ids.
func webhookWithDelivery(t *testing.T, e *env, admin tokenward.Principal, path, account string) (string, string) {
	t.Helper()
	if !strings.Contains(path, "{webhook}") {
		return "", ""
	}
	ctx := context.Background()
	hook, _, err := e.service.CreateWebhook(ctx, admin, tokenward.Webhook{URL: "https://hooks.example.com/", Events: []string{"account.*"}, Active: true})
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	e.serviceAccount(account)
	page, err := e.service.WebhookDeliveries(ctx, admin, hook.ID, 0, 10)
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("deliveries of a new webhook after one account event: %+v, %v; want 1", page.Items, err)
	}
	return hook.ID, fmt.Sprint(page.Items[0].ID)
}
