package auth_test

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestRestrictionsFollowEveryChange: a token bound to networks and scoped to a subset of
// its account's permissions is answered alike by the instance that made it, by another
// instance after it caught up, and by the database alone (the command line's path); an
// edit of its networks and a permission its account loses hold on both instances.
func TestRestrictionsFollowEveryChange(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		dsn := storetest.DSN(t, engine)
		a, b := newInstance(t, dsn), newInstance(t, dsn)
		op := tokenward.NewOperator(a.service)
		if _, err := op.CreateUser(ctx, "admin@example.com", tokenward.NewPermissionSet(tokenward.UserManagement), ""); err != nil {
			t.Fatal(err)
		}
		adminSecret, _, err := op.GenerateToken(ctx, "admin@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		admin, err := a.service.Authenticate(ctx, adminSecret.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		held := tokenward.NewPermissionSet(tokenward.Ingestion, tokenward.DashboardManagement, tokenward.EventsManagement)
		if _, err := a.service.CreateServiceAccount(ctx, admin, tokenward.ServiceAccountWrite{Identifier: "sa::bot", Permissions: &held}); err != nil {
			t.Fatal(err)
		}
		scope := tokenward.NewPermissionSet(tokenward.Ingestion, tokenward.DashboardManagement)
		local := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		secret, _, err := a.service.GenerateServiceAccountToken(ctx, admin, "sa::bot", "ci", tokenward.Lifetime{},
			tokenward.Restrictions{Networks: local, Permissions: &scope})
		if err != nil {
			t.Fatal(err)
		}
		database := tokenward.NewService(tokenward.Config{Store: b.db}) // no verifier: the command line's path
		services := map[string]*tokenward.Service{"writer": a.service, "other": b.service, "database": database}
		from := func(addr string) tokenward.Caller {
			return tokenward.Caller{Address: netip.MustParseAddr(addr)}
		}
		check := func(step string, wantPerms tokenward.PermissionSet, inside, outside tokenward.Caller) {
			t.Helper()
			if err := b.verifier.CatchUp(ctx); err != nil {
				t.Fatalf("CatchUp: %v", err)
			}
			for name, s := range services {
				p, err := s.AuthenticateFrom(ctx, secret.Reveal(), inside)
				if err != nil || p.Permissions != wantPerms || !p.Scoped {
					t.Errorf("%s, %s, from %v: principal %v (scoped %v), %v; want permissions %q, scoped",
						step, name, inside.Address, tokenward.PermissionList(p.Permissions), p.Scoped, err, tokenward.PermissionList(wantPerms))
				}
				if _, err := s.AuthenticateFrom(ctx, secret.Reveal(), outside); err != tokenward.ErrInvalidToken {
					t.Errorf("%s, %s, from %v: %v; want ErrInvalidToken", step, name, outside.Address, err)
				}
				if _, err := s.AuthenticateFrom(ctx, secret.Reveal(), tokenward.Caller{}); err != tokenward.ErrInvalidToken {
					t.Errorf("%s, %s, from an unknown address: %v; want ErrInvalidToken", step, name, err)
				}
			}
		}
		check("generated", scope, from("127.0.0.1"), from("127.0.0.2"))

		wider := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
		edited, err := a.service.EditServiceAccountToken(ctx, admin, "sa::bot", secret.Reveal(), tokenward.TokenEdit{Networks: &wider})
		if err != nil || !slices.Equal(edited.AllowedNetworks, wider) || edited.Name != "ci" {
			t.Fatalf("EditServiceAccountToken = %+v, %v; want networks %v, name kept", edited, err, wider)
		}
		check("networks edited", scope, from("2001:db8::7"), from("127.0.0.1"))
		check("networks edited (IPv4)", scope, from("::ffff:10.1.2.3"), from("11.0.0.1"))

		less := tokenward.NewPermissionSet(tokenward.DashboardManagement, tokenward.EventsManagement)
		if _, err := a.service.UpdateServiceAccount(ctx, admin, "sa::bot", tokenward.ServiceAccountWrite{Permissions: &less}); err != nil {
			t.Fatal(err)
		}
		check("ingestion taken from the account", tokenward.NewPermissionSet(tokenward.DashboardManagement), from("10.9.9.9"), from("192.168.0.1"))

		if _, err := a.service.UpdateServiceAccount(ctx, admin, "sa::bot", tokenward.ServiceAccountWrite{Permissions: &held}); err != nil {
			t.Fatal(err)
		}
		check("ingestion given back", scope, from("10.9.9.9"), from("192.168.0.1"))

		var anywhere []netip.Prefix
		if _, err := a.service.EditServiceAccountToken(ctx, admin, "sa::bot", secret.Reveal(), tokenward.TokenEdit{Networks: &anywhere}); err != nil {
			t.Fatal(err)
		}
		if err := b.verifier.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		for name, s := range services {
			if _, err := s.AuthenticateFrom(ctx, secret.Reveal(), tokenward.Caller{}); err != nil {
				t.Errorf("unbound again, %s, from an unknown address: %v; want verified", name, err)
			}
		}
	})
}

// TestRestrictedVerifyDoesNotAllocate: a token with networks and a permission subset
// verifies, and is checked against the caller's address, without allocating.
func TestRestrictedVerifyDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	in := newInstance(t, storetest.DSN(t, store.SQLite))
	op := tokenward.NewOperator(in.service)
	if _, err := op.CreateUser(ctx, "jane@example.com", tokenward.NewPermissionSet(tokenward.Ingestion, tokenward.TokenManagement), ""); err != nil {
		t.Fatal(err)
	}
	scope := tokenward.NewPermissionSet(tokenward.Ingestion)
	networks, err := tokenward.ParseAllowedCIDRs([]string{"10.0.0.0/8", "192.168.0.0/16", "127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := op.GenerateTokenFor(ctx, "jane@example.com", "", tokenward.Lifetime{}, tokenward.Restrictions{Networks: networks, Permissions: &scope})
	if err != nil {
		t.Fatal(err)
	}
	text, addr := secret.Reveal(), netip.MustParseAddr("127.0.0.1")
	var p tokenward.Principal
	var allowed bool
	allocs := testing.AllocsPerRun(1000, func() {
		if sec, ok := tokenward.ParseSecret(text); ok {
			p, _ = in.verifier.Verify(sec.Digest(), tokenward.Caller{})
			allowed = tokenward.AllowedFrom(p.AllowedNetworks, addr)
		}
	})
	if !allowed || p.Permissions != scope {
		t.Fatalf("Verify = %v, allowed from %v: %v; want ingestion, allowed", tokenward.PermissionList(p.Permissions), addr, allowed)
	}
	if allocs != 0 {
		t.Errorf("%v allocations per restricted verification, want 0", allocs)
	}
}
