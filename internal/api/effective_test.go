package api_test

import (
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// accountView is the Account and ServiceAccount objects as a client reads them.
type accountView struct {
	Identifier        string        `json:"identifier"`
	Groups            []string      `json:"groups"`
	Roles             []goRole      `json:"roles"`
	UserGroups        []goUserGroup `json:"userGroups"`
	UnitedPermissions []string      `json:"unitedPermissions"`
}

// TestEffectivePermissions checks that a permission reaches an account through a role, a
// group's role and the Everyone group's role, that every check uses it on the next request,
// and that answers report it as unitedPermissions, never in "groups" (reference §11).
func TestEffectivePermissions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))
		dev := bearer(e.user("dev@example.com"))
		generate := func(step string, want int) {
			t.Helper()
			res := e.do("POST", "/api/v2/apitoken", "", dev)
			if res.Status != want {
				t.Errorf("%s: POST /api/v2/apitoken as dev: %d, want %d (%.200s)", step, res.Status, want, res.Body)
				return
			}
			if want == 200 {
				ts := res.tokens(t)
				e.remember(ts[len(ts)-1].TokenID)
			}
		}
		generate("no permission at all", 403)

		role := e.do("POST", "/api/v2/role", `{"name":"token-makers","permissions":["token_management"]}`, admin).role(t)
		group := e.do("POST", "/api/v2/usergroup", `{"name":"makers","roleIDs":["`+role.ID+`"]}`, admin).group(t)
		generate("the role exists but reaches nobody", 403)

		// Through a group.
		e.do("POST", "/api/v2/usergroup/"+*group.ID+"/addUsers", `["dev@example.com"]`, admin).group(t)
		generate("in a group whose role holds token_management", 200)
		var account accountView
		e.do("GET", "/api/v2/account/dev@example.com", "", admin).object(t, &account)
		if len(account.Groups) != 0 || strings.Join(account.UnitedPermissions, ",") != "token_management" || len(account.Roles) != 0 ||
			!strings.Contains(strings.Join(groupIDsOf(account.UserGroups), ","), *group.ID) || len(account.UserGroups) != 2 {
			t.Errorf("dev's account = %+v, want no direct permission, token_management united, no own role, groups makers and Everyone", account)
		}
		var page struct {
			Items []struct {
				Groups            []string `json:"groups"`
				UserGroups        []string `json:"userGroups"`
				UnitedPermissions []string `json:"unitedPermissions"`
				UnitedRoles       []string `json:"unitedRoles"`
			} `json:"items"`
		}
		e.do("POST", "/api/v2/search/user", `{"query":[{"key":"id","value":"dev@example.com","matchingMethod":"EXACT"}]}`, admin).object(t, &page)
		if len(page.Items) != 1 || len(page.Items[0].Groups) != 0 || strings.Join(page.Items[0].UnitedPermissions, ",") != "token_management" ||
			strings.Join(page.Items[0].UnitedRoles, ",") != role.ID || !strings.Contains(strings.Join(page.Items[0].UserGroups, ","), *group.ID) {
			t.Errorf("search for dev = %+v, want no direct permission, token_management united, the role united, the group", page.Items)
		}

		e.do("POST", "/api/v2/usergroup/"+*group.ID+"/removeUsers", `["dev@example.com"]`, admin).group(t)
		generate("right after removeUsers", 403)

		// Directly, then the role is deleted: the permission goes at once.
		var u userModelJSON
		e.do("POST", "/api/v2/account/dev@example.com/addRoles", `["`+role.ID+`"]`, admin).bare(t, &u)
		if strings.Join(roleIDsOf(u.Roles), ",") != role.ID || u.Roles[0].Name != "token-makers" || len(u.Groups) != 0 {
			t.Errorf("after addRoles: roles %v, groups %v; want the role as an object, no direct permission", roleIDsOf(u.Roles), u.Groups)
		}
		generate("with the role assigned directly", 200)
		e.do("DELETE", "/api/v2/role/"+role.ID, "", admin).role(t)
		generate("right after the role was deleted", 403)
		e.do("GET", "/api/v2/account/dev@example.com", "", admin).object(t, &account)
		if len(account.Roles) != 0 || len(account.UnitedPermissions) != 0 {
			t.Errorf("dev after the role was deleted = %+v, want no role, no permission", account)
		}

		// Through Everyone, and removeRoles from the group takes it away.
		everyone := ""
		for _, g := range account.UserGroups {
			if g.Name == "Everyone" {
				everyone = *g.ID
			}
		}
		second := e.do("POST", "/api/v2/role", `{"name":"all-make-tokens","permissions":["token_management"]}`, admin).role(t)
		e.do("POST", "/api/v2/usergroup/"+everyone+"/addRoles", `["`+second.ID+`"]`, admin).group(t)
		generate("with the role on Everyone", 200)
		e.do("POST", "/api/v2/usergroup/"+everyone+"/removeRoles", `["`+second.ID+`"]`, admin).group(t)
		generate("right after removeRoles on Everyone", 403)
	})
}

// TestServiceAccountRoles checks that a service account takes its roles' and groups'
// permissions but never token_management, whatever role holds it.
func TestServiceAccountRoles(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))
		e.serviceAccount("sa::bot", tokenward.Ingestion)
		role := e.do("POST", "/api/v2/role", `{"name":"broad","permissions":["token_management","alerts_management"]}`, admin).role(t)
		other := e.do("POST", "/api/v2/role", `{"name":"events","permissions":["token_management","events_management"]}`, admin).role(t)
		group := e.do("POST", "/api/v2/usergroup", `{"name":"bots","roleIDs":["`+other.ID+`"]}`, admin).group(t)

		var u userModelJSON
		e.do("POST", "/api/v2/account/sa::bot/addRoles", `["`+role.ID+`"]`, admin).bare(t, &u)
		if u.Identifier != "sa::bot" || strings.Join(roleIDsOf(u.Roles), ",") != role.ID {
			t.Errorf("addRoles answered %s with roles %v, want sa::bot with %s", u.Identifier, roleIDsOf(u.Roles), role.ID)
		}
		e.do("POST", "/api/v2/account/sa::bot/addUserGroups", `["`+*group.ID+`"]`, admin).bare(t, &u)
		if strings.Join(groupIDsOf(u.UserGroups), ",") != *group.ID {
			t.Errorf("addUserGroups answered groups %v, want [%s]", groupIDsOf(u.UserGroups), *group.ID)
		}

		var sa accountView
		e.do("GET", "/api/v2/account/serviceaccount/sa::bot", "", admin).object(t, &sa)
		if got := strings.Join(sa.UnitedPermissions, ","); got != "events_management,alerts_management,ingestion" {
			t.Errorf("sa::bot's unitedPermissions = %s, want events_management,alerts_management,ingestion (never token_management)", got)
		}
		if strings.Join(sa.Groups, ",") != "ingestion" || strings.Join(roleIDsOf(sa.Roles), ",") != role.ID || sa.Roles[0].Name != "broad" ||
			strings.Join(groupIDsOf(sa.UserGroups), ",") != *group.ID || sa.UserGroups[0].Name != "bots" {
			t.Errorf("sa::bot = %+v, want groups [ingestion], the role broad and the group bots as objects", sa)
		}
		var account accountView
		e.do("GET", "/api/v2/account/sa::bot", "", admin).object(t, &account)
		if strings.Join(account.UnitedPermissions, ",") != strings.Join(sa.UnitedPermissions, ",") {
			t.Errorf("GET /api/v2/account/sa::bot unitedPermissions %v, want %v as the ServiceAccount reports", account.UnitedPermissions, sa.UnitedPermissions)
		}
		// The same through addAssignees of the role.
		third := e.do("POST", "/api/v2/role", `{"name":"tokens-only","permissions":["token_management"]}`, admin).role(t)
		e.do("POST", "/api/v2/role/"+third.ID+"/addAssignees", `["sa::bot"]`, admin).role(t)
		e.do("GET", "/api/v2/account/serviceaccount/sa::bot", "", admin).object(t, &sa)
		if strings.Contains(strings.Join(sa.UnitedPermissions, ","), "token_management") || len(sa.Roles) != 2 {
			t.Errorf("sa::bot with a token_management-only role: united %v, roles %v; want no token_management, 2 roles", sa.UnitedPermissions, roleIDsOf(sa.Roles))
		}

		// A ServiceAccountWrite's roles and userGroups are the complete sets.
		e.do("PUT", "/api/v2/account/serviceaccount/sa::bot", `{"identifier":"sa::bot","roles":["`+third.ID+`"],"userGroups":[],"tokens":[]}`, admin).object(t, &sa)
		if strings.Join(roleIDsOf(sa.Roles), ",") != third.ID || len(sa.UserGroups) != 0 || strings.Join(sa.UnitedPermissions, ",") != "ingestion" {
			t.Errorf("after PUT roles [tokens-only], userGroups []: %+v, want that role only, no group, united [ingestion]", sa)
		}
		e.do("POST", "/api/v2/account/serviceaccount", `{"identifier":"sa::made","roles":["`+role.ID+`"],"userGroups":["`+*group.ID+`"],"tokens":[]}`, admin).object(t, &sa)
		if strings.Join(roleIDsOf(sa.Roles), ",") != role.ID || strings.Join(groupIDsOf(sa.UserGroups), ",") != *group.ID {
			t.Errorf("created with roles and userGroups: %+v, want them", sa)
		}
		if res := e.do("POST", "/api/v2/account/serviceaccount", `{"identifier":"sa::bad-role","roles":["nope"]}`, admin); res.Status != 404 {
			t.Errorf("create with an unknown role: %d, want 404", res.Status)
		}
		if res := e.do("GET", "/api/v2/account/serviceaccount/sa::bad-role", "", admin); res.Status != 404 {
			t.Errorf("a create with an unknown role made the account anyway: %d, want 404", res.Status)
		}
	})
}
