package auth_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// instance is one tokenward instance's service and verifier over a shared database.
type instance struct {
	service  *tokenward.Service
	verifier *auth.Verifier
	db       *store.DB
}

func newInstance(t *testing.T, dsn string) *instance {
	t.Helper()
	return newPollingInstance(t, dsn, 50*time.Millisecond)
}

func (in *instance) verifies(secret tokenward.Secret) (tokenward.Principal, bool) {
	return in.verifier.Verify(secret.Digest(), tokenward.Caller{})
}

func TestVerifierFollowsEveryChange(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		dsn := storetest.DSN(t, engine)
		a, b := newInstance(t, dsn), newInstance(t, dsn)

		admin, err := tokenward.NewOperator(a.service).CreateUser(ctx, "admin@example.com", tokenward.NewPermissionSet(tokenward.UserManagement), "")
		if err != nil {
			t.Fatal(err)
		}
		adminSecret, _, err := tokenward.NewOperator(a.service).GenerateToken(ctx, admin.Identifier, "")
		if err != nil {
			t.Fatal(err)
		}
		p, ok := a.verifies(adminSecret)
		if !ok || p.Account != "admin@example.com" || !p.Permissions.Has(tokenward.UserManagement) || p.TokenSeq == 0 {
			t.Fatalf("writer instance: Verify = %+v, %v; want the admin at once", p, ok)
		}
		if _, ok := b.verifies(adminSecret); ok {
			t.Fatalf("other instance verified a token it cannot have seen yet; the test proves nothing")
		}
		b.verifier.CatchUp(ctx)
		if _, ok := b.verifies(adminSecret); !ok {
			t.Fatalf("other instance after catching up: token not verified")
		}

		bot, err := a.service.CreateServiceAccount(ctx, p, tokenward.ServiceAccountWrite{Identifier: "sa::bot"})
		if err != nil {
			t.Fatal(err)
		}
		botSecret, _, err := a.service.GenerateServiceAccountToken(ctx, p, bot.Identifier, "main", tokenward.Lifetime{}, tokenward.Restrictions{})
		if err != nil {
			t.Fatal(err)
		}
		ingestion := tokenward.NewPermissionSet(tokenward.Ingestion)
		deactivate, activate := false, true
		steps := []struct {
			name   string
			change func() error
			wantOK bool
			check  func(tokenward.Principal) bool
		}{
			{"generated", func() error { return nil }, true, nil},
			{"permission granted", func() error {
				_, err := a.service.UpdateServiceAccount(ctx, p, "sa::bot", tokenward.ServiceAccountWrite{Permissions: &ingestion})
				return err
			}, true, func(q tokenward.Principal) bool { return q.Permissions.Has(tokenward.Ingestion) }},
			{"deactivated", func() error {
				_, err := a.service.UpdateServiceAccount(ctx, p, "sa::bot", tokenward.ServiceAccountWrite{Active: &deactivate})
				return err
			}, false, nil},
			{"activated", func() error {
				_, err := a.service.UpdateServiceAccount(ctx, p, "sa::bot", tokenward.ServiceAccountWrite{Active: &activate})
				return err
			}, true, nil},
			{"revoked", func() error {
				_, err := a.service.RevokeServiceAccountToken(ctx, p, "sa::bot", botSecret.Reveal())
				return err
			}, false, nil},
		}
		for _, step := range steps {
			if err := step.change(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			for name, in := range map[string]*instance{"writer": a, "other": b} {
				if in == b {
					if err := b.verifier.CatchUp(ctx); err != nil {
						t.Fatalf("CatchUp: %v", err)
					}
				}
				q, ok := in.verifies(botSecret)
				if ok != step.wantOK || (ok && step.check != nil && !step.check(q)) {
					t.Errorf("after %s, %s instance: Verify = %+v, %v; want verified %v", step.name, name, q, ok, step.wantOK)
				}
			}
		}

		// A write by another process (the command line) reaches a running instance by its poll.
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		go b.verifier.Run(runCtx, func(ctx context.Context, wake func()) { b.db.Listen(ctx, dsn, wake, func(error) {}) })
		cli := tokenward.NewService(tokenward.Config{Store: b.db}) // no verifier: like `tokenward token create`
		cliSecret, _, err := tokenward.NewOperator(cli).GenerateToken(ctx, "admin@example.com", "cli")
		if err != nil {
			t.Fatal(err)
		}
		if !eventually(func() bool { _, ok := b.verifies(cliSecret); return ok }) {
			t.Errorf("a token generated outside the instance never became valid on it")
		}
		if _, err := a.service.DeleteAccounts(ctx, p, []string{"sa::bot"}, false); err != nil {
			t.Fatal(err)
		}
		if n := b.verifier.Size(); !eventually(func() bool { return b.verifier.Size() == 2 }) {
			t.Errorf("index size after deleting the service account: %d, want 2 (the admin's tokens)", n)
		}
		if err := b.verifier.Ready(); err != nil {
			t.Errorf("Ready: %v", err)
		}
	})
}

// eventually polls cond for up to two seconds.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

func TestUsageIsRecordedInBatches(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		in := newInstance(t, storetest.DSN(t, engine))
		if _, err := tokenward.NewOperator(in.service).CreateUser(ctx, "jane@example.com", 0, ""); err != nil {
			t.Fatal(err)
		}
		used, tok, err := tokenward.NewOperator(in.service).GenerateToken(ctx, "jane@example.com", "used")
		if err != nil {
			t.Fatal(err)
		}
		_, idle, err := tokenward.NewOperator(in.service).GenerateToken(ctx, "jane@example.com", "idle")
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now().Truncate(time.Millisecond)
		for range 1000 {
			if _, ok := in.verifies(used); !ok {
				t.Fatal("token not verified")
			}
		}
		live, _ := in.db.LiveTokens(ctx, tok.AccountID)
		for _, x := range live {
			if !x.LastUsed.IsZero() {
				t.Fatalf("last use written before any flush: %+v", x)
			}
		}
		if err := in.verifier.FlushUsage(ctx); err != nil {
			t.Fatal(err)
		}
		live, _ = in.db.LiveTokens(ctx, tok.AccountID)
		for _, x := range live {
			switch x.ID {
			case tok.ID:
				if x.LastUsed.Before(before) || x.LastUsed.After(time.Now()) {
					t.Errorf("used token: lastUsed %v, want between %v and now", x.LastUsed, before)
				}
			case idle.ID:
				if !x.LastUsed.IsZero() {
					t.Errorf("unused token got lastUsed %v", x.LastUsed)
				}
			}
		}
		if lag := in.verifier.FlushLag(); lag > time.Minute {
			t.Errorf("FlushLag = %v after a flush", lag)
		}
	})
}

func TestVerifyDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	in := newInstance(t, storetest.DSN(t, store.SQLite))
	tokenward.NewOperator(in.service).CreateUser(ctx, "jane@example.com", 0, "")
	secret, _, err := tokenward.NewOperator(in.service).GenerateToken(ctx, "jane@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	unknown := tokenward.NewSecret()
	// A repeated client (a script): its record is made at the first use, which AllocsPerRun
	// runs before it counts.
	caller := tokenward.Caller{Address: netip.MustParseAddr("2001:db8::1"), UserAgent: "terraform-provider-wavefront/5.1"}
	for name, s := range map[string]tokenward.Secret{"known": secret, "unknown": unknown} {
		text := s.Reveal()
		allocs := testing.AllocsPerRun(1000, func() {
			if sec, ok := tokenward.ParseSecret(text); ok {
				in.verifier.Verify(sec.Digest(), caller)
			}
		})
		if allocs != 0 {
			t.Errorf("%s token: %v allocations per verification, want 0", name, allocs)
		}
	}
}

// TestRevocationHoldsWhenTheDatabaseGoesAway: a revoke that commits but cannot be read back
// (the database went away right after) still fails closed on the revoking instance: the
// account's tokens are refused until the state can be read again; other accounts are not
// affected.
func TestRevocationHoldsWhenTheDatabaseGoesAway(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.DSN(t, store.SQLite)
	writer, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	reader, err := store.Open(ctx, dsn) // the verifier's view of the database, closed below
	if err != nil {
		t.Fatal(err)
	}
	v := auth.New(reader, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
	service := tokenward.NewService(tokenward.Config{Store: writer, Verifier: v})
	admin, err := tokenward.NewOperator(service).CreateUser(ctx, "admin@example.com", tokenward.NewPermissionSet(tokenward.UserManagement), "")
	if err != nil {
		t.Fatal(err)
	}
	adminSecret, _, _ := tokenward.NewOperator(service).GenerateToken(ctx, admin.Identifier, "")
	p, _ := service.Authenticate(ctx, adminSecret.Reveal())
	if _, err := service.CreateServiceAccount(ctx, p, tokenward.ServiceAccountWrite{Identifier: "sa::bot"}); err != nil {
		t.Fatal(err)
	}
	revoked, _, _ := service.GenerateServiceAccountToken(ctx, p, "sa::bot", "a", tokenward.Lifetime{}, tokenward.Restrictions{})
	sibling, _, _ := service.GenerateServiceAccountToken(ctx, p, "sa::bot", "b", tokenward.Lifetime{}, tokenward.Restrictions{})
	for _, s := range []tokenward.Secret{adminSecret, revoked, sibling} {
		if _, ok := v.Verify(s.Digest(), tokenward.Caller{}); !ok {
			t.Fatal("a token does not verify before the outage")
		}
	}

	reader.Close() // the verifier can no longer read changes
	if _, err := service.RevokeServiceAccountToken(ctx, p, "sa::bot", revoked.Reveal()); err != nil {
		t.Fatalf("revoke (committed through the writer): %v", err)
	}
	if _, ok := v.Verify(revoked.Digest(), tokenward.Caller{}); ok {
		t.Errorf("the revoked token still verifies on the revoking instance after a failed catch-up")
	}
	if _, ok := v.Verify(sibling.Digest(), tokenward.Caller{}); ok {
		t.Errorf("the revoked token's account is not suspended: its other token verifies")
	}
	if _, ok := v.Verify(adminSecret.Digest(), tokenward.Caller{}); !ok {
		t.Errorf("another account's token was suspended too")
	}
}
