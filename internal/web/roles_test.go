package web_test

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// admin returns a principal of jane, the administrator every env starts with, as the API
// would see her, for reading back what the console did.
func (e *env) admin() tokenward.Principal {
	e.t.Helper()
	secret, _, err := tokenward.NewOperator(e.service).GenerateToken(context.Background(), "jane@example.com", "test")
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.service.Authenticate(context.Background(), secret.Reveal())
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// created returns the id a create form's redirect names: /console/accounts/roles/<id>
func created(t *testing.T, what string, r result, list string) string {
	t.Helper()
	u, err := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || err != nil || path.Dir(u.Path) != list {
		t.Fatalf("create %s: %d to %q, want 303 to a page under %s\n%s", what, r.status, r.header.Get("Location"), list, r.body)
	}
	return path.Base(u.Path)
}

var (
	effectiveTable = regexp.MustCompile(`(?s)<table class="effective">.*?</table>`)
	effectiveRow   = regexp.MustCompile(`(?s)<tr>\s*<td>[^<]*<span class="muted">([a-z_]+)</span></td>\s*<td>(.*?)</td>\s*</tr>`)
	sourceChip     = regexp.MustCompile(`<span class="chip source">([^<]*)</span>`)
)

// effective reads an account page's effective permissions: each permission with its
// sources, sorted.
func effective(page string) map[string][]string {
	out := map[string][]string{}
	for _, row := range effectiveRow.FindAllStringSubmatch(effectiveTable.FindString(page), -1) {
		var from []string
		for _, chip := range sourceChip.FindAllStringSubmatch(row[2], -1) {
			from = append(from, chip[1])
		}
		slices.Sort(from)
		out[row[1]] = from
	}
	return out
}

func sameSources(got, want map[string][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for perm, w := range want {
		w = slices.Clone(w)
		slices.Sort(w)
		if !slices.Equal(got[perm], w) {
			return false
		}
	}
	return true
}

func everyoneGroup(t *testing.T, e *env, admin tokenward.Principal) tokenward.UserGroup {
	t.Helper()
	page, err := e.service.SearchGroups(context.Background(), admin, tokenward.SearchRequest{
		Query: []tokenward.SearchCondition{{Key: "name", Value: tokenward.EveryoneGroupName, MatchingMethod: tokenward.MatchExact}}})
	if err != nil || len(page.Items) != 1 || !page.Items[0].Everyone {
		t.Fatalf("the Everyone group: %+v, %v", page.Items, err)
	}
	return page.Items[0]
}

// TestRolesAndGroupsInTheConsole creates a role and a group through the console's forms,
// assigns them in every way the console offers, and checks after each step what the user's
// page says about each effective permission and where it comes from, against what the
// service then lets the account do.
func TestRolesAndGroupsInTheConsole(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		ctx := context.Background()
		if _, err := tokenward.NewOperator(e.service).CreateUser(ctx, "bob@example.com", 0, password); err != nil {
			t.Fatal(err)
		}
		admin := e.admin()
		b := e.browser()
		e.signIn(b, "jane@example.com", password)

		roleID := created(t, "role", e.send(b, "POST", "/console/accounts/roles", url.Values{"name": {"Deployers"},
			"description": {"ship to production"}, "permission": {"ingestion", "events_management"}}), "/console/accounts/roles")
		rolePage := e.send(b, "GET", "/console/accounts/roles/"+roleID, nil)
		for _, want := range []string{"<h1>Deployers</h1>", `value="ingestion" checked`, `value="events_management" checked`, "ship to production"} {
			if rolePage.status != 200 || !strings.Contains(rolePage.body, want) {
				t.Errorf("the new role's page: %d, want 200 with %q", rolePage.status, want)
			}
		}
		if strings.Contains(rolePage.body, `value="alerts_management" checked`) {
			t.Errorf("the new role's page checks a permission it was not given")
		}
		groupID := created(t, "group", e.send(b, "POST", "/console/accounts/groups", url.Values{"name": {"Ops"},
			"description": {"on call"}, "role": {roleID}}), "/console/accounts/groups")
		if page := e.send(b, "GET", "/console/accounts/groups/"+groupID, nil); page.status != 200 ||
			!strings.Contains(page.body, `<a href="/console/accounts/roles/`+roleID+`">Deployers</a>`) {
			t.Errorf("the new group's page: %d, want 200 listing its role Deployers", page.status)
		}
		list := e.send(b, "GET", "/console/accounts/roles?q=deploy", nil)
		if list.status != 200 || !strings.Contains(list.body, `href="/console/accounts/roles/`+roleID+`"`) || !strings.Contains(list.body, "1 group") {
			t.Errorf("roles searched for \"deploy\": %d, want 200 listing Deployers, assigned to 1 group", list.status)
		}
		if none := e.send(b, "GET", "/console/accounts/roles?q=nothing-like-it", nil); strings.Contains(none.body, roleID) {
			t.Errorf("roles searched for a term no role holds still list Deployers")
		}
		everyone := everyoneGroup(t, e, admin)
		bob := "/console/accounts/users/bob@example.com"

		steps := []struct {
			name   string
			method string
			path   string
			form   url.Values
			notice string
			want   map[string][]string // bob's effective permissions and their sources
		}{
			{"bob joins Ops on the group page", "POST", "/console/accounts/groups/" + groupID + "/members/add", url.Values{"member": {"bob@example.com"}},
				"bob@example.com added to group Ops.",
				map[string][]string{"ingestion": {"group Ops → role Deployers"}, "events_management": {"group Ops → role Deployers"}}},
			{"Deployers assigned to bob on the role page", "POST", "/console/accounts/roles/" + roleID + "/assignees/add", url.Values{"assignee": {"bob@example.com"}},
				"Role Deployers assigned to bob@example.com.",
				map[string][]string{"ingestion": {"role Deployers", "group Ops → role Deployers"}, "events_management": {"role Deployers", "group Ops → role Deployers"}}},
			{"a direct grant on bob's page", "POST", bob, url.Values{"permission": {"ingestion"}},
				"Permissions updated.",
				map[string][]string{"ingestion": {"direct", "role Deployers", "group Ops → role Deployers"}, "events_management": {"role Deployers", "group Ops → role Deployers"}}},
			{"Deployers taken from bob on his page", "POST", bob + "/roles/remove", url.Values{"role": {roleID}},
				"bob@example.com no longer holds role Deployers.",
				map[string][]string{"ingestion": {"direct", "group Ops → role Deployers"}, "events_management": {"group Ops → role Deployers"}}},
			{"bob leaves Ops on his page", "POST", bob + "/groups/remove", url.Values{"group": {groupID}},
				"bob@example.com removed from group Ops.",
				map[string][]string{"ingestion": {"direct"}}},
			{"the Everyone group gets Deployers", "POST", "/console/accounts/groups/" + everyone.ID + "/roles/add", url.Values{"role": {roleID}},
				"Everyone now holds role Deployers.",
				map[string][]string{"ingestion": {"direct", "group Everyone → role Deployers"}, "events_management": {"group Everyone → role Deployers"}}},
			{"bob rejoins Ops on his page", "POST", bob + "/groups/add", url.Values{"group": {groupID}},
				"bob@example.com added to group Ops.",
				map[string][]string{"ingestion": {"direct", "group Everyone → role Deployers", "group Ops → role Deployers"},
					"events_management": {"group Everyone → role Deployers", "group Ops → role Deployers"}}},
			{"Deployers deleted", "POST", "/console/accounts/roles/" + roleID + "/delete", nil,
				"Role Deployers deleted; 0 accounts and 2 groups lost its permissions.",
				map[string][]string{"ingestion": {"direct"}}},
		}
		for _, step := range steps {
			t.Run(step.name, func(t *testing.T) {
				form := step.form
				if form == nil {
					form = url.Values{}
				}
				r := e.send(b, step.method, step.path, form)
				if r.status != http.StatusSeeOther {
					t.Fatalf("%s %s: %d, want 303\n%s", step.method, step.path, r.status, r.body)
				}
				if landed := e.send(b, "GET", r.header.Get("Location"), nil); !strings.Contains(landed.body, step.notice) {
					t.Errorf("after %s the page at %s lacks the notice %q", step.path, r.header.Get("Location"), step.notice)
				}
				page := e.send(b, "GET", bob, nil)
				if got := effective(page.body); page.status != 200 || !sameSources(got, step.want) {
					t.Errorf("bob's effective permissions: %d, %v; want %v", page.status, got, step.want)
				}
				a, err := e.service.AccountFor(ctx, admin, "bob@example.com", tokenward.UserAccount)
				if err != nil {
					t.Fatal(err)
				}
				for _, perm := range tokenward.AllPermissions {
					if _, shown := step.want[string(perm)]; a.Effective.Has(perm) != shown {
						t.Errorf("bob may %s: %v, but the page shows it: %v", perm, a.Effective.Has(perm), shown)
					}
				}
			})
		}
		if _, err := e.service.Role(ctx, admin, roleID); tokenward.ErrorCode(err) != tokenward.ENotFound {
			t.Errorf("the role deleted in the console: %v, want not found", err)
		}
		if page := e.send(b, "GET", "/console/accounts/roles/"+roleID, nil); page.status != 404 {
			t.Errorf("the deleted role's page: %d, want 404", page.status)
		}
	})
}

// TestServiceAccountRolesAndGroups: a service account's page gives it roles and groups and
// explains its effective permissions, never API Tokens, which a service account cannot hold
// even through a role; the user pages do not change service accounts.
func TestServiceAccountRolesAndGroups(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		ctx := context.Background()
		admin := e.admin()
		if _, err := tokenward.NewOperator(e.service).CreateServiceAccount(ctx, "sa::ci", 0, "builds"); err != nil {
			t.Fatal(err)
		}
		perms := tokenward.NewPermissionSet(tokenward.Ingestion, tokenward.TokenManagement)
		role, err := e.service.CreateRole(ctx, admin, tokenward.RoleWrite{Name: ptr("Builders"), Permissions: &perms})
		if err != nil {
			t.Fatal(err)
		}
		group, err := e.service.CreateGroup(ctx, admin, tokenward.GroupWrite{Name: ptr("CI"), Roles: &[]string{role.ID}})
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		e.signIn(b, "jane@example.com", password)
		page := "/console/accounts/service-accounts/sa::ci"
		tests := []struct {
			name, path string
			form       url.Values
			status     int
			want       map[string][]string
		}{
			{"a service account's role through a user's page", "/console/accounts/users/sa::ci/roles/add", url.Values{"role": {role.ID}}, 404,
				map[string][]string{}},
			{"role Builders", page + "/roles/add", url.Values{"role": {role.ID}}, http.StatusSeeOther,
				map[string][]string{"ingestion": {"role Builders"}}},
			{"group CI", page + "/groups/add", url.Values{"group": {group.ID}}, http.StatusSeeOther,
				map[string][]string{"ingestion": {"role Builders", "group CI → role Builders"}}},
			{"no group chosen", page + "/groups/add", url.Values{"group": {""}}, http.StatusBadRequest,
				map[string][]string{"ingestion": {"role Builders", "group CI → role Builders"}}},
			{"an unknown operation", page + "/groups/join", url.Values{"group": {group.ID}}, http.StatusNotFound,
				map[string][]string{"ingestion": {"role Builders", "group CI → role Builders"}}},
			{"out of group CI", page + "/groups/remove", url.Values{"group": {group.ID}}, http.StatusSeeOther,
				map[string][]string{"ingestion": {"role Builders"}}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if r := e.send(b, "POST", tc.path, tc.form); r.status != tc.status {
					t.Fatalf("POST %s: %d, want %d\n%s", tc.path, r.status, tc.status, r.body)
				}
				r := e.send(b, "GET", page, nil)
				if got := effective(r.body); r.status != 200 || !sameSources(got, tc.want) {
					t.Errorf("sa::ci's effective permissions: %d, %v; want %v", r.status, got, tc.want)
				}
				if strings.Contains(r.body, ">"+tokenward.EveryoneGroupName+"</a>") {
					t.Errorf("sa::ci's page lists it in the Everyone group, which holds user accounts only")
				}
			})
		}
		a, err := e.service.AccountFor(ctx, admin, "sa::ci", tokenward.ServiceAccount)
		if err != nil || !slices.Equal(a.Roles, []string{role.ID}) || a.Effective != tokenward.NewPermissionSet(tokenward.Ingestion) {
			t.Errorf("sa::ci: roles %v, may %v (%v); want Builders, ingestion only", a.Roles, a.Effective.List(), err)
		}
	})
}

// TestRoleAndGroupFormsRefused: a refused form comes back on its page with the reason, the
// status of the reason, and what was typed; nothing is created.
func TestRoleAndGroupFormsRefused(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		admin := e.admin()
		b := e.browser()
		e.signIn(b, "jane@example.com", password)
		created(t, "role", e.send(b, "POST", "/console/accounts/roles", url.Values{"name": {"Readers"}}), "/console/accounts/roles")
		tests := []struct {
			name   string
			path   string
			form   url.Values
			status int
			want   []string // in the page: the reason, and what was typed
		}{
			{"role without a name", "/console/accounts/roles", url.Values{"name": {" "}, "description": {"kept"}}, 400,
				[]string{"A role needs a name.", `value="kept"`}},
			{"role name taken", "/console/accounts/roles", url.Values{"name": {"Readers"}, "permission": {"alerts_management"}}, 409,
				[]string{"already exists", `value="alerts_management" checked`}},
			{"role with an unknown permission", "/console/accounts/roles", url.Values{"name": {"Writers"}, "permission": {"write_everything"}}, 400,
				[]string{"write_everything", `value="Writers"`}},
			{"group with an unknown role", "/console/accounts/groups", url.Values{"name": {"Ghosts"}, "role": {"00000000-0000-4000-8000-000000000000"}}, 404,
				[]string{"does not exist", `value="Ghosts"`}},
			{"group without a name", "/console/accounts/groups", url.Values{"name": {""}}, 400,
				[]string{"A user group needs a name."}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.send(b, "POST", tc.path, tc.form)
				if r.status != tc.status {
					t.Fatalf("POST %s: %d, want %d\n%s", tc.path, r.status, tc.status, r.body)
				}
				for _, want := range tc.want {
					if !strings.Contains(r.body, want) {
						t.Errorf("the refused form's page lacks %q", want)
					}
				}
			})
		}
		roles, err := e.service.SearchRoles(context.Background(), admin, tokenward.SearchRequest{})
		if err != nil || roles.Total != 1 {
			t.Errorf("roles after the refused forms: %d (%v), want 1 (Readers)", roles.Total, err)
		}
		groups, err := e.service.SearchGroups(context.Background(), admin, tokenward.SearchRequest{})
		if err != nil || groups.Total != 1 {
			t.Errorf("groups after the refused forms: %d (%v), want 1 (Everyone)", groups.Total, err)
		}
	})
}

// TestEveryoneGroupIsBuiltIn: the console shows the Everyone group as built-in and refuses,
// with the reason and 400, to delete it, rename it or change its members.
func TestEveryoneGroupIsBuiltIn(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		admin := e.admin()
		b := e.browser()
		e.signIn(b, "jane@example.com", password)
		everyone := everyoneGroup(t, e, admin)
		base := "/console/accounts/groups/" + everyone.ID

		page := e.send(b, "GET", base, nil)
		if page.status != 200 || !strings.Contains(page.body, "Built-in") || !strings.Contains(page.body, "Every user account (1 user now)") {
			t.Errorf("the Everyone group's page: %d, want 200 marked built-in, its members every user account", page.status)
		}
		for _, absent := range []string{`action="` + base + `/delete"`, `action="` + base + `/members/add"`, `name="name"`} {
			if strings.Contains(page.body, absent) {
				t.Errorf("the Everyone group's page offers %s", absent)
			}
		}
		tests := []struct {
			name string
			path string
			form url.Values
			want string
		}{
			{"delete", base + "/delete", url.Values{}, "The Everyone group cannot be deleted."},
			{"rename", base, url.Values{"name": {"All"}, "description": {"x"}}, "The Everyone group cannot be renamed."},
			{"add a member", base + "/members/add", url.Values{"member": {"jane@example.com"}}, "its members cannot be changed"},
			{"remove a member", base + "/members/remove", url.Values{"member": {"jane@example.com"}}, "its members cannot be changed"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.send(b, "POST", tc.path, tc.form)
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, `<p class="error" role="alert">`) || !strings.Contains(r.body, tc.want) {
					t.Errorf("POST %s: %d, want 400 with the error %q\n%s", tc.path, r.status, tc.want, r.body)
				}
				if !strings.Contains(r.body, "<h1>Everyone</h1>") {
					t.Errorf("the refusal is not shown on the Everyone group's page")
				}
				g, err := e.service.Group(context.Background(), admin, everyone.ID)
				if err != nil || g.Name != tokenward.EveryoneGroupName || g.Description != everyone.Description {
					t.Errorf("the Everyone group after a refused %s: %+v, %v; want it unchanged", tc.name, g, err)
				}
			})
		}
		// Its description and roles can be edited.
		if r := e.send(b, "POST", base, url.Values{"description": {"All of us"}}); r.status != http.StatusSeeOther {
			t.Errorf("editing the Everyone group's description: %d, want 303\n%s", r.status, r.body)
		}
		if g, _ := e.service.Group(context.Background(), admin, everyone.ID); g.Description != "All of us" || g.Name != tokenward.EveryoneGroupName {
			t.Errorf("the Everyone group after editing its description: %q %q, want Everyone, \"All of us\"", g.Name, g.Description)
		}
	})
}

// TestRolesAndGroupsNeedAccounts: a person without the Accounts permission sees neither
// Roles nor Groups in the navigation and gets 403 from every page and form of them, which
// change nothing.
func TestRolesAndGroupsNeedAccounts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		ctx := context.Background()
		admin := e.admin()
		if _, err := tokenward.NewOperator(e.service).CreateUser(ctx, "bob@example.com", tokenward.NewPermissionSet(tokenward.TokenManagement), password); err != nil {
			t.Fatal(err)
		}
		ingest := tokenward.NewPermissionSet(tokenward.Ingestion)
		role, err := e.service.CreateRole(ctx, admin, tokenward.RoleWrite{Name: ptr("Ingesters"), Permissions: &ingest})
		if err != nil {
			t.Fatal(err)
		}
		group, err := e.service.CreateGroup(ctx, admin, tokenward.GroupWrite{Name: ptr("Ops")})
		if err != nil {
			t.Fatal(err)
		}
		jane, bob := e.browser(), e.browser()
		e.signIn(jane, "jane@example.com", password)
		e.signIn(bob, "bob@example.com", password)
		for who, c := range map[string]*http.Client{"jane": jane, "bob": bob} {
			page := e.send(c, "GET", home, nil)
			links := strings.Contains(page.body, `href="/console/accounts/roles"`) && strings.Contains(page.body, `href="/console/accounts/groups"`)
			if links != (who == "jane") {
				t.Errorf("%s sees the Roles and Groups links: %v, want %v", who, links, who == "jane")
			}
		}
		tests := []struct {
			method, path string
			form         url.Values
		}{
			{"GET", "/console/accounts/roles", nil},
			{"GET", "/console/accounts/roles/" + role.ID, nil},
			{"GET", "/console/accounts/groups", nil},
			{"GET", "/console/accounts/groups/" + group.ID, nil},
			{"POST", "/console/accounts/roles", url.Values{"name": {"Mine"}, "permission": {"user_management"}}},
			{"POST", "/console/accounts/roles/" + role.ID, url.Values{"name": {"Ingesters"}, "permission": {"user_management"}}},
			{"POST", "/console/accounts/roles/" + role.ID + "/assignees/add", url.Values{"assignee": {"bob@example.com"}}},
			{"POST", "/console/accounts/roles/" + role.ID + "/delete", url.Values{}},
			{"POST", "/console/accounts/groups", url.Values{"name": {"Mine"}}},
			{"POST", "/console/accounts/groups/" + group.ID + "/members/add", url.Values{"member": {"bob@example.com"}}},
			{"POST", "/console/accounts/groups/" + group.ID + "/roles/add", url.Values{"role": {role.ID}}},
			{"POST", "/console/accounts/groups/" + group.ID + "/delete", url.Values{}},
			{"POST", "/console/accounts/users/bob@example.com/roles/add", url.Values{"role": {role.ID}}},
			{"POST", "/console/accounts/users/bob@example.com/groups/add", url.Values{"group": {group.ID}}},
		}
		for _, tc := range tests {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				r := e.send(bob, tc.method, tc.path, tc.form)
				if r.status != http.StatusForbidden || !strings.Contains(r.body, `requires the &#34;Accounts&#34; permission`) {
					t.Errorf("bob: %d, want 403 naming the Accounts permission\n%s", r.status, r.body)
				}
				if tc.method != "GET" {
					return
				}
				if r := e.send(jane, "GET", tc.path, nil); r.status != 200 {
					t.Errorf("jane on the same page: %d, want 200", r.status)
				}
			})
		}
		a, err := e.service.AccountFor(ctx, admin, "bob@example.com", tokenward.UserAccount)
		if err != nil || len(a.Roles) != 0 || slices.Contains(a.Groups, group.ID) || a.Effective != tokenward.NewPermissionSet(tokenward.TokenManagement) {
			t.Errorf("bob after his refused requests: roles %v, groups %v, may %v (%v); want what he had", a.Roles, a.Groups, a.Effective.List(), err)
		}
		r, err := e.service.Role(ctx, admin, role.ID)
		if err != nil || r.Permissions != ingest || len(r.Accounts) != 0 {
			t.Errorf("the role after bob's refused requests: %+v, %v; want it unchanged", r, err)
		}
		if roles, _ := e.service.SearchRoles(ctx, admin, tokenward.SearchRequest{}); roles.Total != 1 {
			t.Errorf("%d roles after bob's refused create, want 1", roles.Total)
		}
		if g, err := e.service.Group(ctx, admin, group.ID); err != nil || len(g.Roles) != 0 || len(g.Users) != 0 {
			t.Errorf("the group after bob's refused requests: %+v, %v; want it unchanged", g, err)
		}
	})
}

func ptr[T any](v T) *T { return &v }
