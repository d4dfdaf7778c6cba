package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

const formHeader = "Content-Type: application/x-www-form-urlencoded"

// TestLegacyUserAPI walks /api/v2/user (reference §10) as its clients use it: the Go client
// (Terraform's wavefront_user) reads "response", the Python client the top-level fields.
func TestLegacyUserAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		secret := e.user("admin@example.com", tokenward.UserManagement)
		admin := bearer(secret)
		adminP := e.principal(secret)
		devs := e.group(adminP, "devs")
		ops := e.group(adminP, "ops")
		e.serviceAccount("sa::bot")

		// Create: dual. The Go client's view (response) and the Python client's (top level).
		res := e.do("POST", "/api/v2/user?sendEmail=true", `{"emailAddress":"Jane+CI@Example.com","groups":["ingestion"],"userGroups":["`+devs+`"]}`, admin)
		var created userModelJSON
		res.dual(t, &created)
		var top userModelJSON
		if err := json.Unmarshal(res.Body, &top); err != nil || top.Identifier != "jane+ci@example.com" || top.Customer != "acme" {
			t.Errorf("top-level fields %+v (%v), want jane+ci@example.com of acme", top, err)
		}
		var client struct {
			Response goUser `json:"response"`
		}
		if err := json.Unmarshal(res.Body, &client); err != nil || client.Response.ID == nil || *client.Response.ID != "jane+ci@example.com" {
			t.Fatalf("the Go client reads response.identifier as %v (%v), want jane+ci@example.com", client.Response.ID, err)
		}
		everyone := ""
		for _, g := range created.UserGroups {
			if g.Name == "Everyone" {
				everyone = *g.ID
			}
		}
		if strings.Join(created.Groups, ",") != "ingestion" || !sameSet(groupIDsOf(created.UserGroups), []string{devs, everyone}) || everyone == "" {
			t.Errorf("created %+v, want [ingestion] in devs and Everyone", created)
		}
		// "userGroups": null, as the Go client sends it without groups: Everyone only.
		e.do("POST", "/api/v2/user?sendEmail=false", `{"emailAddress":"plain@example.com","userGroups":null}`, admin).dual(t, &created)
		if strings.Join(groupIDsOf(created.UserGroups), ",") != everyone || len(created.Groups) != 0 {
			t.Errorf("created with userGroups null: %+v, want Everyone only, no permission", created)
		}
		for _, tc := range []struct {
			name, path, body string
			want             int
		}{
			{"sendEmail not a boolean", "/api/v2/user?sendEmail=maybe", `{"emailAddress":"x@example.com"}`, 400},
			{"existing user", "/api/v2/user", `{"emailAddress":"jane+ci@example.com"}`, 409},
			{"unknown permission", "/api/v2/user", `{"emailAddress":"x@example.com","groups":["root"]}`, 400},
			{"unknown group", "/api/v2/user", `{"emailAddress":"x@example.com","userGroups":["nope"]}`, 404},
		} {
			if res := e.do("POST", tc.path, tc.body, admin); res.Status != tc.want {
				t.Errorf("create, %s: %d, want %d (%s)", tc.name, res.Status, tc.want, res.Body)
			}
		}

		// {id} with a '+', literally or escaped: a '+' in a path is a plus, never a space.
		for _, path := range []string{"/api/v2/user/jane+ci@example.com", "/api/v2/user/jane%2Bci@example.com", "/api/v2/user/JANE+CI@example.com"} {
			var u userModelJSON
			e.do("GET", path, "", admin).bare(t, &u)
			if u.Identifier != "jane+ci@example.com" {
				t.Errorf("GET %s: identifier %q, want jane+ci@example.com", path, u.Identifier)
			}
		}
		if res := e.do("GET", "/api/v2/user/jane%20ci@example.com", "", admin); res.Status != 404 {
			t.Errorf("GET with a space where the plus was: %d, want 404 (a different, invalid address)", res.Status)
		}

		// Update: dual; groups and userGroups are complete sets; absent or null leaves them.
		const jane = "/api/v2/user/jane+ci@example.com"
		var u userModelJSON
		e.do("PUT", jane, `{"identifier":"jane+ci@example.com","customer":"acme","groups":["alerts_management","token_management"],"userGroups":[{"id":"`+ops+`","name":"ops"},{"id":"`+everyone+`"}]}`, admin).dual(t, &u)
		if strings.Join(u.Groups, ",") != "alerts_management,token_management" || !sameSet(groupIDsOf(u.UserGroups), []string{ops, everyone}) {
			t.Errorf("after PUT: %+v, want [alerts_management token_management] in ops and Everyone", u)
		}
		e.do("PUT", jane, `{"identifier":"jane+ci@example.com","userGroups":null}`, admin).dual(t, &u)
		if strings.Join(u.Groups, ",") != "alerts_management,token_management" || !sameSet(groupIDsOf(u.UserGroups), []string{ops, everyone}) {
			t.Errorf("after PUT leaving everything: %+v, want it unchanged", u)
		}
		e.do("PUT", jane, `{"groups":[],"userGroups":[]}`, admin).dual(t, &u)
		if len(u.Groups) != 0 || strings.Join(groupIDsOf(u.UserGroups), ",") != everyone {
			t.Errorf("after PUT clearing: %+v, want no permission, Everyone only", u)
		}
		ctx := context.Background()
		const password = "correct horse battery"
		if _, err := e.service.SignIn(ctx, tokenward.SignInAttempt{Email: "jane+ci@example.com", Password: password, Address: "127.0.0.1"}); err == nil {
			t.Fatalf("jane signs in before any password was set")
		}
		e.do("PUT", jane, `{"identifier":"jane+ci@example.com","credential":"`+password+`"}`, admin).dual(t, nil)
		if _, err := e.service.SignIn(ctx, tokenward.SignInAttempt{Email: "jane+ci@example.com", Password: password, Address: "127.0.0.1"}); err != nil {
			t.Errorf("sign-in with the credential set by PUT: %v", err)
		}
		for _, tc := range []struct{ name, path, body string }{
			{"another identifier", jane, `{"identifier":"other@example.com"}`},
			{"short credential", jane, `{"credential":"short"}`},
			{"unknown permission", jane, `{"groups":["root"]}`},
		} {
			if res := e.do("PUT", tc.path, tc.body, admin); res.Status != 400 {
				t.Errorf("PUT, %s: %d, want 400", tc.name, res.Status)
			}
		}
		if res := e.do("PUT", "/api/v2/user/sa::bot", `{"groups":[]}`, admin); res.Status != 404 {
			t.Errorf("PUT on a service account: %d, want 404 (users only)", res.Status)
		}

		// Grant and revoke of one user: form field group; bare.
		e.do("POST", jane+"/grant", "group=token_management", admin, formHeader).bare(t, &u)
		if strings.Join(u.Groups, ",") != "token_management" {
			t.Errorf("after form grant: %v, want [token_management]", u.Groups)
		}
		e.do("POST", jane+"/revoke", "group=token_management", admin, formHeader).bare(t, &u)
		if len(u.Groups) != 0 {
			t.Errorf("after form revoke: %v, want none", u.Groups)
		}
		for _, tc := range []struct {
			name, path, body string
			want             int
		}{
			{"no group field", jane + "/grant", "other=x", 400},
			{"unknown permission", jane + "/grant", "group=root", 400},
			{"a service account", "/api/v2/user/sa::bot/grant", "group=ingestion", 404},
			{"an unknown user", "/api/v2/user/ghost@example.com/grant", "group=ingestion", 404},
		} {
			if res := e.do("POST", tc.path, tc.body, admin, formHeader); res.Status != tc.want {
				t.Errorf("form grant, %s: %d, want %d (%s)", tc.name, res.Status, tc.want, res.Body)
			}
		}

		// Grant and revoke of several: bare, the first user.
		e.do("POST", "/api/v2/user/grant/events_management", `["plain@example.com","jane+ci@example.com"]`, admin).bare(t, &u)
		if u.Identifier != "plain@example.com" || strings.Join(u.Groups, ",") != "events_management" {
			t.Errorf("bulk grant answered %+v, want plain@example.com with [events_management]", u)
		}
		e.do("POST", "/api/v2/user/revoke/events_management", `["jane+ci@example.com"]`, admin).bare(t, &u)
		if u.Identifier != "jane+ci@example.com" || len(u.Groups) != 0 {
			t.Errorf("bulk revoke answered %+v, want jane+ci@example.com without permissions", u)
		}
		if res := e.do("POST", "/api/v2/user/grant/ingestion", `["plain@example.com","sa::bot"]`, admin); res.Status != 404 {
			t.Errorf("bulk grant naming a service account: %d, want 404", res.Status)
		}
		e.do("GET", "/api/v2/user/plain@example.com", "", admin).bare(t, &u)
		if strings.Join(u.Groups, ",") != "events_management" {
			t.Errorf("plain after a refused bulk grant: %v, want [events_management] (all or none)", u.Groups)
		}

		// Groups: bare.
		e.do("POST", jane+"/addUserGroups", `["`+devs+`","`+ops+`"]`, admin).bare(t, &u)
		if !sameSet(groupIDsOf(u.UserGroups), []string{devs, ops, everyone}) {
			t.Errorf("after addUserGroups: %v, want devs, ops and Everyone", groupIDsOf(u.UserGroups))
		}
		e.do("POST", jane+"/removeUserGroups", `["`+devs+`"]`, admin).bare(t, &u)
		if !sameSet(groupIDsOf(u.UserGroups), []string{ops, everyone}) {
			t.Errorf("after removeUserGroups: %v, want ops and Everyone", groupIDsOf(u.UserGroups))
		}

		// Invite: bare, the first one created; all or none.
		if res := e.do("POST", "/api/v2/user/invite", `[{"emailAddress":"a@example.com"},{"emailAddress":"a@example.com"}]`, admin); res.Status != 400 {
			t.Errorf("invite naming one user twice: %d, want 400", res.Status)
		}
		e.do("POST", "/api/v2/user/invite", `[{"emailAddress":"a@example.com","groups":["ingestion"]},{"emailAddress":"b@example.com","userGroups":["`+devs+`"]}]`, admin).bare(t, &u)
		if u.Identifier != "a@example.com" || strings.Join(u.Groups, ",") != "ingestion" {
			t.Errorf("invite answered %+v, want a@example.com with [ingestion]", u)
		}

		// Validate: users only here, any account under /api/v2/account.
		var v struct {
			ValidUsers         []userModelJSON `json:"validUsers"`
			InvalidIdentifiers []string        `json:"invalidIdentifiers"`
		}
		ids := `["B@example.com","sa::bot","nobody@example.com"]`
		e.do("POST", "/api/v2/user/validateUsers", ids, admin).object(t, &v)
		if len(v.ValidUsers) != 1 || v.ValidUsers[0].Identifier != "b@example.com" || strings.Join(v.InvalidIdentifiers, ",") != "sa::bot,nobody@example.com" ||
			!sameSet(groupIDsOf(v.ValidUsers[0].UserGroups), []string{devs, everyone}) {
			t.Errorf("validateUsers = %+v, want b valid (in devs), sa::bot and nobody invalid", v)
		}
		e.do("POST", "/api/v2/account/validateAccounts", ids, admin).object(t, &v)
		if len(v.ValidUsers) != 2 || v.ValidUsers[1].Identifier != "sa::bot" || strings.Join(v.InvalidIdentifiers, ",") != "nobody@example.com" {
			t.Errorf("validateAccounts = %+v, want b and sa::bot valid, nobody invalid", v)
		}

		// Delete: several (users only), then one.
		var deleted []string
		e.do("POST", "/api/v2/user/deleteUsers", `["a@example.com","sa::bot","ghost@example.com"]`, admin).object(t, &deleted)
		if strings.Join(deleted, ",") != "a@example.com" {
			t.Errorf("deleteUsers = %v, want [a@example.com]", deleted)
		}
		if res := e.do("GET", "/api/v2/account/serviceaccount/sa::bot", "", admin); res.Status != 200 {
			t.Errorf("sa::bot after deleteUsers named it: %d, want 200 (not a user)", res.Status)
		}
		janeToken := bearer(e.token("jane+ci@example.com"))
		e.do("DELETE", jane, "", admin).object(t, &u)
		if u.Identifier != "jane+ci@example.com" {
			t.Errorf("DELETE answered %q, want the deleted user", u.Identifier)
		}
		if res := e.do("GET", jane, "", admin); res.Status != 404 {
			t.Errorf("GET after DELETE: %d, want 404", res.Status)
		}
		if res := e.do("GET", "/api/v2/apitoken", "", janeToken); res.Status != 401 {
			t.Errorf("a deleted user's token: %d, want 401", res.Status)
		}
		for _, path := range []string{jane, "/api/v2/user/sa::bot"} {
			if res := e.do("DELETE", path, "", admin); res.Status != 404 {
				t.Errorf("DELETE %s: %d, want 404", path, res.Status)
			}
		}

		// List: a bare array of every user, never a service account.
		var all []userModelJSON
		e.do("GET", "/api/v2/user", "", admin).bare(t, &all)
		var got []string
		for _, u := range all {
			got = append(got, u.Identifier)
			if u.Customer != "acme" || u.Groups == nil || u.UserGroups == nil {
				t.Errorf("listed %+v, want customer acme and groups and userGroups never null", u)
			}
		}
		if strings.Join(got, ",") != "admin@example.com,b@example.com,plain@example.com" {
			t.Errorf("GET /api/v2/user = %v, want admin, b, plain", got)
		}
	})
}
