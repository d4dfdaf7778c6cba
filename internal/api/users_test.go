package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// userModelJSON is a UserModel as a client reads it.
type userModelJSON struct {
	Identifier          string        `json:"identifier"`
	Customer            string        `json:"customer"`
	Groups              []string      `json:"groups"`
	UserGroups          []goUserGroup `json:"userGroups"`
	Roles               []goRole      `json:"roles"`
	LastSuccessfulLogin *int64        `json:"lastSuccessfulLogin"`
	SSOID               *string       `json:"ssoId"`
}

// goUser is the Go client's User (user.go of v2.2.1), whose userGroups decode from ids or
// from objects.
type goUser struct {
	ID                  *string             `json:"identifier"`
	Customer            string              `json:"customer,omitempty"`
	LastSuccessfulLogin uint                `json:"lastSuccessfulLogin,omitempty"`
	Permissions         []string            `json:"groups,omitempty"`
	Groups              goUserGroupsWrapper `json:"userGroups,omitempty"`
	Credential          string              `json:"credential,omitempty"`
}

type goUserGroupsWrapper struct{ UserGroups []goUserGroup }

func (w *goUserGroupsWrapper) UnmarshalJSON(data []byte) error {
	var groupIds []*string
	if err := json.Unmarshal(data, &groupIds); err == nil {
		for _, v := range groupIds {
			w.UserGroups = append(w.UserGroups, goUserGroup{ID: v})
		}
		return nil
	}
	return json.Unmarshal(data, &w.UserGroups)
}

var (
	userModelKeys = []string{"customer", "groups", "identifier", "lastSuccessfulLogin", "roles", "ssoId", "userGroups"}
	dualKeys      = []string{"customer", "groups", "identifier", "lastSuccessfulLogin", "response", "roles", "ssoId", "status", "userGroups"}
	userFoundKeys = []string{"customer", "escapedIdentifier", "groups", "id", "identifier", "lastSuccessfulLogin", "self",
		"unitedPermissions", "unitedRoles", "userGroups"}
)

// TestUserAnswerShapes pins down, endpoint by endpoint, whether a successful answer is the
// model itself (bare), a response container, or both at once (dual), by decoding the raw
// JSON; errors are always containers (reference §6, §10).
func TestUserAnswerShapes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		secret := e.user("admin@example.com", tokenward.UserManagement)
		admin := bearer(secret)
		adminP := e.principal(secret)
		role := e.role(adminP, "shape-role", tokenward.Ingestion)
		group := e.group(adminP, "shape-group", role)
		n := 0
		const bare, dual, container, bareList = "bare", "dual", "container", "bare list"
		for _, tc := range []struct {
			method, path, body, shape string
		}{
			{"GET", "/api/v2/account/user", "", container},
			{"POST", "/api/v2/account/user", `{"emailAddress":"{new}","groups":["ingestion"],"userGroups":["{group}"],"roles":["{role}"]}`, bare},
			{"GET", "/api/v2/account/user/{user}", "", bare},
			{"PUT", "/api/v2/account/user/{user}", `{"identifier":"{user}","groups":["ingestion"],"userGroups":["{group}"],"roles":[]}`, bare},
			{"POST", "/api/v2/account/user/invite", `[{"emailAddress":"{new}"}]`, bare},
			{"POST", "/api/v2/account/{user}/grant/ingestion", "", bare},
			{"POST", "/api/v2/account/{user}/revoke/ingestion", "", bare},
			{"POST", "/api/v2/account/grant/ingestion", `["{user}"]`, bare},
			{"POST", "/api/v2/account/revoke/ingestion", `["{user}"]`, bare},
			{"POST", "/api/v2/account/{user}/addRoles", `["{role}"]`, bare},
			{"POST", "/api/v2/account/{user}/removeRoles", `["{role}"]`, bare},
			{"POST", "/api/v2/account/{user}/addUserGroups", `["{group}"]`, bare},
			{"POST", "/api/v2/account/{user}/removeUserGroups", `["{group}"]`, bare},
			{"GET", "/api/v2/account/user/admin", "", container},
			{"POST", "/api/v2/account/validateAccounts", `["{user}"]`, container},
			{"POST", "/api/v2/search/user", `{}`, container},
			{"GET", "/api/v2/account/{user}", "", container},
			{"DELETE", "/api/v2/account/{user}", "", container},
			{"POST", "/api/v2/account/deleteAccounts", `["{user}"]`, container},
			{"GET", "/api/v2/user", "", bareList},
			{"POST", "/api/v2/user?sendEmail=true", `{"emailAddress":"{new}","groups":["ingestion"],"userGroups":["{group}"]}`, dual},
			{"GET", "/api/v2/user/{user}", "", bare},
			{"PUT", "/api/v2/user/{user}", `{"identifier":"{user}","groups":[],"userGroups":null}`, dual},
			{"DELETE", "/api/v2/user/{user}", "", container},
			{"POST", "/api/v2/user/deleteUsers", `["{user}"]`, container},
			{"POST", "/api/v2/user/{user}/grant", "group=ingestion", bare},
			{"POST", "/api/v2/user/{user}/revoke", "group=ingestion", bare},
			{"POST", "/api/v2/user/grant/ingestion", `["{user}"]`, bare},
			{"POST", "/api/v2/user/revoke/ingestion", `["{user}"]`, bare},
			{"POST", "/api/v2/user/{user}/addUserGroups", `["{group}"]`, bare},
			{"POST", "/api/v2/user/{user}/removeUserGroups", `["{group}"]`, bare},
			{"POST", "/api/v2/user/invite", `[{"emailAddress":"{new}"}]`, bare},
			{"POST", "/api/v2/user/validateUsers", `["{user}"]`, container},
		} {
			n++
			user := fmt.Sprintf("shape-%d@example.com", n)
			e.user(user)
			r := strings.NewReplacer("{user}", user, "{new}", fmt.Sprintf("new-%d@example.com", n), "{role}", role, "{group}", group)
			path, body := r.Replace(tc.path), r.Replace(tc.body)
			var headers []string
			if strings.HasPrefix(body, "group=") {
				headers = append(headers, "Content-Type: application/x-www-form-urlencoded")
			}
			res := e.do(tc.method, path, body, append(headers, admin)...)
			what := tc.method + " " + tc.path
			switch tc.shape {
			case bare:
				res.bare(t, nil)
				if got := objectKeys(t, res.Body); !slices.Equal(got, userModelKeys) {
					t.Errorf("%s: bare UserModel keys %v, want %v", what, got, userModelKeys)
				}
			case bareList:
				var list []json.RawMessage
				res.bare(t, &list)
				if len(list) < 2 {
					t.Fatalf("%s: %d users, want every user", what, len(list))
				}
				if got := objectKeys(t, list[0]); !slices.Equal(got, userModelKeys) {
					t.Errorf("%s: UserModel keys %v, want %v", what, got, userModelKeys)
				}
			case dual:
				res.dual(t, nil)
				if got := objectKeys(t, res.Body); !slices.Equal(got, dualKeys) {
					t.Errorf("%s: dual answer keys %v, want %v", what, got, dualKeys)
				}
			case container:
				if res.Status != 200 {
					t.Errorf("%s: status %d (%s), want 200", what, res.Status, res.Body)
				}
				if result, _, payload := res.container(t); result != "OK" || len(payload) == 0 {
					t.Errorf("%s: container %q with payload %s, want OK with a payload", what, result, payload)
				}
			}
			// The document says the same, so that generated clients expect this shape.
			docShape := e.shape(tc.method, path)
			if want := strings.TrimSuffix(tc.shape, " list"); docShape != want {
				t.Errorf("%s: the OpenAPI document has it answer %s, want %s", what, docShape, want)
			}
		}

		// Errors are containers, on bare and dual endpoints alike.
		for _, req := range [][3]string{
			{"GET", "/api/v2/account/user/nobody@example.com", ""},
			{"POST", "/api/v2/account/user", `{"emailAddress":"not an email"}`},
			{"GET", "/api/v2/user/nobody@example.com", ""},
			{"PUT", "/api/v2/user/nobody@example.com", `{"groups":[]}`},
			{"POST", "/api/v2/user", `{"emailAddress":"admin@example.com"}`},
			{"POST", "/api/v2/account/nobody@example.com/addRoles", `["` + role + `"]`},
		} {
			res := e.do(req[0], req[1], req[2], admin)
			if res.Status < 400 {
				t.Errorf("%s %s: %d, want an error", req[0], req[1], res.Status)
			}
			res.container(t)
		}
	})
}

// TestUserModel checks the UserModel's content: customer, direct permissions, whole group
// and role objects (Everyone included), and that the Go client decodes it.
func TestUserModel(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		secret := e.user("admin@example.com", tokenward.UserManagement)
		admin := bearer(secret)
		adminP := e.principal(secret)
		role := e.role(adminP, "viewers", tokenward.DashboardManagement)
		group := e.group(adminP, "devs", role)

		var u userModelJSON
		res := e.do("POST", "/api/v2/account/user", `{"emailAddress":"Jane@Example.com","groups":["ingestion"],"userGroups":["`+group+`"],"roles":["`+role+`"]}`, admin)
		res.bare(t, &u)
		var everyone string
		for _, g := range u.UserGroups {
			if g.Name == "Everyone" {
				everyone = *g.ID
			}
		}
		if u.Identifier != "jane@example.com" || u.Customer != "acme" || strings.Join(u.Groups, ",") != "ingestion" || u.LastSuccessfulLogin != nil || u.SSOID != nil ||
			!sameSet(groupIDsOf(u.UserGroups), []string{group, everyone}) || everyone == "" || strings.Join(roleIDsOf(u.Roles), ",") != role || u.Roles[0].Name != "viewers" {
			t.Errorf("created %+v, want jane of acme, [ingestion], groups devs and Everyone, role viewers", u)
		}
		for _, g := range u.UserGroups {
			if *g.ID == group && (g.Name != "devs" || strings.Join(roleIDsOf(g.Roles), ",") != role || g.UserCount != 1) {
				t.Errorf("the group devs inside the user = %+v, want its name, its role and its one member", g)
			}
		}
		var client goUser
		if err := json.Unmarshal(res.Body, &client); err != nil || client.ID == nil || *client.ID != "jane@example.com" || len(client.Groups.UserGroups) != 2 {
			t.Errorf("the Go client decodes the UserModel as %+v (%v), want jane with two groups", client, err)
		}

		// An unknown role or group creates nobody.
		for _, body := range []string{`{"emailAddress":"x@example.com","roles":["nope"]}`, `{"emailAddress":"x@example.com","userGroups":["nope"]}`} {
			if res := e.do("POST", "/api/v2/account/user", body, admin); res.Status != 404 {
				t.Errorf("create with %s: %d, want 404", body, res.Status)
			}
		}
		if res := e.do("GET", "/api/v2/account/user/x@example.com", "", admin); res.Status != 404 {
			t.Errorf("x@example.com after failed creations: %d, want 404", res.Status)
		}

		// PUT: an absent or null key leaves the field, [] clears it; objects are accepted as ids.
		e.do("PUT", "/api/v2/account/user/jane@example.com", `{"identifier":"jane@example.com","userGroups":null}`, admin).bare(t, &u)
		if strings.Join(u.Groups, ",") != "ingestion" || len(u.UserGroups) != 2 || len(u.Roles) != 1 {
			t.Errorf("after PUT with nothing to change: %+v, want it unchanged", u)
		}
		e.do("PUT", "/api/v2/account/user/jane@example.com", `{"groups":[],"userGroups":[{"id":"`+everyone+`"}],"roles":[]}`, admin).bare(t, &u)
		if len(u.Groups) != 0 || strings.Join(groupIDsOf(u.UserGroups), ",") != everyone || len(u.Roles) != 0 {
			t.Errorf("after PUT clearing everything: %+v, want no permission, Everyone only, no role", u)
		}
		if res := e.do("PUT", "/api/v2/account/user/jane@example.com", `{"identifier":"other@example.com"}`, admin); res.Status != 400 {
			t.Errorf("PUT renaming the user: %d, want 400", res.Status)
		}
		if res := e.do("PUT", "/api/v2/account/user/jane@example.com", `{"roles":[1]}`, admin); res.Status != 400 {
			t.Errorf("PUT with a number as a role id: %d, want 400", res.Status)
		}

		// A user reads itself without the Accounts permission; its groups show by id.
		jane := bearer(e.token("jane@example.com"))
		for _, path := range []string{"/api/v2/account/user/jane@example.com", "/api/v2/user/jane@example.com"} {
			e.do("GET", path, "", jane).bare(t, &u)
			if u.Identifier != "jane@example.com" || strings.Join(groupIDsOf(u.UserGroups), ",") != everyone {
				t.Errorf("jane reading herself at %s = %+v, want herself in Everyone (%s)", path, u, everyone)
			}
		}

		// An action no {action} pattern knows is answered as no route would be.
		res = e.do("POST", "/api/v2/account/user/jane@example.com", `{}`, admin)
		if _, msg, _ := res.container(t); res.Status != 405 || res.Header.Get("Allow") != "GET, PUT" {
			t.Errorf("POST on a user: %d %q Allow %q, want 405 allowing GET, PUT", res.Status, msg, res.Header.Get("Allow"))
		}
		if res := e.do("POST", "/api/v2/account/jane@example.com/addEverything", `[]`, admin); res.Status != 404 {
			t.Errorf("an unknown action: %d, want 404", res.Status)
		}
	})
}

// TestUserSearch checks the CustomerFacingUserObject items of POST /api/v2/search/user and
// the id EXACT search Terraform reads users with.
func TestUserSearch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		secret := e.user("admin@example.com", tokenward.UserManagement)
		admin := bearer(secret)
		role := e.role(e.principal(secret), "viewers", tokenward.DashboardManagement)
		e.do("POST", "/api/v2/account/user", `{"emailAddress":"jane+ci@example.com","groups":["ingestion"],"roles":["`+role+`"]}`, admin).bare(t, nil)
		e.do("POST", "/api/v2/account/user", `{"emailAddress":"x.jane+ci@example.com"}`, admin).bare(t, nil)

		var raw struct {
			Items      []json.RawMessage `json:"items"`
			TotalItems int               `json:"totalItems"`
		}
		e.do("POST", "/api/v2/search/user", `{"query":[{"key":"id","value":"jane+ci@example.com","matchingMethod":"EXACT"}],"limit":100,"offset":0}`, admin).object(t, &raw)
		if len(raw.Items) != 1 || raw.TotalItems != 1 {
			t.Fatalf("search id EXACT jane+ci@example.com: %d items (total %d), want 1", len(raw.Items), raw.TotalItems)
		}
		if got := objectKeys(t, raw.Items[0]); !slices.Equal(got, userFoundKeys) {
			t.Errorf("CustomerFacingUserObject keys %v, want %v", got, userFoundKeys)
		}
		var found struct {
			ID                  string   `json:"id"`
			Identifier          string   `json:"identifier"`
			EscapedIdentifier   string   `json:"escapedIdentifier"`
			Customer            string   `json:"customer"`
			Groups              []string `json:"groups"`
			UserGroups          []string `json:"userGroups"`
			UnitedPermissions   []string `json:"unitedPermissions"`
			UnitedRoles         []string `json:"unitedRoles"`
			LastSuccessfulLogin *int64   `json:"lastSuccessfulLogin"`
			Self                bool     `json:"self"`
		}
		if err := json.Unmarshal(raw.Items[0], &found); err != nil {
			t.Fatal(err)
		}
		if found.ID != "jane+ci@example.com" || found.Identifier != found.ID || found.EscapedIdentifier == "" || found.Customer != "acme" ||
			strings.Join(found.Groups, ",") != "ingestion" || len(found.UserGroups) != 1 || strings.Join(found.UnitedPermissions, ",") != "dashboard_management,ingestion" ||
			strings.Join(found.UnitedRoles, ",") != role || found.LastSuccessfulLogin != nil || found.Self {
			t.Errorf("found %+v, want jane+ci of acme, [ingestion] direct, Everyone's id, dashboard_management united through %s, not self", found, role)
		}
		// The Go client reads the same items as users, userGroups as ids.
		var client goUser
		if err := json.Unmarshal(raw.Items[0], &client); err != nil || client.ID == nil || *client.ID != found.ID ||
			len(client.Groups.UserGroups) != 1 || *client.Groups.UserGroups[0].ID != found.UserGroups[0] {
			t.Errorf("the Go client decodes the item as %+v (%v), want jane+ci with Everyone's id", client, err)
		}

		e.do("POST", "/api/v2/search/user", `{"query":[{"key":"id","value":"admin@example.com","matchingMethod":"EXACT"}]}`, admin).object(t, &raw)
		if len(raw.Items) != 1 || !strings.Contains(string(raw.Items[0]), `"self":true`) {
			t.Errorf("the caller's own entry: %s, want self true", raw.Items)
		}
		for _, body := range []string{
			`{"query":[{"key":"roles","value":"` + role + `"}]}`,
			`{"query":[{"key":"userGroups","value":"` + found.UserGroups[0] + `","matchingMethod":"EXACT"},{"key":"identifier","value":"jane","matchingMethod":"STARTSWITH"}]}`,
		} {
			e.do("POST", "/api/v2/search/user", body, admin).object(t, &raw)
			if len(raw.Items) != 1 || !strings.Contains(string(raw.Items[0]), `"id":"jane+ci@example.com"`) {
				t.Errorf("search %s: %s, want jane+ci alone", body, raw.Items)
			}
		}
	})
}

// TestCustomerNeverEmpty checks that an organization configured without a name is still
// reported by one: clients reject an empty customer.
func TestCustomerNeverEmpty(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnvWith(t, engine, func(c *api.Config) { c.Org = "" })
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))
		var u userModelJSON
		e.do("GET", "/api/v2/user/admin@example.com", "", admin).bare(t, &u)
		if u.Customer != api.DefaultOrg || u.Customer == "" {
			t.Errorf("customer = %q, want %q", u.Customer, api.DefaultOrg)
		}
	})
}
