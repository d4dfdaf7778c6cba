package auth_test

import (
	"context"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestEffectivePermissions: an account's permissions are its direct grants, its roles',
// its groups' roles' and (users) the Everyone group's roles'; a service account never gets
// token_management from a role; every way of taking a permission away (out of the group,
// the role's permission revoked, the role or group deleted) holds on both instances at the
// next catch-up; the last administrator cannot be removed through a role either.
func TestEffectivePermissions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		dsn := storetest.DSN(t, engine)
		a, b := newInstance(t, dsn), newInstance(t, dsn)
		svc := a.service
		must := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		adminAccount, err := tokenward.NewOperator(svc).CreateUser(ctx, "admin@example.com", tokenward.NewPermissionSet(tokenward.UserManagement), "")
		must("create admin", err)
		admin := tokenward.Principal{AccountID: adminAccount.ID, Account: adminAccount.Identifier, Kind: tokenward.UserAccount,
			Permissions: tokenward.NewPermissionSet(tokenward.UserManagement)}
		jane, err := tokenward.NewOperator(svc).CreateUser(ctx, "jane@example.com", 0, "")
		must("create jane", err)
		_, err = tokenward.NewOperator(svc).CreateServiceAccount(ctx, "sa::bot", tokenward.NewPermissionSet(tokenward.Ingestion), "")
		must("create sa::bot", err)
		janeSecret, _, err := tokenward.NewOperator(svc).GenerateToken(ctx, jane.Identifier, "")
		must("jane's token", err)
		botSecret, _, err := tokenward.NewOperator(svc).GenerateToken(ctx, "sa::bot", "")
		must("bot's token", err)

		str := func(s string) *string { return &s }
		set := func(ps ...tokenward.Permission) *tokenward.PermissionSet {
			p := tokenward.NewPermissionSet(ps...)
			return &p
		}
		deployers, err := svc.CreateRole(ctx, admin, tokenward.RoleWrite{Name: str("Deployers"), Permissions: set(tokenward.TokenManagement, tokenward.AlertsManagement)})
		must("create role", err)
		viewers, err := svc.CreateRole(ctx, admin, tokenward.RoleWrite{Name: str("Viewers"), Permissions: set(tokenward.DashboardManagement)})
		must("create role", err)
		ops, err := svc.CreateGroup(ctx, admin, tokenward.GroupWrite{Name: str("Ops"), Roles: &[]string{deployers.ID}})
		must("create group", err)
		everyone, err := svc.SearchGroups(ctx, admin, tokenward.SearchRequest{Query: []tokenward.SearchCondition{
			{Key: "name", Value: tokenward.EveryoneGroupName, MatchingMethod: tokenward.MatchExact}}})
		must("find Everyone", err)
		if len(everyone.Items) != 1 || !everyone.Items[0].Everyone {
			t.Fatalf("search for the Everyone group: %+v, want exactly the built-in group", everyone.Items)
		}
		everyoneID := everyone.Items[0].ID

		// effective returns what each instance's index says the secret may do.
		type verdict struct {
			ok    bool
			perms tokenward.PermissionSet
		}
		check := func(step string, secret tokenward.Secret, want verdict) {
			t.Helper()
			must("catch up", b.verifier.CatchUp(ctx))
			for name, in := range map[string]*instance{"writer": a, "other": b} {
				p, ok := in.verifies(secret)
				if ok != want.ok || p.Permissions != want.perms {
					t.Errorf("%s, %s instance: Verify = %v with %v, want %v with %v", step, name, ok, p.Permissions.List(), want.ok, want.perms.List())
				}
			}
		}
		check("no roles", janeSecret, verdict{true, 0})

		_, err = svc.ChangeGroupMembers(ctx, admin, ops.ID, true, []string{"jane@example.com", "sa::bot"})
		must("add to Ops", err)
		check("jane in Ops", janeSecret, verdict{true, *set(tokenward.TokenManagement, tokenward.AlertsManagement)})
		check("bot in Ops: never token_management", botSecret, verdict{true, *set(tokenward.Ingestion, tokenward.AlertsManagement)})

		_, err = svc.ChangeGroupRoles(ctx, admin, everyoneID, true, []string{viewers.ID})
		must("Viewers to Everyone", err)
		check("Everyone's role", janeSecret, verdict{true, *set(tokenward.TokenManagement, tokenward.AlertsManagement, tokenward.DashboardManagement)})
		check("Everyone holds users only", botSecret, verdict{true, *set(tokenward.Ingestion, tokenward.AlertsManagement)})

		read, err := svc.AccountFor(ctx, admin, "jane@example.com", tokenward.UserAccount)
		must("read jane", err)
		if read.Permissions != 0 || read.Effective != *set(tokenward.TokenManagement, tokenward.AlertsManagement, tokenward.DashboardManagement) {
			t.Errorf("jane: direct %v, effective %v; want none direct and the three through roles", read.Permissions.List(), read.Effective.List())
		}
		if want := []string{everyoneID, ops.ID}; !sameSet(read.Groups, want) {
			t.Errorf("jane's groups = %v, want Everyone and Ops %v", read.Groups, want)
		}

		_, err = svc.ChangeGroupMembers(ctx, admin, ops.ID, false, []string{"jane@example.com"})
		must("remove from Ops", err)
		check("jane out of Ops", janeSecret, verdict{true, *set(tokenward.DashboardManagement)})

		_, err = svc.ChangeAccountRoles(ctx, admin, "jane@example.com", true, []string{deployers.ID})
		must("assign Deployers to jane", err)
		check("role assigned directly", janeSecret, verdict{true, *set(tokenward.TokenManagement, tokenward.AlertsManagement, tokenward.DashboardManagement)})
		_, err = svc.ChangeRolesPermission(ctx, admin, tokenward.TokenManagement, false, []string{deployers.ID})
		must("revoke from role", err)
		check("role's permission revoked", janeSecret, verdict{true, *set(tokenward.AlertsManagement, tokenward.DashboardManagement)})
		_, err = svc.DeleteRole(ctx, admin, deployers.ID)
		must("delete Deployers", err)
		check("role deleted", janeSecret, verdict{true, *set(tokenward.DashboardManagement)})
		check("role deleted, bot", botSecret, verdict{true, *set(tokenward.Ingestion)})
		_, err = svc.DeleteGroup(ctx, admin, ops.ID)
		must("delete Ops", err)

		// The Everyone group keeps its name, its place and its implicit members.
		for what, err := range map[string]error{
			"delete Everyone": func() error { _, err := svc.DeleteGroup(ctx, admin, everyoneID); return err }(),
			"rename Everyone": func() error {
				_, err := svc.UpdateGroup(ctx, admin, everyoneID, tokenward.GroupWrite{Name: str("All")})
				return err
			}(),
			"add to Everyone": func() error {
				_, err := svc.ChangeGroupMembers(ctx, admin, everyoneID, true, []string{"sa::bot"})
				return err
			}(),
			"duplicate role name": func() error {
				_, err := svc.CreateRole(ctx, admin, tokenward.RoleWrite{Name: str("Viewers")})
				return err
			}(),
			"unknown role in group": func() error {
				_, err := svc.CreateGroup(ctx, admin, tokenward.GroupWrite{Name: str("X"), Roles: &[]string{"nope"}})
				return err
			}(),
		} {
			want := map[string]string{"delete Everyone": tokenward.EInvalid, "rename Everyone": tokenward.EInvalid,
				"add to Everyone": tokenward.EInvalid, "duplicate role name": tokenward.EConflict, "unknown role in group": tokenward.ENotFound}[what]
			if got := tokenward.ErrorCode(err); got != want {
				t.Errorf("%s: error %v (code %q), want code %q", what, err, got, want)
			}
		}

		// An administrator only through a role is still the last one: taking the role's
		// permission away is refused once the direct grant is gone.
		admins, err := svc.CreateRole(ctx, admin, tokenward.RoleWrite{Name: str("Admins"), Permissions: set(tokenward.UserManagement)})
		must("create Admins", err)
		_, err = svc.ChangeRoleAssignees(ctx, admin, admins.ID, true, []string{"jane@example.com"})
		must("assign Admins to jane", err)
		_, err = svc.UpdateUser(ctx, admin, "admin@example.com", tokenward.UserWrite{Permissions: set()})
		must("take the admin's direct grant (jane remains an administrator through Admins)", err)
		if _, err := svc.DeleteRole(ctx, admin, admins.ID); tokenward.ErrorCode(err) != tokenward.EInvalid {
			t.Errorf("deleting the role of the last administrator: %v, want %s", err, tokenward.EInvalid)
		}
		if ids, err := svc.Administrators(ctx, admin); err != nil || !sameSet(ids, []string{"jane@example.com"}) {
			t.Errorf("Administrators = %v, %v; want [jane@example.com] (through a role)", ids, err)
		}
	})
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestLastUsableAdministrator: an administrator counts only when somebody can act as them
// (a password or a live token). A second user_management account with neither does not
// let the real one be deleted, demoted or lose their last token.
func TestLastUsableAdministrator(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		in := newInstance(t, storetest.DSN(t, engine))
		svc := in.service
		real, err := tokenward.NewOperator(svc).CreateUser(ctx, "admin@example.com", tokenward.NewPermissionSet(tokenward.UserManagement), "a long enough password")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tokenward.NewOperator(svc).CreateUser(ctx, "ghost@example.com", tokenward.NewPermissionSet(tokenward.UserManagement), ""); err != nil {
			t.Fatal(err)
		}
		admin := tokenward.Principal{AccountID: real.ID, Account: real.Identifier, Kind: tokenward.UserAccount,
			Permissions: tokenward.NewPermissionSet(tokenward.UserManagement)}
		none := tokenward.PermissionSet(0)
		for name, err := range map[string]error{
			"delete the real administrator": func() error {
				_, err := svc.DeleteAccounts(ctx, admin, []string{"admin@example.com"}, false)
				return err
			}(),
			"demote the real administrator": func() error {
				_, err := svc.UpdateUser(ctx, admin, "admin@example.com", tokenward.UserWrite{Permissions: &none})
				return err
			}(),
		} {
			if tokenward.ErrorCode(err) != tokenward.EInvalid {
				t.Errorf("%s while the other administrator has no password and no token: %v, want %s", name, err, tokenward.EInvalid)
			}
		}
		// Once the ghost has a token, somebody can act as them: the real one may go.
		if _, _, err := tokenward.NewOperator(svc).GenerateToken(ctx, "ghost@example.com", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.DeleteAccounts(ctx, admin, []string{"admin@example.com"}, false); err != nil {
			t.Errorf("delete the administrator once another usable one exists: %v, want success", err)
		}
		ghost, err := svc.AccountFor(ctx, admin, "ghost@example.com", tokenward.UserAccount)
		if err != nil {
			t.Fatal(err)
		}
		tokens, err := svc.TokensOf(ctx, admin, []tokenward.Account{ghost})
		if err != nil || len(tokens[ghost.ID]) != 1 {
			t.Fatalf("ghost's tokens: %v, %v", tokens, err)
		}
		gp := tokenward.Principal{AccountID: ghost.ID, Account: ghost.Identifier, Kind: tokenward.UserAccount, Permissions: ghost.Effective}
		if _, err := svc.RevokeOwnToken(ctx, gp, tokens[ghost.ID][0].ID); tokenward.ErrorCode(err) != tokenward.EInvalid {
			t.Errorf("the last usable administrator revokes their only token: %v, want %s", err, tokenward.EInvalid)
		}
	})
}
