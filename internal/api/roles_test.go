package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// The shapes of go-wavefront-management-api v2.2.1 (role.go, usergroup.go), copied with
// their types and tags: an answer that does not decode into them breaks the Go client and
// Terraform. UserGroup.Roles has no tag there, and Role.CreatedEpochMillis is an int.
type goRole struct {
	ID                   string         `json:"id"`
	CreatedEpochMillis   int            `json:"createdEpochMillis,omitempty"`
	LastUpdatedMs        int            `json:"lastUpdatedMs,omitempty"`
	SampleLinkedGroups   *[]goUserGroup `json:"sampleLinkedGroups,omitempty"`
	SampleLinkedAccounts *[]string      `json:"sampleLinkedAccounts,omitempty"`
	LinkedGroupsCount    int            `json:"linkedGroupsCount,omitempty"`
	LinkedAccountsCount  int            `json:"linkedAccountsCount,omitempty"`
	Customer             string         `json:"customer,omitempty"`
	LastUpdatedAccountId string         `json:"lastUpdatedAccountId,omitempty"`
	Name                 string         `json:"name"`
	Permissions          []string       `json:"permissions,omitempty"`
	Description          string         `json:"description,omitempty"`
}

type goUserGroup struct {
	ID         *string `json:"id,omitempty"`
	Name       string  `json:"name,omitempty"`
	Customer   string  `json:"customer,omitempty"`
	Roles      []goRole
	Users      []string `json:"users,omitempty"`
	UserCount  int      `json:"userCount,omitempty"`
	Properties struct {
		NameEditable        bool `json:"nameEditable"`
		PermissionsEditable bool `json:"permissionsEditable"`
		UsersEditable       bool `json:"usersEditable"`
		RolesEditable       bool `json:"rolesEditable"`
	} `json:"properties,omitempty"`
	Description        string `json:"description,omitempty"`
	CreatedEpochMillis int    `json:"createdEpochMillis,omitempty"`
}

// objectKeys returns the sorted keys of a JSON object, failing the test for anything else.
func objectKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%.200s is not a JSON object: %v", raw, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var (
	roleKeys = []string{"createdEpochMillis", "customer", "description", "id", "lastUpdatedAccountId", "lastUpdatedMs",
		"linkedAccountsCount", "linkedGroupsCount", "name", "permissions", "sampleLinkedAccounts", "sampleLinkedGroups"}
	groupKeys = []string{"createdEpochMillis", "customer", "description", "id", "name", "properties", "roleCount", "roles",
		"userCount", "users"}
)

// role decodes an OK container holding a RoleDTO, checking its exact keys and that the Go
// client decodes it.
func (r response) role(t *testing.T) goRole {
	t.Helper()
	var raw json.RawMessage
	r.object(t, &raw)
	if got := objectKeys(t, raw); !slices.Equal(got, roleKeys) {
		t.Errorf("RoleDTO keys = %v, want %v", got, roleKeys)
	}
	var role goRole
	if err := json.Unmarshal(raw, &role); err != nil {
		t.Fatalf("the Go client cannot decode the RoleDTO %.300s: %v", raw, err)
	}
	return role
}

// group is role for a UserGroupModel.
func (r response) group(t *testing.T) goUserGroup {
	t.Helper()
	var raw json.RawMessage
	r.object(t, &raw)
	if got := objectKeys(t, raw); !slices.Equal(got, groupKeys) {
		t.Errorf("UserGroupModel keys = %v, want %v", got, groupKeys)
	}
	var g goUserGroup
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("the Go client cannot decode the UserGroupModel %.300s: %v", raw, err)
	}
	if g.ID == nil || *g.ID == "" {
		t.Fatalf("UserGroupModel %.300s has no id", raw)
	}
	return g
}

func groupIDsOf(gs []goUserGroup) []string {
	ids := []string{}
	for _, g := range gs {
		if g.ID != nil {
			ids = append(ids, *g.ID)
		}
	}
	return ids
}

func roleIDsOf(rs []goRole) []string {
	ids := []string{}
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestRoles(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))
		e.user("jane@example.com")
		e.serviceAccount("sa::bot")

		role := e.do("POST", "/api/v2/role", `{"id":"","name":" ops ","description":"operators","permissions":["ingestion","Alerts_Management"]}`, admin).role(t)
		if role.ID == "" || role.Name != "ops" || role.Description != "operators" || strings.Join(role.Permissions, ",") != "alerts_management,ingestion" ||
			role.Customer != "acme" || role.LastUpdatedAccountId != "admin@example.com" || int64(role.CreatedEpochMillis) != e.clock.Now().UnixMilli() ||
			role.LastUpdatedMs != role.CreatedEpochMillis || role.LinkedAccountsCount != 0 || role.LinkedGroupsCount != 0 ||
			role.SampleLinkedAccounts == nil || len(*role.SampleLinkedAccounts) != 0 || role.SampleLinkedGroups == nil || len(*role.SampleLinkedGroups) != 0 {
			t.Errorf("created %+v, want ops/operators with [alerts_management ingestion] of acme by admin, created now, no assignees ([] samples)", role)
		}
		id := role.ID
		for _, tc := range []struct {
			name, method, path, body string
			want                     int
		}{
			{"duplicate name", "POST", "/api/v2/role", `{"name":"ops"}`, 409},
			{"no name", "POST", "/api/v2/role", `{"description":"x"}`, 400},
			{"unknown permission", "POST", "/api/v2/role", `{"name":"x","permissions":["root"]}`, 400},
			{"permissions not a list", "POST", "/api/v2/role", `{"name":"x","permissions":"ingestion"}`, 400},
			{"unknown role", "GET", "/api/v2/role/00000000-0000-4000-8000-000000000000", "", 404},
			{"update without a name", "PUT", "/api/v2/role/" + id, `{"permissions":[]}`, 400},
			{"update of an unknown role", "PUT", "/api/v2/role/nope", `{"name":"x"}`, 404},
			{"assign an unknown account", "POST", "/api/v2/role/" + id + "/addAssignees", `["ghost@example.com"]`, 404},
			{"assign an unknown group", "POST", "/api/v2/role/" + id + "/addAssignees", `["00000000-0000-4000-8000-000000000000"]`, 404},
			{"grant to an unknown role", "POST", "/api/v2/role/grant/ingestion", `["` + id + `","nope"]`, 404},
			{"grant of an unknown permission", "POST", "/api/v2/role/grant/root", `["` + id + `"]`, 400},
			{"grant to no role", "POST", "/api/v2/role/grant/ingestion", `[]`, 400},
			{"unknown action", "POST", "/api/v2/role/" + id + "/addEverything", `[]`, 404},
			{"unknown search key", "POST", "/api/v2/search/role", `{"query":[{"key":"secret","value":"x"}]}`, 400},
		} {
			res := e.do(tc.method, tc.path, tc.body, admin)
			if res.Status != tc.want {
				t.Errorf("%s: status %d, want %d (%s)", tc.name, res.Status, tc.want, res.Body)
			}
			res.container(t)
		}
		// All or none: the failed grant above changed nothing.
		if got := e.do("GET", "/api/v2/role/"+id, "", admin).role(t); strings.Join(got.Permissions, ",") != "alerts_management,ingestion" {
			t.Errorf("after failed writes the role holds %v, want [alerts_management ingestion]", got.Permissions)
		}

		// Assignees: accounts and groups, counted, sampled.
		g := e.do("POST", "/api/v2/usergroup", `{"name":"devs"}`, admin).group(t)
		role = e.do("POST", "/api/v2/role/"+id+"/addAssignees", `["jane@example.com","SA::Bot","`+*g.ID+`"]`, admin).role(t)
		if role.LinkedAccountsCount != 2 || role.LinkedGroupsCount != 1 || strings.Join(*role.SampleLinkedAccounts, ",") != "jane@example.com,sa::bot" ||
			strings.Join(groupIDsOf(*role.SampleLinkedGroups), ",") != *g.ID || (*role.SampleLinkedGroups)[0].Name != "devs" {
			t.Errorf("after addAssignees: %+v, want jane and sa::bot, and the group devs as an object", role)
		}
		role = e.do("POST", "/api/v2/role/"+id+"/removeAssignees", `["jane@example.com"]`, admin).role(t)
		if role.LinkedAccountsCount != 1 || strings.Join(*role.SampleLinkedAccounts, ",") != "sa::bot" || role.LinkedGroupsCount != 1 {
			t.Errorf("after removeAssignees: %+v, want sa::bot and the group", role)
		}
		for i := range 12 {
			e.user(fmt.Sprintf("many-%02d@example.com", i))
			e.do("POST", "/api/v2/role/"+id+"/addAssignees", fmt.Sprintf(`["many-%02d@example.com"]`, i), admin).role(t)
		}
		role = e.do("GET", "/api/v2/role/"+id, "", admin).role(t)
		if role.LinkedAccountsCount != 13 || len(*role.SampleLinkedAccounts) != 10 {
			t.Errorf("13 accounts assigned: linkedAccountsCount %d, sample of %d; want 13 and 10", role.LinkedAccountsCount, len(*role.SampleLinkedAccounts))
		}

		// PUT replaces the role, as the Go client sends it: no description and no
		// permissions keys when they are empty. Assignees are not touched.
		role = e.do("PUT", "/api/v2/role/"+id, `{"id":"`+id+`","name":"operators","linkedAccountsCount":0}`, admin).role(t)
		if role.Name != "operators" || role.Description != "" || len(role.Permissions) != 0 || role.LinkedAccountsCount != 13 || role.LinkedGroupsCount != 1 {
			t.Errorf("after PUT {name}: %+v, want operators, no description, no permissions, assignees kept", role)
		}
		e.clock.Advance(time.Second)
		role = e.do("PUT", "/api/v2/role/"+id, `{"name":"operators","description":"d","permissions":["ingestion"]}`, admin).role(t)
		if role.Description != "d" || strings.Join(role.Permissions, ",") != "ingestion" || int64(role.LastUpdatedMs) != e.clock.Now().UnixMilli() ||
			role.LastUpdatedMs == role.CreatedEpochMillis {
			t.Errorf("after PUT: %+v, want d, [ingestion], updated now", role)
		}

		// Grant and revoke on several roles, all or none; the first is answered.
		other := e.do("POST", "/api/v2/role", `{"name":"other"}`, admin).role(t)
		role = e.do("POST", "/api/v2/role/grant/events_management", `["`+id+`","`+other.ID+`"]`, admin).role(t)
		if role.ID != id || strings.Join(role.Permissions, ",") != "events_management,ingestion" {
			t.Errorf("grant answered %s with %v, want %s with [events_management ingestion]", role.ID, role.Permissions, id)
		}
		if got := e.do("GET", "/api/v2/role/"+other.ID, "", admin).role(t); strings.Join(got.Permissions, ",") != "events_management" {
			t.Errorf("the second role after grant holds %v, want [events_management]", got.Permissions)
		}
		role = e.do("POST", "/api/v2/role/revoke/ingestion", `["`+id+`"]`, admin).role(t)
		if strings.Join(role.Permissions, ",") != "events_management" {
			t.Errorf("after revoke: %v, want [events_management]", role.Permissions)
		}

		// Search as the Go client and Terraform do.
		var page struct {
			Items      []goRole `json:"items"`
			TotalItems int      `json:"totalItems"`
			MoreItems  bool     `json:"moreItems"`
		}
		for _, body := range []string{
			`{"query":[{"key":"id","value":"` + id + `","matchingMethod":"EXACT"}],"limit":100,"offset":0}`,
			// Terraform's data sources send paging as conditions; they filter nothing.
			`{"query":[{"key":"id","value":"` + id + `","matchingMethod":"EXACT"},{"key":"limit","value":"d","matchingMethod":"EXACT"},{"key":"offset","value":"\u0000","matchingMethod":"EXACT"}]}`,
			`{"query":[{"key":"permissions","value":"events"},{"key":"name","value":"oper","matchingMethod":"STARTSWITH"}]}`,
		} {
			e.do("POST", "/api/v2/search/role", body, admin).object(t, &page)
			if page.TotalItems != 1 || len(page.Items) != 1 || page.Items[0].ID != id || page.MoreItems {
				t.Errorf("search %s: %+v, want exactly the role %s", body, page, id)
			}
		}
		e.do("GET", "/api/v2/role?offset=1&limit=1", "", admin).object(t, &page)
		if page.TotalItems != 2 || len(page.Items) != 1 || page.Items[0].Name != "other" || page.MoreItems {
			t.Errorf("GET role page 2 of 1 = %+v, want other (sorted by name), total 2, no more", page)
		}

		// Deleting answers the role as it was; it is then gone from its assignees.
		deleted := e.do("DELETE", "/api/v2/role/"+id, "", admin).role(t)
		if deleted.ID != id || deleted.LinkedAccountsCount != 13 {
			t.Errorf("delete answered %+v, want the role with its 13 accounts", deleted)
		}
		if res := e.do("GET", "/api/v2/role/"+id, "", admin); res.Status != 404 {
			t.Errorf("deleted role: %d, want 404", res.Status)
		}
		var roles struct {
			Roles []goRole `json:"roles"`
		}
		e.do("GET", "/api/v2/account/serviceaccount/sa::bot", "", admin).object(t, &roles)
		if len(roles.Roles) != 0 {
			t.Errorf("sa::bot's roles after the role was deleted: %v, want none", roleIDsOf(roles.Roles))
		}
	})
}

func TestUserGroups(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))
		e.user("jane@example.com")
		e.serviceAccount("sa::bot")
		reader := e.do("POST", "/api/v2/role", `{"name":"reader","permissions":["dashboard_management"]}`, admin).role(t)
		writer := e.do("POST", "/api/v2/role", `{"name":"writer","permissions":["alerts_management"]}`, admin).role(t)

		g := e.do("POST", "/api/v2/usergroup", `{"name":"devs","description":"developers","roleIDs":["`+reader.ID+`"]}`, admin).group(t)
		id := *g.ID
		if g.Name != "devs" || g.Description != "developers" || g.Customer != "acme" || g.UserCount != 0 ||
			strings.Join(roleIDsOf(g.Roles), ",") != reader.ID || g.Roles[0].Name != "reader" || int64(g.CreatedEpochMillis) != e.clock.Now().UnixMilli() ||
			!g.Properties.NameEditable || !g.Properties.UsersEditable || !g.Properties.RolesEditable || g.Properties.PermissionsEditable {
			t.Errorf("created %+v, want devs/developers of acme with the role reader, no users, all editable but permissions", g)
		}
		var raw struct {
			Users     json.RawMessage `json:"users"`
			RoleCount int             `json:"roleCount"`
		}
		e.do("GET", "/api/v2/usergroup/"+id, "", admin).object(t, &raw)
		if string(raw.Users) != "[]" || raw.RoleCount != 1 {
			t.Errorf("users %s, roleCount %d; want [] and 1", raw.Users, raw.RoleCount)
		}
		// As the Go client creates one: "Roles": null and read-only fields.
		goMade := e.do("POST", "/api/v2/usergroup", `{"name":"ops","customer":"","Roles":null,"properties":{"nameEditable":false,"permissionsEditable":false,"usersEditable":false,"rolesEditable":false}}`, admin).group(t)
		if goMade.Name != "ops" || len(goMade.Roles) != 0 || !goMade.Properties.NameEditable {
			t.Errorf("created as the Go client does: %+v, want ops, no roles, its name editable", goMade)
		}

		for _, tc := range []struct {
			name, method, path, body string
			want                     int
		}{
			{"duplicate name", "POST", "/api/v2/usergroup", `{"name":"devs"}`, 409},
			{"no name", "POST", "/api/v2/usergroup", `{"description":"x"}`, 400},
			{"unknown role", "POST", "/api/v2/usergroup", `{"name":"x","roleIDs":["nope"]}`, 404},
			{"roles of the wrong type", "POST", "/api/v2/usergroup", `{"name":"x","roleIDs":[1]}`, 400},
			{"unknown group", "GET", "/api/v2/usergroup/nope", "", 404},
			{"update without a name", "PUT", "/api/v2/usergroup/" + id, `{"description":"x"}`, 400},
			{"rename to a taken name", "PUT", "/api/v2/usergroup/" + id, `{"name":"ops"}`, 409},
			{"add an unknown user", "POST", "/api/v2/usergroup/" + id + "/addUsers", `["jane@example.com","ghost@example.com"]`, 404},
			{"add an unknown role", "POST", "/api/v2/usergroup/" + id + "/addRoles", `["nope"]`, 404},
		} {
			res := e.do(tc.method, tc.path, tc.body, admin)
			if res.Status != tc.want {
				t.Errorf("%s: status %d, want %d (%s)", tc.name, res.Status, tc.want, res.Body)
			}
			res.container(t)
		}
		if got := e.do("GET", "/api/v2/usergroup/"+id, "", admin).group(t); got.UserCount != 0 {
			t.Errorf("after a failed addUsers the group has users %v, want none (all or none)", got.Users)
		}

		// Members and roles.
		g = e.do("POST", "/api/v2/usergroup/"+id+"/addUsers", `["jane@example.com","sa::bot"]`, admin).group(t)
		if strings.Join(g.Users, ",") != "jane@example.com,sa::bot" || g.UserCount != 2 {
			t.Errorf("after addUsers: users %v (%d), want jane and sa::bot", g.Users, g.UserCount)
		}
		g = e.do("POST", "/api/v2/usergroup/"+id+"/removeUsers", `["sa::bot"]`, admin).group(t)
		if strings.Join(g.Users, ",") != "jane@example.com" || g.UserCount != 1 {
			t.Errorf("after removeUsers: users %v, want jane", g.Users)
		}
		g = e.do("POST", "/api/v2/usergroup/"+id+"/addRoles", `["`+writer.ID+`"]`, admin).group(t)
		if got, want := roleIDsOf(g.Roles), []string{reader.ID, writer.ID}; !sameSet(got, want) {
			t.Errorf("after addRoles: roles %v, want %v", got, want)
		}
		g = e.do("POST", "/api/v2/usergroup/"+id+"/removeRoles", `["`+reader.ID+`"]`, admin).group(t)
		if got := roleIDsOf(g.Roles); strings.Join(got, ",") != writer.ID {
			t.Errorf("after removeRoles: roles %v, want [%s]", got, writer.ID)
		}

		// PUT as the Go client sends it: name, no description, "Roles": null. The roles and
		// members stay; the description is cleared.
		g = e.do("PUT", "/api/v2/usergroup/"+id, `{"id":"`+id+`","name":"developers","Roles":null,"userCount":0}`, admin).group(t)
		if g.Name != "developers" || g.Description != "" || strings.Join(roleIDsOf(g.Roles), ",") != writer.ID || strings.Join(g.Users, ",") != "jane@example.com" {
			t.Errorf("after PUT {name, Roles: null}: %+v, want developers, no description, roles and users kept", g)
		}
		// Roles as RoleDTO objects replace the set; roleIDs wins over roles.
		g = e.do("PUT", "/api/v2/usergroup/"+id, `{"name":"developers","roles":[{"id":"`+reader.ID+`","name":"reader"}]}`, admin).group(t)
		if got := roleIDsOf(g.Roles); strings.Join(got, ",") != reader.ID {
			t.Errorf("after PUT with roles objects: %v, want [%s]", got, reader.ID)
		}
		g = e.do("PUT", "/api/v2/usergroup/"+id, `{"name":"developers","roleIDs":[],"roles":["`+writer.ID+`"]}`, admin).group(t)
		if len(g.Roles) != 0 {
			t.Errorf("after PUT roleIDs []: roles %v, want none", roleIDsOf(g.Roles))
		}

		// Search: by name EXACT (the default-user-group data source) and by id.
		var page struct {
			Items      []goUserGroup `json:"items"`
			TotalItems int           `json:"totalItems"`
		}
		e.do("POST", "/api/v2/search/usergroup", `{"query":[{"key":"id","value":"`+id+`","matchingMethod":"EXACT"},{"key":"limit","value":"d"}]}`, admin).object(t, &page)
		if page.TotalItems != 1 || len(page.Items) != 1 || *page.Items[0].ID != id {
			t.Errorf("search id EXACT: %+v, want exactly %s", page, id)
		}
		e.do("GET", "/api/v2/usergroup?limit=10", "", admin).object(t, &page)
		var names []string
		for _, it := range page.Items {
			names = append(names, it.Name)
		}
		if strings.Join(names, ",") != "Everyone,developers,ops" || page.TotalItems != 3 {
			t.Errorf("GET usergroup = %v (total %d), want Everyone, developers, ops", names, page.TotalItems)
		}

		// Deleting answers the group as it was; its members leave it.
		deleted := e.do("DELETE", "/api/v2/usergroup/"+id, "", admin).group(t)
		if *deleted.ID != id || strings.Join(deleted.Users, ",") != "jane@example.com" {
			t.Errorf("delete answered %+v, want the group with jane", deleted)
		}
		if res := e.do("GET", "/api/v2/usergroup/"+id, "", admin); res.Status != 404 {
			t.Errorf("deleted group: %d, want 404", res.Status)
		}
		var jane userModelJSON
		e.do("GET", "/api/v2/account/user/jane@example.com", "", admin).bare(t, &jane)
		if got := groupIDsOf(jane.UserGroups); slices.Contains(got, id) || len(got) != 1 {
			t.Errorf("jane's groups after the group was deleted: %v, want Everyone only", got)
		}
	})
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestEveryoneGroup(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))
		e.user("jane@example.com")
		e.serviceAccount("sa::bot")
		role := e.do("POST", "/api/v2/role", `{"name":"viewer","permissions":["dashboard_management"]}`, admin).role(t)

		var page struct {
			Items []goUserGroup `json:"items"`
		}
		e.do("POST", "/api/v2/search/usergroup", `{"query":[{"key":"name","value":"Everyone","matchingMethod":"EXACT"}]}`, admin).object(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("search name EXACT Everyone: %d groups, want 1", len(page.Items))
		}
		everyone := page.Items[0]
		id := *everyone.ID
		if everyone.Name != "Everyone" || everyone.Description != "System group which contains all users" ||
			strings.Join(everyone.Users, ",") != "admin@example.com,jane@example.com" || everyone.UserCount != 2 ||
			everyone.Properties.NameEditable || everyone.Properties.UsersEditable || !everyone.Properties.RolesEditable || everyone.Properties.PermissionsEditable {
			t.Errorf("Everyone = %+v, want every user account (not sa::bot), name and users not editable, roles editable", everyone)
		}

		for _, tc := range []struct {
			name, method, path, body string
			want                     int
		}{
			{"delete", "DELETE", "/api/v2/usergroup/" + id, "", 400},
			{"rename", "PUT", "/api/v2/usergroup/" + id, `{"name":"All"}`, 400},
			{"add a member", "POST", "/api/v2/usergroup/" + id + "/addUsers", `["sa::bot"]`, 400},
			{"remove a member", "POST", "/api/v2/usergroup/" + id + "/removeUsers", `["jane@example.com"]`, 400},
		} {
			res := e.do(tc.method, tc.path, tc.body, admin)
			if _, msg, _ := res.container(t); res.Status != tc.want || !strings.Contains(msg, "Everyone") {
				t.Errorf("%s Everyone: %d %q, want %d naming the group", tc.name, res.Status, msg, tc.want)
			}
		}
		g := e.do("GET", "/api/v2/usergroup/"+id, "", admin).group(t)
		if g.Name != "Everyone" || g.UserCount != 2 {
			t.Errorf("Everyone after refused changes: %+v, want it unchanged", g)
		}
		// Its roles can be edited, and keeping its name in a PUT is fine.
		g = e.do("POST", "/api/v2/usergroup/"+id+"/addRoles", `["`+role.ID+`"]`, admin).group(t)
		if strings.Join(roleIDsOf(g.Roles), ",") != role.ID {
			t.Errorf("Everyone's roles after addRoles: %v, want [%s]", roleIDsOf(g.Roles), role.ID)
		}
		g = e.do("PUT", "/api/v2/usergroup/"+id, `{"name":"Everyone","description":"All of us"}`, admin).group(t)
		if g.Description != "All of us" || len(g.Roles) != 1 {
			t.Errorf("Everyone after PUT: %+v, want the new description and its role", g)
		}

		// A new user is in it at once, with its roles' permissions; a service account is not.
		var u userModelJSON
		e.do("POST", "/api/v2/account/user", `{"emailAddress":"new@example.com","userGroups":[]}`, admin).bare(t, &u)
		if got := groupIDsOf(u.UserGroups); strings.Join(got, ",") != id || u.UserGroups[0].Name != "Everyone" {
			t.Errorf("a new user's userGroups = %v, want Everyone (%s) as an object", got, id)
		}
		var account struct {
			UnitedPermissions []string `json:"unitedPermissions"`
			Groups            []string `json:"groups"`
		}
		e.do("GET", "/api/v2/account/new@example.com", "", admin).object(t, &account)
		if strings.Join(account.UnitedPermissions, ",") != "dashboard_management" || len(account.Groups) != 0 {
			t.Errorf("new user's account = %+v, want dashboard_management through Everyone, no direct permission", account)
		}
		// Inside another object, a group lists a sample of its members, and counts them all.
		for i := range 10 {
			e.user(fmt.Sprintf("member-%d@example.com", i))
		}
		e.do("GET", "/api/v2/account/user/new@example.com", "", admin).bare(t, &u)
		if len(u.UserGroups) != 1 {
			t.Fatalf("new@example.com's groups: %v, want Everyone only", groupIDsOf(u.UserGroups))
		}
		if len(u.UserGroups[0].Users) != 10 || u.UserGroups[0].UserCount != 13 {
			t.Errorf("Everyone inside a user: %d users listed of %d, want a sample of 10 of 13", len(u.UserGroups[0].Users), u.UserGroups[0].UserCount)
		}
		if g := e.do("GET", "/api/v2/usergroup/"+id, "", admin).group(t); len(g.Users) != 13 || g.UserCount != 13 {
			t.Errorf("Everyone itself: %d users listed of %d, want all 13", len(g.Users), g.UserCount)
		}

		var sa struct {
			UserGroups        []goUserGroup `json:"userGroups"`
			UnitedPermissions []string      `json:"unitedPermissions"`
		}
		e.do("GET", "/api/v2/account/serviceaccount/sa::bot", "", admin).object(t, &sa)
		if len(sa.UserGroups) != 0 || len(sa.UnitedPermissions) != 0 {
			t.Errorf("sa::bot = %+v, want no groups and no permissions (Everyone holds users only)", sa)
		}
	})
}
