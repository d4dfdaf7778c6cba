package gowavefront_test

// Terraform's wavefront_user, wavefront_user_group and wavefront_role resources and the user,
// group and role data sources (reference §10, §11, §12), replayed call by call with the
// client the provider uses, go-wavefront-management-api v2.2.1, against a real tokenward.
// The provider keeps what a read returns; a read that differs from what was written is drift,
// so every write here is followed by two reads that must both equal it.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	wavefront "github.com/WavefrontHQ/go-wavefront-management-api/v2"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/testkit"
)

// org is the organization's name, reported as "customer": startServer passes no --org, so
// it is the default of tokenward serve.
const org = "tokenward"

// The built-in group every user belongs to (reference §11).
const (
	everyoneName        = "Everyone"
	everyoneDescription = "System group which contains all users"
)

func TestTerraformUser(t *testing.T)                 { onEngines(t, testTerraformUser) }
func TestTerraformUserGroup(t *testing.T)            { onEngines(t, testTerraformUserGroup) }
func TestTerraformRole(t *testing.T)                 { onEngines(t, testTerraformRole) }
func TestTerraformDataSources(t *testing.T)          { onEngines(t, testTerraformDataSources) }
func TestTerraformEffectivePermissions(t *testing.T) { onEngines(t, testTerraformEffectivePermissions) }

// onEngines runs fn as the subtests "sqlite" and "postgres", each on a fresh database.
func onEngines(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, filepath.Join(t.TempDir(), "tokenward.db")) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresDSN(t)) })
}

// provider is a running tokenward with a client configured as the Terraform provider is:
// the administrator's token.
type provider struct {
	srv      *testkit.Server
	dir, dsn string
	client   *wavefront.Client
}

func startProvider(t *testing.T, dsn string) *provider {
	t.Helper()
	dir := t.TempDir()
	srv := binary.Start(t, dir, dsn)
	admin := cliToken(t, dir, dsn, "admin@localhost")
	awaitAuthenticated(t, srv, admin, "admin@localhost")
	client, err := wavefront.NewClient(&wavefront.Config{Address: srv.URL, Token: admin})
	if err != nil {
		t.Fatalf("wavefront.NewClient: %v", err)
	}
	return &provider{srv: srv, dir: dir, dsn: dsn, client: client}
}

// cliToken makes a token for account with `tokenward token create --force` (the account
// may lack token_management, which the command line otherwise demands of a user) and
// returns its secret.
func cliToken(t *testing.T, dir, dsn, account string) string {
	t.Helper()
	out, errOut, code := binary.Run(t, dir, "", "token", "create", account, "--force", "--db", dsn)
	secret := strings.TrimSpace(out)
	if code != 0 || !secretPattern.MatchString(secret) {
		t.Fatalf("tokenward token create %s: exit %d, stdout %q, stderr %q; want exit 0 and only a UUID secret", account, code, out, errOut)
	}
	return secret
}

// awaitAuthenticated waits until a token made by the command line authenticates on srv,
// for at most the documented propagation bound (one second).
func awaitAuthenticated(t *testing.T, srv *testkit.Server, secret, account string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		status, c := call(t, "GET", srv.URL+"/api/v2/apitoken", secret)
		if status == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /api/v2/apitoken with the command line's token for %s: got HTTP %d %v, want 200 within 1s", account, status, c)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sortedStrings returns a sorted copy of s, never nil, so that sets compare with
// reflect.DeepEqual whatever their order and whether the server sent [] or nothing.
func sortedStrings(s ...string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return out
}

// --- users -------------------------------------------------------------------------------

// userState is what the provider keeps of a user after a read (resourceUserRead): the id
// (the email), customer, permissions from "groups" and user_groups from the ids in
// "userGroups".
type userState struct {
	ID          string
	Customer    string
	Permissions []string
	UserGroups  []string
}

func userStateOf(t *testing.T, step string, u *wavefront.User) userState {
	t.Helper()
	s := userState{Customer: u.Customer, Permissions: sortedStrings(u.Permissions...), UserGroups: []string{}}
	if u.ID != nil {
		s.ID = *u.ID
	}
	for _, g := range u.Groups.UserGroups {
		if g.ID == nil {
			// The provider dereferences every group's id (encodeUserGroups) and would crash.
			t.Errorf("%s: user %s has a user group without an id: %+v", step, s.ID, g)
			continue
		}
		s.UserGroups = append(s.UserGroups, *g.ID)
	}
	slices.Sort(s.UserGroups)
	return s
}

// findUsers searches users as the provider's read, update and delete do: key id, EXACT.
func findUsers(t *testing.T, p *provider, id string) []*wavefront.User {
	t.Helper()
	found, err := p.client.Users().Find([]*wavefront.SearchCondition{{Key: "id", Value: id, MatchingMethod: "EXACT"}})
	if err != nil {
		t.Fatalf("Users().Find id EXACT %q: %v", id, err)
	}
	return found
}

// readUser reads a user the way resourceUserRead does and checks it equals want. One
// result is required: none means "gone" to the provider, and several are a search that
// did not match exactly.
func readUser(t *testing.T, p *provider, step, id string, want userState) {
	t.Helper()
	found := findUsers(t, p, id)
	if len(found) != 1 {
		t.Fatalf("%s: Users().Find id EXACT %q: got %d users %v, want exactly 1", step, id, len(found), userIDs(found))
	}
	if got := userStateOf(t, step, found[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %+v, want %+v", step, got, want)
	}
}

// getUser reads a user the way the wavefront_user data source does: GET /api/v2/user/{id},
// a bare UserModel whose userGroups are whole group objects. names maps each expected
// group id to its name.
func getUser(t *testing.T, p *provider, step, id string, want userState, names map[string]string) {
	t.Helper()
	u := wavefront.User{ID: &id}
	if err := p.client.Users().Get(&u); err != nil {
		t.Fatalf("%s: Users().Get(%q): %v", step, id, err)
	}
	if got := userStateOf(t, step, &u); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %+v, want %+v", step, got, want)
	}
	for _, g := range u.Groups.UserGroups {
		if g.ID == nil {
			continue
		}
		if want, ok := names[*g.ID]; ok && g.Name != want {
			t.Errorf("%s: the user group %s in userGroups: name got %q, want %q (a whole UserGroup object)", step, *g.ID, g.Name, want)
		}
	}
}

func userIDs(users []*wavefront.User) []string {
	ids := make([]string, 0, len(users))
	for _, u := range users {
		if u.ID == nil {
			ids = append(ids, "<nil>")
			continue
		}
		ids = append(ids, *u.ID)
	}
	return ids
}

// createUser creates a user as resourceUserCreate does and returns its id, failing the test
// unless the answer carries response.identifier (the provider dereferences it).
func createUser(t *testing.T, p *provider, email string, permissions []string, groupIDs ...string) string {
	t.Helper()
	req := &wavefront.NewUserRequest{EmailAddress: email, Permissions: permissions}
	for _, id := range groupIDs {
		req.Groups.UserGroups = append(req.Groups.UserGroups, wavefront.UserGroup{ID: &id})
	}
	var user wavefront.User
	if err := p.client.Users().Create(req, &user, true); err != nil {
		t.Fatalf("Users().Create(%s): %v", email, err)
	}
	if user.ID == nil {
		t.Fatalf("Users().Create(%s): the answer has no response.identifier; the provider's d.SetId(*user.ID) would crash", email)
	}
	if *user.ID != email {
		t.Errorf("Users().Create(%s): response.identifier: got %q, want %q", email, *user.ID, email)
	}
	return *user.ID
}

// --- user groups -------------------------------------------------------------------------

// groupState is what the provider and the group data sources read of a user group.
type groupState struct {
	ID, Name, Description, Customer string
	Users                           []string
	UserCount                       int
	Roles                           []string
}

func groupStateOf(g *wavefront.UserGroup) groupState {
	s := groupState{Name: g.Name, Description: g.Description, Customer: g.Customer,
		Users: sortedStrings(g.Users...), UserCount: g.UserCount, Roles: []string{}}
	if g.ID != nil {
		s.ID = *g.ID
	}
	for _, r := range g.Roles {
		s.Roles = append(s.Roles, r.ID)
	}
	slices.Sort(s.Roles)
	return s
}

// createGroup creates a user group as resourceUserGroupCreate does and returns its id.
func createGroup(t *testing.T, p *provider, name, description string) string {
	t.Helper()
	g := &wavefront.UserGroup{Name: name, Description: description}
	if err := p.client.UserGroups().Create(g); err != nil {
		t.Fatalf("UserGroups().Create(%s): %v", name, err)
	}
	if g.ID == nil || *g.ID == "" {
		t.Fatalf("UserGroups().Create(%s): the answer has no response.id; the provider's d.SetId(*ug.ID) would crash", name)
	}
	return *g.ID
}

// getGroup reads a user group as resourceUserGroupRead does (GET /api/v2/usergroup/{id}).
func getGroup(t *testing.T, p *provider, step, id string) groupState {
	t.Helper()
	g := &wavefront.UserGroup{ID: &id}
	if err := p.client.UserGroups().Get(g); err != nil {
		t.Fatalf("%s: UserGroups().Get(%s): %v", step, id, err)
	}
	return groupStateOf(g)
}

func readGroup(t *testing.T, p *provider, step, id string, want groupState) {
	t.Helper()
	if got := getGroup(t, p, step, id); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %+v, want %+v", step, got, want)
	}
}

// everyoneGroup finds the built-in group as the wavefront_default_user_group data source
// does: a search for name EXACT Everyone that must find exactly one group.
func everyoneGroup(t *testing.T, p *provider) *wavefront.UserGroup {
	t.Helper()
	found, err := p.client.UserGroups().Find([]*wavefront.SearchCondition{{Key: "name", Value: everyoneName, MatchingMethod: "EXACT"}})
	if err != nil {
		t.Fatalf("UserGroups().Find name EXACT Everyone: %v", err)
	}
	if len(found) != 1 {
		names := make([]string, len(found))
		for i, g := range found {
			names[i] = g.Name
		}
		t.Fatalf("UserGroups().Find name EXACT Everyone: got %d groups %q, want exactly 1 (the provider fails on any other count)", len(found), names)
	}
	if found[0].ID == nil || *found[0].ID == "" {
		t.Fatalf("UserGroups().Find name EXACT Everyone: got a group without an id: %+v", found[0])
	}
	return found[0]
}

// --- roles -------------------------------------------------------------------------------

// roleState is what a role read gives: the provider keeps name, description and
// permissions; the counts and samples are how the assignees show.
type roleState struct {
	ID, Name, Description, Customer string
	Permissions                     []string
	LinkedAccountsCount             int
	LinkedGroupsCount               int
	SampleLinkedAccounts            []string
	SampleLinkedGroups              []string
}

func roleStateOf(r *wavefront.Role) roleState {
	s := roleState{ID: r.ID, Name: r.Name, Description: r.Description, Customer: r.Customer,
		Permissions: sortedStrings(r.Permissions...), LinkedAccountsCount: r.LinkedAccountsCount,
		LinkedGroupsCount: r.LinkedGroupsCount, SampleLinkedAccounts: []string{}, SampleLinkedGroups: []string{}}
	if r.SampleLinkedAccounts != nil {
		s.SampleLinkedAccounts = sortedStrings(*r.SampleLinkedAccounts...)
	}
	if r.SampleLinkedGroups != nil {
		for _, g := range *r.SampleLinkedGroups {
			if g.ID == nil {
				s.SampleLinkedGroups = append(s.SampleLinkedGroups, "<nil>")
				continue
			}
			s.SampleLinkedGroups = append(s.SampleLinkedGroups, *g.ID)
		}
		slices.Sort(s.SampleLinkedGroups)
	}
	return s
}

// findRoles searches roles as resourceRoleRead and resourceRoleDelete do: key id, EXACT.
func findRoles(t *testing.T, p *provider, id string) []*wavefront.Role {
	t.Helper()
	found, err := p.client.Roles().Find([]*wavefront.SearchCondition{{Key: "id", Value: id, MatchingMethod: "EXACT"}})
	if err != nil {
		t.Fatalf("Roles().Find id EXACT %q: %v", id, err)
	}
	return found
}

func readRole(t *testing.T, p *provider, step, id string, want roleState) {
	t.Helper()
	found := findRoles(t, p, id)
	if len(found) != 1 {
		t.Fatalf("%s: Roles().Find id EXACT %q: got %d roles, want exactly 1", step, id, len(found))
	}
	if got := roleStateOf(found[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %+v, want %+v", step, got, want)
	}
}

// createRole creates a role as resourceRoleCreate does and returns it as answered.
func createRole(t *testing.T, p *provider, name, description string, permissions ...string) *wavefront.Role {
	t.Helper()
	r := &wavefront.Role{Name: name, Description: description, Permissions: permissions}
	if err := p.client.Roles().Create(r); err != nil {
		t.Fatalf("Roles().Create(%s): %v", name, err)
	}
	if r.ID == "" {
		t.Fatalf("Roles().Create(%s): the answer has no response.id", name)
	}
	return r
}

// addAssignees calls addAssignees and checks the answer is the role (the client decodes it
// into role, and an answer without the id would leave the provider's role without one).
func addAssignees(t *testing.T, p *provider, step string, role *wavefront.Role, assignees ...string) {
	t.Helper()
	id := role.ID
	if err := p.client.Roles().AddAssignees(assignees, role); err != nil {
		t.Fatalf("%s: Roles().AddAssignees(%q, %s): %v", step, assignees, id, err)
	}
	if role.ID != id {
		t.Fatalf("%s: Roles().AddAssignees answer: id got %q, want %q (the RoleDTO)", step, role.ID, id)
	}
}

func removeAssignees(t *testing.T, p *provider, step string, role *wavefront.Role, assignees ...string) {
	t.Helper()
	id := role.ID
	if err := p.client.Roles().RemoveAssignees(assignees, role); err != nil {
		t.Fatalf("%s: Roles().RemoveAssignees(%q, %s): %v", step, assignees, id, err)
	}
	if role.ID != id {
		t.Fatalf("%s: Roles().RemoveAssignees answer: id got %q, want %q (the RoleDTO)", step, role.ID, id)
	}
}

// --- wavefront_user ----------------------------------------------------------------------

func testTerraformUser(t *testing.T, dsn string) {
	p := startProvider(t, dsn)
	users := p.client.Users()
	everyone := *everyoneGroup(t, p).ID
	devs := createGroup(t, p, "terraform-devs", "developers")
	ops := createGroup(t, p, "terraform-ops", "operators")
	names := map[string]string{everyone: everyoneName, devs: "terraform-devs", ops: "terraform-ops"}

	// A user whose id contains the other's: a search for id EXACT must not return it.
	decoy := createUser(t, p, "x.jane+ci@example.com", nil)
	decoyState := userState{ID: "x.jane+ci@example.com", Customer: org, Permissions: []string{}, UserGroups: []string{everyone}}
	// It was created with "userGroups": null: it is in Everyone only.
	readUser(t, p, "read of a user created without groups", decoy, decoyState)

	// Create: POST /api/v2/user?sendEmail=true, the id read from response.identifier.
	const email = "jane+ci@example.com"
	var created wavefront.User
	err := users.Create(&wavefront.NewUserRequest{
		EmailAddress: email,
		Permissions:  []string{string(tokenward.EventsManagement), string(tokenward.DashboardManagement)},
		Groups:       wavefront.UserGroupsWrapper{UserGroups: []wavefront.UserGroup{{ID: &devs}}},
	}, &created, true)
	if err != nil {
		t.Fatalf("Users().Create: %v", err)
	}
	if created.ID == nil {
		t.Fatalf("Users().Create: the answer has no response.identifier; the provider's d.SetId(*user.ID) would crash")
	}
	id := *created.ID
	want := userState{ID: email, Customer: org,
		Permissions: sortedStrings("dashboard_management", "events_management"),
		UserGroups:  sortedStrings(devs, everyone)}
	if got := userStateOf(t, "Users().Create answer", &created); !reflect.DeepEqual(got, want) {
		t.Errorf("Users().Create answer: got %+v, want %+v", got, want)
	}
	if id != email {
		t.Fatalf("Users().Create: response.identifier got %q, want %q", id, email)
	}

	// Read (search id EXACT) twice: no drift. The data source's GET agrees.
	readUser(t, p, "read after create", id, want)
	readUser(t, p, "second read after create", id, want)
	getUser(t, p, "Users().Get after create", id, want, names)
	if got := getGroup(t, p, "UserGroups().Get(devs) after user create", devs).Users; !slices.Contains(got, email) {
		t.Errorf("users of terraform-devs after the user was created in it: got %q, want them to include %q", got, email)
	}

	// Update as resourceUserUpdate: search, set the id, permissions and groups from the
	// configuration (here the Everyone id too, as a state read back holds it), PUT the whole user.
	found := findUsers(t, p, id)
	if len(found) != 1 {
		t.Fatalf("update: Users().Find id EXACT %q: got %d users, want 1", id, len(found))
	}
	u := found[0]
	u.ID = &id
	u.Permissions = []string{string(tokenward.AlertsManagement), string(tokenward.TokenManagement)}
	u.Groups = wavefront.UserGroupsWrapper{UserGroups: []wavefront.UserGroup{{ID: &ops}, {ID: &everyone}}}
	if err := users.Update(u); err != nil {
		t.Fatalf("Users().Update: %v", err)
	}
	want = userState{ID: email, Customer: org,
		Permissions: sortedStrings("alerts_management", "token_management"),
		UserGroups:  sortedStrings(ops, everyone)}
	if got := userStateOf(t, "Users().Update answer", u); !reflect.DeepEqual(got, want) {
		t.Errorf("Users().Update answer (response): got %+v, want %+v", got, want)
	}
	readUser(t, p, "read after update", id, want)
	readUser(t, p, "second read after update", id, want)
	getUser(t, p, "Users().Get after update", id, want, names)
	if got := getGroup(t, p, "UserGroups().Get(devs) after user update", devs).Users; slices.Contains(got, email) {
		t.Errorf("users of terraform-devs after the update left it: got %q, want them without %q", got, email)
	}
	if got := getGroup(t, p, "UserGroups().Get(ops) after user update", ops).Users; !slices.Contains(got, email) {
		t.Errorf("users of terraform-ops after the update put the user in it: got %q, want them to include %q", got, email)
	}
	// The other user is untouched.
	readUser(t, p, "read of the other user after update", decoy, decoyState)

	// Delete as resourceUserDelete: search, then DELETE /api/v2/user/{id}.
	found = findUsers(t, p, id)
	if len(found) != 1 {
		t.Fatalf("delete: Users().Find id EXACT %q: got %d users, want 1", id, len(found))
	}
	if err := users.Delete(found[0]); err != nil {
		t.Fatalf("Users().Delete: %v", err)
	}
	if found := findUsers(t, p, id); len(found) != 0 {
		t.Errorf("read after delete: Users().Find id EXACT %q: got %d users %v, want none (the provider's sign that it is gone)", id, len(found), userIDs(found))
	}
	gone := wavefront.User{ID: &id}
	if err := users.Get(&gone); !wavefront.NotFound(err) {
		t.Errorf("Users().Get after delete: got error %v, want one for which wavefront.NotFound is true", err)
	}
	if got := getGroup(t, p, "UserGroups().Get(ops) after user delete", ops).Users; slices.Contains(got, email) {
		t.Errorf("users of terraform-ops after the user was deleted: got %q, want them without %q", got, email)
	}
	readUser(t, p, "read of the other user after delete", decoy, decoyState)
}

// --- wavefront_user_group ----------------------------------------------------------------

func testTerraformUserGroup(t *testing.T, dsn string) {
	p := startProvider(t, dsn)
	groups := p.client.UserGroups()
	everyone := *everyoneGroup(t, p).ID

	// Create, then read twice (GET /api/v2/usergroup/{id}).
	g := &wavefront.UserGroup{Name: "terraform-group", Description: "made by terraform"}
	if err := groups.Create(g); err != nil {
		t.Fatalf("UserGroups().Create: %v", err)
	}
	if g.ID == nil || *g.ID == "" {
		t.Fatalf("UserGroups().Create: the answer has no response.id; the provider's d.SetId(*ug.ID) would crash")
	}
	id := *g.ID
	want := groupState{ID: id, Name: "terraform-group", Description: "made by terraform", Customer: org, Users: []string{}, Roles: []string{}}
	if got := groupStateOf(g); !reflect.DeepEqual(got, want) {
		t.Errorf("UserGroups().Create answer: got %+v, want %+v", got, want)
	}
	readGroup(t, p, "read after create", id, want)
	readGroup(t, p, "second read after create", id, want)

	// Members and a role, so that the update below must keep them.
	alice := createUser(t, p, "alice@example.com", nil)
	bob := createUser(t, p, "bob+x@example.com", nil)
	if err := groups.AddUsers(&id, &[]string{alice, bob}); err != nil {
		t.Fatalf("UserGroups().AddUsers: %v", err)
	}
	want.Users, want.UserCount = sortedStrings(alice, bob), 2
	readGroup(t, p, "read after AddUsers", id, want)
	readUser(t, p, "user read after AddUsers", bob, userState{ID: bob, Customer: org, Permissions: []string{}, UserGroups: sortedStrings(id, everyone)})

	role := createRole(t, p, "group-role", "held by terraform-group", string(tokenward.AlertsManagement))
	addAssignees(t, p, "assign the role to the group", role, id)
	want.Roles = []string{role.ID}
	readGroup(t, p, "read after the role was assigned", id, want)

	// Update as resourceUserGroupUpdate: a new object with only id, name and description.
	// The client sends "Roles": null and no "users"; neither may change the group.
	up := &wavefront.UserGroup{ID: &id, Name: "terraform-group-renamed", Description: "renamed by terraform"}
	if err := groups.Update(up); err != nil {
		t.Fatalf("UserGroups().Update: %v", err)
	}
	want.Name, want.Description = "terraform-group-renamed", "renamed by terraform"
	if got := groupStateOf(up); !reflect.DeepEqual(got, want) {
		t.Errorf("UserGroups().Update answer: got %+v, want %+v (members and roles unchanged)", got, want)
	}
	readGroup(t, p, "read after update", id, want)
	readGroup(t, p, "second read after update", id, want)
	readRole(t, p, "role read after the group update", role.ID, roleState{ID: role.ID, Name: "group-role", Description: "held by terraform-group",
		Customer: org, Permissions: []string{"alerts_management"}, LinkedGroupsCount: 1, SampleLinkedAccounts: []string{}, SampleLinkedGroups: []string{id}})

	// RemoveUsers.
	if err := groups.RemoveUsers(&id, &[]string{bob}); err != nil {
		t.Fatalf("UserGroups().RemoveUsers: %v", err)
	}
	want.Users, want.UserCount = []string{alice}, 1
	readGroup(t, p, "read after RemoveUsers", id, want)
	readUser(t, p, "user read after RemoveUsers", bob, userState{ID: bob, Customer: org, Permissions: []string{}, UserGroups: []string{everyone}})

	// The built-in group cannot be deleted.
	builtin := &wavefront.UserGroup{ID: &everyone}
	if err := groups.Delete(builtin); err == nil {
		t.Errorf("UserGroups().Delete(Everyone): got no error, want one (the built-in group cannot be deleted)")
	}
	if got := *everyoneGroup(t, p).ID; got != everyone {
		t.Errorf("Everyone's id after an attempt to delete it: got %q, want %q", got, everyone)
	}

	// Delete: GET answers 404 afterwards, which the client reports as NotFound; the group
	// leaves its members and roles.
	del := &wavefront.UserGroup{ID: &id}
	if err := groups.Delete(del); err != nil {
		t.Fatalf("UserGroups().Delete: %v", err)
	}
	gone := &wavefront.UserGroup{ID: &id}
	err := groups.Get(gone)
	if err == nil {
		t.Errorf("UserGroups().Get after Delete: got %+v and no error, want a not-found error", groupStateOf(gone))
	} else if !wavefront.NotFound(err) {
		t.Errorf("UserGroups().Get after Delete: wavefront.NotFound(%q) is false, want true", err)
	}
	readUser(t, p, "user read after the group was deleted", alice, userState{ID: alice, Customer: org, Permissions: []string{}, UserGroups: []string{everyone}})
	readRole(t, p, "role read after the group was deleted", role.ID, roleState{ID: role.ID, Name: "group-role", Description: "held by terraform-group",
		Customer: org, Permissions: []string{"alerts_management"}, SampleLinkedAccounts: []string{}, SampleLinkedGroups: []string{}})
}

// --- wavefront_role ----------------------------------------------------------------------

func testTerraformRole(t *testing.T, dsn string) {
	p := startProvider(t, dsn)
	roles := p.client.Roles()
	first := createUser(t, p, "role-user@example.com", nil)
	second := createUser(t, p, "role-user+two@example.com", nil)
	group := createGroup(t, p, "role-group", "assigned the role")

	// Create as resourceRoleCreate: POST the role (the client sends "id": ""), then
	// addAssignees with account and group ids.
	role := createRole(t, p, "terraform-role", "made by terraform", string(tokenward.EventsManagement), string(tokenward.AlertsManagement))
	id := role.ID
	want := roleState{ID: id, Name: "terraform-role", Description: "made by terraform", Customer: org,
		Permissions: sortedStrings("alerts_management", "events_management"), SampleLinkedAccounts: []string{}, SampleLinkedGroups: []string{}}
	if got := roleStateOf(role); !reflect.DeepEqual(got, want) {
		t.Errorf("Roles().Create answer: got %+v, want %+v", got, want)
	}
	addAssignees(t, p, "create", role, first, group)
	want.LinkedAccountsCount, want.LinkedGroupsCount = 1, 1
	want.SampleLinkedAccounts, want.SampleLinkedGroups = []string{first}, []string{group}
	if got := roleStateOf(role); !reflect.DeepEqual(got, want) {
		t.Errorf("Roles().AddAssignees answer: got %+v, want %+v", got, want)
	}
	readRole(t, p, "read after create", id, want)
	readRole(t, p, "second read after create", id, want)

	// The wavefront_role data source reads GET /api/v2/role/{id}.
	got := &wavefront.Role{ID: id}
	if err := roles.Get(got); err != nil {
		t.Fatalf("Roles().Get: %v", err)
	}
	if s := roleStateOf(got); !reflect.DeepEqual(s, want) {
		t.Errorf("Roles().Get after create: got %+v, want %+v", s, want)
	}

	// Update as resourceRoleUpdate: PUT a new object with id, name, description and the new
	// permissions; addAssignees with every assignee of the new configuration (some already
	// assigned); removeAssignees with those dropped; grant each permission again.
	up := &wavefront.Role{ID: id, Name: "terraform-role-renamed", Description: "renamed by terraform",
		Permissions: []string{string(tokenward.EventsManagement), string(tokenward.DashboardManagement)}}
	if err := roles.Update(up); err != nil {
		t.Fatalf("Roles().Update: %v", err)
	}
	want.Name, want.Description = "terraform-role-renamed", "renamed by terraform"
	want.Permissions = sortedStrings("dashboard_management", "events_management")
	if got := roleStateOf(up); !reflect.DeepEqual(got, want) {
		t.Errorf("Roles().Update answer: got %+v, want %+v (assignees unchanged by a PUT)", got, want)
	}
	addAssignees(t, p, "update", up, second, group)
	removeAssignees(t, p, "update", up, first)
	for _, perm := range up.Permissions {
		if err := roles.GrantPermission(perm, []*wavefront.Role{up}); err != nil {
			t.Fatalf("update: Roles().GrantPermission(%s) of a permission the role holds: %v", perm, err)
		}
	}
	want.SampleLinkedAccounts = []string{second}
	readRole(t, p, "read after update", id, want)
	readRole(t, p, "second read after update", id, want)

	// Grant and revoke by permission (POST /api/v2/role/grant|revoke/{permission}).
	if err := roles.GrantPermission(string(tokenward.Ingestion), []*wavefront.Role{{ID: id}}); err != nil {
		t.Fatalf("Roles().GrantPermission(ingestion): %v", err)
	}
	want.Permissions = sortedStrings("dashboard_management", "events_management", "ingestion")
	readRole(t, p, "read after GrantPermission(ingestion)", id, want)
	if err := roles.RevokePermission(string(tokenward.EventsManagement), []*wavefront.Role{{ID: id}}); err != nil {
		t.Fatalf("Roles().RevokePermission(events_management): %v", err)
	}
	want.Permissions = sortedStrings("dashboard_management", "ingestion")
	readRole(t, p, "read after RevokePermission(events_management)", id, want)

	// RemoveAssignees of everything left.
	removeAssignees(t, p, "remove all", &wavefront.Role{ID: id}, second, group)
	want.LinkedAccountsCount, want.LinkedGroupsCount = 0, 0
	want.SampleLinkedAccounts, want.SampleLinkedGroups = []string{}, []string{}
	readRole(t, p, "read after RemoveAssignees", id, want)
	if got := getGroup(t, p, "group read after RemoveAssignees", group).Roles; slices.Contains(got, id) {
		t.Errorf("roles of role-group after RemoveAssignees: got %q, want them without %q", got, id)
	}

	// Put the group back, then delete as resourceRoleDelete: search, DELETE, read again.
	addAssignees(t, p, "before delete", &wavefront.Role{ID: id}, group)
	found := findRoles(t, p, id)
	if len(found) != 1 {
		t.Fatalf("delete: Roles().Find id EXACT %q: got %d roles, want 1", id, len(found))
	}
	if err := roles.Delete(found[0]); err != nil {
		t.Fatalf("Roles().Delete: %v", err)
	}
	if found := findRoles(t, p, id); len(found) != 0 {
		t.Errorf("read after delete: Roles().Find id EXACT %q: got %d roles, want none (the provider's sign that it is gone)", id, len(found))
	}
	if err := roles.Get(&wavefront.Role{ID: id}); !wavefront.NotFound(err) {
		t.Errorf("Roles().Get after delete: got error %v, want one for which wavefront.NotFound is true", err)
	}
	if got := getGroup(t, p, "group read after the role was deleted", group).Roles; slices.Contains(got, id) {
		t.Errorf("roles of role-group after the role was deleted: got %q, want them without %q", got, id)
	}
}

// --- data sources ------------------------------------------------------------------------

// dataSourceUsers is how many users the data-source test creates: more than the default
// search limit (100), so that Users().Find(nil) needs a second page.
const dataSourceUsers = 120

func testTerraformDataSources(t *testing.T, dsn string) {
	p := startProvider(t, dsn)

	// wavefront_default_user_group: name EXACT Everyone finds the built-in group alone,
	// though another group's name starts with Everyone.
	decoy := createGroup(t, p, "Everyone else", "not the built-in group")
	everyone := everyoneGroup(t, p)
	if *everyone.ID == decoy {
		t.Errorf("UserGroups().Find name EXACT Everyone: got the group named %q, want the built-in one", "Everyone else")
	}
	if everyone.Name != everyoneName || everyone.Description != everyoneDescription {
		t.Errorf("Everyone: got name %q description %q, want %q and %q", everyone.Name, everyone.Description, everyoneName, everyoneDescription)
	}
	if everyone.Properties.UsersEditable || everyone.Properties.NameEditable {
		t.Errorf("Everyone: properties got %+v, want usersEditable and nameEditable false", everyone.Properties)
	}
	everyoneID := *everyone.ID

	groupIDs := map[string]string{"Everyone else": decoy, everyoneName: everyoneID}
	for _, name := range []string{"ds-group-1", "ds-group-2"} {
		groupIDs[name] = createGroup(t, p, name, "description of "+name)
	}
	roleIDs := map[string]string{}
	roleIDs["ds-role-1"] = createRole(t, p, "ds-role-1", "first", string(tokenward.Ingestion)).ID
	roleIDs["ds-role-2"] = createRole(t, p, "ds-role-2", "second", string(tokenward.AlertsManagement), string(tokenward.EventsManagement)).ID
	addAssignees(t, p, "data sources", &wavefront.Role{ID: roleIDs["ds-role-1"]}, groupIDs["ds-group-1"])

	// Enough users for two pages; one email with a +.
	want := map[string]bool{"admin@localhost": true}
	for i := range dataSourceUsers {
		email := fmt.Sprintf("user-%03d@example.com", i)
		if i == 7 {
			email = "user-007+ds@example.com"
		}
		createUser(t, p, email, nil)
		want[email] = true
	}
	member := groupIDs["ds-group-1"]
	if err := p.client.UserGroups().AddUsers(&member, &[]string{"user-000@example.com"}); err != nil {
		t.Fatalf("UserGroups().AddUsers(ds-group-1): %v", err)
	}

	// The search pages as the client does: limit 100, then offset 100.
	first, err := p.client.NewSearch("user", &wavefront.SearchParams{}).Execute()
	if err != nil {
		t.Fatalf("search user, first page: %v", err)
	}
	var page []*wavefront.User
	if err := jsonItems(first, &page); err != nil {
		t.Fatalf("search user, first page: items: %v", err)
	}
	if len(page) != 100 || !first.Response.MoreItems || first.NextOffset != 100 {
		t.Errorf("search user with the default limit over %d users: got %d items, moreItems %v, next offset %d; want 100, true, 100",
			len(want), len(page), first.Response.MoreItems, first.NextOffset)
	}
	second, err := p.client.NewSearch("user", &wavefront.SearchParams{Offset: 100}).Execute()
	if err != nil {
		t.Fatalf("search user, second page: %v", err)
	}
	if err := jsonItems(second, &page); err != nil {
		t.Fatalf("search user, second page: items: %v", err)
	}
	if len(page) != len(want)-100 || second.Response.MoreItems {
		t.Errorf("search user offset 100 over %d users: got %d items, moreItems %v; want %d, false", len(want), len(page), second.Response.MoreItems, len(want)-100)
	}

	// wavefront_users: Find(nil), every page. Each user once, in Everyone.
	all, err := p.client.Users().Find(nil)
	if err != nil {
		t.Fatalf("Users().Find(nil): %v", err)
	}
	seen := map[string]int{}
	for _, u := range all {
		s := userStateOf(t, "Users().Find(nil)", u)
		seen[s.ID]++
		if s.Customer != org {
			t.Errorf("Users().Find(nil): %s: customer got %q, want %q", s.ID, s.Customer, org)
		}
		if !slices.Contains(s.UserGroups, everyoneID) {
			t.Errorf("Users().Find(nil): %s: user groups got %q, want them to include Everyone %s", s.ID, s.UserGroups, everyoneID)
		}
		if s.ID == "user-000@example.com" && !reflect.DeepEqual(s.UserGroups, sortedStrings(everyoneID, groupIDs["ds-group-1"])) {
			t.Errorf("Users().Find(nil): %s: user groups got %q, want %q", s.ID, s.UserGroups, sortedStrings(everyoneID, groupIDs["ds-group-1"]))
		}
	}
	for id, n := range seen {
		if n != 1 || !want[id] {
			t.Errorf("Users().Find(nil): %q listed %d times, want it only if created, and once", id, n)
		}
	}
	for id := range want {
		if seen[id] == 0 {
			t.Errorf("Users().Find(nil): %q missing (%d users listed, want %d)", id, len(all), len(want))
		}
	}

	// wavefront_user_groups and wavefront_roles: Find(nil) lists what was created.
	listedGroups, err := p.client.UserGroups().Find(nil)
	if err != nil {
		t.Fatalf("UserGroups().Find(nil): %v", err)
	}
	checkListedGroups(t, "UserGroups().Find(nil)", listedGroups, groupIDs, roleIDs)
	listedRoles, err := p.client.Roles().Find(nil)
	if err != nil {
		t.Fatalf("Roles().Find(nil): %v", err)
	}
	checkListedRoles(t, "Roles().Find(nil)", listedRoles, roleIDs)

	// The provider's wavefront_roles and wavefront_user_groups data sources really send
	// "limit" and "offset" as search conditions, with the values string(rune(100)) and
	// string(rune(0)) (terraform-provider-wavefront data_source_roles.go and
	// data_source_user_groups.go); they work only if such conditions do not fail the search
	// or filter everything out.
	providerFilter := []*wavefront.SearchCondition{
		{Key: "limit", Value: string(rune(100)), MatchingMethod: "EXACT"},
		{Key: "offset", Value: string(rune(0)), MatchingMethod: "EXACT"},
	}
	if listedRoles, err = p.client.Roles().Find(providerFilter); err != nil {
		t.Errorf("Roles().Find with the provider's limit/offset conditions: %v", err)
	} else {
		checkListedRoles(t, "Roles().Find with the provider's limit/offset conditions", listedRoles, roleIDs)
	}
	if listedGroups, err = p.client.UserGroups().Find(providerFilter); err != nil {
		t.Errorf("UserGroups().Find with the provider's limit/offset conditions: %v", err)
	} else {
		checkListedGroups(t, "UserGroups().Find with the provider's limit/offset conditions", listedGroups, groupIDs, roleIDs)
	}
}

// jsonItems decodes a search page's items.
func jsonItems(res *wavefront.SearchResponse, into any) error {
	if len(res.Response.Items) == 0 {
		return fmt.Errorf("no items in the answer")
	}
	return json.Unmarshal(res.Response.Items, into)
}

// checkListedGroups checks that every created group (name → id) is listed once with its
// id, and that ds-group-1 shows its role and member as the data source reads them.
func checkListedGroups(t *testing.T, step string, listed []*wavefront.UserGroup, created, roleIDs map[string]string) {
	t.Helper()
	byName := map[string][]groupState{}
	for _, g := range listed {
		byName[g.Name] = append(byName[g.Name], groupStateOf(g))
	}
	for name, id := range created {
		got := byName[name]
		if len(got) != 1 || got[0].ID != id {
			t.Errorf("%s: groups named %q: got %+v, want one with id %s", step, name, got, id)
		}
	}
	if got := byName["ds-group-1"]; len(got) == 1 {
		if want := []string{roleIDs["ds-role-1"]}; !reflect.DeepEqual(got[0].Roles, want) {
			t.Errorf("%s: ds-group-1's roles: got %q, want %q", step, got[0].Roles, want)
		}
		if want := []string{"user-000@example.com"}; !reflect.DeepEqual(got[0].Users, want) {
			t.Errorf("%s: ds-group-1's users: got %q, want %q", step, got[0].Users, want)
		}
	}
}

// checkListedRoles checks that every created role (name → id) is listed once with its id.
func checkListedRoles(t *testing.T, step string, listed []*wavefront.Role, created map[string]string) {
	t.Helper()
	byName := map[string][]roleState{}
	for _, r := range listed {
		byName[r.Name] = append(byName[r.Name], roleStateOf(r))
	}
	for name, id := range created {
		got := byName[name]
		if len(got) != 1 || got[0].ID != id {
			t.Errorf("%s: roles named %q: got %+v, want one with id %s", step, name, got, id)
		}
	}
	if got := byName["ds-role-2"]; len(got) == 1 {
		if want := sortedStrings("alerts_management", "events_management"); !reflect.DeepEqual(got[0].Permissions, want) {
			t.Errorf("%s: ds-role-2's permissions: got %q, want %q", step, got[0].Permissions, want)
		}
	}
}

// --- effective permissions ---------------------------------------------------------------

// testTerraformEffectivePermissions checks that what Terraform writes takes effect: a user with no
// direct permission may generate tokens exactly while a role holding token_management
// reaches it, through a group, directly or through Everyone (reference §11).
func testTerraformEffectivePermissions(t *testing.T, dsn string) {
	p := startProvider(t, dsn)
	groups, roles := p.client.UserGroups(), p.client.Roles()
	const email = "dev+tf@example.com"
	createUser(t, p, email, nil)
	everyone := *everyoneGroup(t, p).ID
	dev := cliToken(t, p.dir, p.dsn, email)
	awaitAuthenticated(t, p.srv, dev, email)

	refused := func(step string) {
		t.Helper()
		// The change was made on this instance: the next request sees it.
		if status, c := call(t, "POST", p.srv.URL+"/api/v2/apitoken", dev); status != 403 {
			t.Errorf("%s: POST /api/v2/apitoken with the user's token: got HTTP %d %v, want 403", step, status, c)
		}
	}
	allowed := func(step string) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			status, c := call(t, "POST", p.srv.URL+"/api/v2/apitoken", dev)
			if status == 200 {
				list := testkit.ResponseList(t, c)
				last := list[len(list)-1]
				if id, _ := last["tokenID"].(string); !secretPattern.MatchString(id) {
					t.Errorf("%s: the generated token's tokenID: got %q, want its secret, a UUID", step, id)
				}
				if got := last["account"]; got != email {
					t.Errorf("%s: the generated token's account: got %v, want %q", step, got, email)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: POST /api/v2/apitoken with the user's token: got HTTP %d %v, want 200 within 1s", step, status, c)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	noDirectPermissions := func(step string) {
		t.Helper()
		found := findUsers(t, p, email)
		if len(found) != 1 {
			t.Fatalf("%s: Users().Find id EXACT %q: got %d users, want 1", step, email, len(found))
		}
		if len(found[0].Permissions) != 0 {
			t.Errorf("%s: the user's direct permissions: got %q, want none (the permission must come from a role)", step, found[0].Permissions)
		}
	}

	refused("before any role reaches the user")

	role := createRole(t, p, "token-makers", "may generate tokens", string(tokenward.TokenManagement))
	group := createGroup(t, p, "token-makers", "users who may generate tokens")
	addAssignees(t, p, "assign the role to the group", role, group)

	// Through a group.
	if err := groups.AddUsers(&group, &[]string{email}); err != nil {
		t.Fatalf("UserGroups().AddUsers: %v", err)
	}
	noDirectPermissions("in the group")
	allowed("after AddUsers to a group whose role holds token_management")
	if err := groups.RemoveUsers(&group, &[]string{email}); err != nil {
		t.Fatalf("UserGroups().RemoveUsers: %v", err)
	}
	refused("after RemoveUsers took the user out of the group")

	// Directly.
	addAssignees(t, p, "assign the role to the user", role, email)
	allowed("after AddAssignees of the user to the role")
	removeAssignees(t, p, "unassign the user", role, email)
	refused("after RemoveAssignees of the user")

	// Through Everyone, whose membership is implicit.
	addAssignees(t, p, "assign the role to Everyone", role, everyone)
	allowed("after AddAssignees of Everyone to the role")
	removeAssignees(t, p, "unassign Everyone", role, everyone)
	refused("after RemoveAssignees of Everyone")

	// Changing the role's permissions.
	if err := groups.AddUsers(&group, &[]string{email}); err != nil {
		t.Fatalf("UserGroups().AddUsers again: %v", err)
	}
	allowed("back in the group")
	if err := roles.RevokePermission(string(tokenward.TokenManagement), []*wavefront.Role{{ID: role.ID}}); err != nil {
		t.Fatalf("Roles().RevokePermission(token_management): %v", err)
	}
	refused("after RevokePermission(token_management) on the group's role")
	if err := roles.GrantPermission(string(tokenward.TokenManagement), []*wavefront.Role{{ID: role.ID}}); err != nil {
		t.Fatalf("Roles().GrantPermission(token_management): %v", err)
	}
	allowed("after GrantPermission(token_management) on the group's role")

	// Deleting the role, then the group, takes the permission away.
	if err := roles.Delete(&wavefront.Role{ID: role.ID}); err != nil {
		t.Fatalf("Roles().Delete: %v", err)
	}
	refused("after the group's role was deleted")
	other := createRole(t, p, "token-makers-2", "may generate tokens", string(tokenward.TokenManagement))
	addAssignees(t, p, "assign a second role to the group", other, group)
	allowed("after a second role with token_management was assigned to the group")
	if err := groups.Delete(&wavefront.UserGroup{ID: &group}); err != nil {
		t.Fatalf("UserGroups().Delete: %v", err)
	}
	refused("after the user's group was deleted")
	noDirectPermissions("at the end")
}
