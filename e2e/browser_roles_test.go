package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestRolesAndGroupsInABrowser drives the Roles and Groups pages in Debian's Chromium
// against the real binary: a role and a group made through their forms give a user a
// permission that forward auth then grants, the user's page says where it comes from, the
// Everyone group offers no delete, and deleting the role takes the permission away. It
// saves screenshots of each page.
func TestRolesAndGroupsInABrowser(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	srv := binary.Start(t, dir, dsn)
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())[1]
	for _, cmd := range [][]string{
		{"user", "create", "jane@example.com", "--password-stdin"},
		{"serviceaccount", "create", "sa::deploy-bot", "--permission", "ingestion", "--description", "Deploys from CI"},
	} {
		if _, errOut, code := binary.Run(t, dir, "jane's long password\n", append(cmd, "--db", dsn)...); code != 0 {
			t.Fatalf("%v: %s", cmd, errOut)
		}
	}
	out, errOut, code := binary.Run(t, dir, "", "token", "create", "jane@example.com", "--name", "script", "--force", "--db", dsn)
	if code != 0 {
		t.Fatalf("token create: %s", errOut)
	}
	janeToken := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`).FindString(out)
	if janeToken == "" {
		t.Fatalf("token create printed no token: %q", out)
	}
	verify := srv.URL + "/auth/verify?permission=ingestion"
	if status := awaitStatus(t, verify, janeToken, 403); status != 403 {
		t.Fatalf("jane's token before any role: %d, want 403", status)
	}
	b := newBrowser(t, srv.URL)
	b.signIn("admin@localhost", password)

	t.Run("create a role", func(t *testing.T) {
		b := b.in(t)
		b.click(`nav a[href="/console/accounts/roles"]`)
		b.waitURL("/console/accounts/roles")
		b.waitText("No roles yet")
		b.shot("20-roles-empty")
		b.type_("#role-name", "Deployers")
		b.type_("#role-desc", "Ship to production")
		b.click(`input[name=permission][value=ingestion]`)
		b.click(`form[action="/console/accounts/roles"] button.primary`)
		b.waitText("Role created")
		if got := b.text("h1"); got != "Deployers" {
			t.Errorf("role page heading = %q, want Deployers", got)
		}
		checked := value(b, chromedp.Evaluate[bool](`document.querySelector("input[name=permission][value=ingestion]").checked`))
		if !checked {
			t.Errorf("the new role's page does not check ingestion")
		}
		b.shot("21-role")
	})

	t.Run("create a group with the role and add jane", func(t *testing.T) {
		b := b.in(t)
		b.click(`nav a[href="/console/accounts/groups"]`)
		b.waitURL("/console/accounts/groups")
		b.waitText("Everyone")
		b.type_("#group-name", "Ops")
		b.type_("#group-desc", "On call")
		b.click(`input[name=role]`)
		b.click(`form[action="/console/accounts/groups"] button.primary`)
		b.waitText("Group created")
		b.type_("#add-member", "jane@example.com")
		b.click(`form[action$="/members/add"] button`)
		b.waitText("jane@example.com added to group Ops")
		b.shot("22-group")
		if status := awaitStatus(t, verify, janeToken, 200); status != 200 {
			t.Errorf("jane's token after joining Ops (role Deployers: ingestion): %d, want 200", status)
		}
		b.open("/console/accounts/groups")
		b.shot("23-groups")
	})

	t.Run("the user page explains the permission", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/users/jane@example.com")
		if got := b.text("table.effective"); !strings.Contains(got, "Direct Data Ingestion") || !strings.Contains(got, "group Ops → role Deployers") {
			t.Errorf("jane's effective permissions read %q, want ingestion from group Ops → role Deployers", got)
		}
		b.shot("24-user-effective-permissions")
		b.open("/console/accounts/service-accounts/sa::deploy-bot")
		if got := b.text("table.effective"); !strings.Contains(got, "Direct Data Ingestion") || !strings.Contains(got, "direct") {
			t.Errorf("sa::deploy-bot's effective permissions read %q, want ingestion, direct", got)
		}
		b.shot("25-service-account-roles-and-groups")
	})

	t.Run("the Everyone group is built in", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/groups")
		b.click(`main a[href^="/console/accounts/groups/"]`) // Everyone sorts before Ops
		b.waitText("This is the built-in group of every user account")
		if n := b.count(`form[action$="/delete"]`); n != 0 {
			t.Errorf("the Everyone group's page offers %d delete forms, want none", n)
		}
		if n := b.count(`input[name=name]`); n != 0 {
			t.Errorf("the Everyone group's page offers a name field")
		}
		b.shot("26-group-everyone")
	})

	t.Run("deleting the role takes the permission away", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/roles")
		b.click(`main table a[href^="/console/accounts/roles/"]`)
		b.waitText("Assignees")
		b.click(`form[action$="/delete"] button`)
		b.confirm()
		b.waitText("Role Deployers deleted")
		if status := awaitStatus(t, verify, janeToken, 403); status != 403 {
			t.Errorf("jane's token after the role was deleted: %d, want 403 within %v", status, PropagationBound)
		}
	})

	t.Run("a user without Accounts sees neither page", func(t *testing.T) {
		b := b.in(t)
		b.click(`form.signout button`)
		b.waitURL("/console/signin")
		b.signIn("jane@example.com", "jane's long password")
		if n := b.count(`nav a[href="/console/accounts/roles"], nav a[href="/console/accounts/groups"]`); n != 0 {
			t.Errorf("jane sees %d Roles and Groups links, want 0", n)
		}
		b.open("/console/accounts/roles")
		if got := b.text("main"); !strings.Contains(got, "Accounts") || !strings.Contains(got, "permission") {
			t.Errorf("jane on the Roles page sees %q, want a refusal naming the Accounts permission", got)
		}
	})
}
