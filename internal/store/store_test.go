package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func newAccount(t *testing.T, db *store.DB, identifier string, kind tokenward.AccountKind, perms ...tokenward.Permission) tokenward.Account {
	t.Helper()
	a := tokenward.Account{Identifier: identifier, Kind: kind, Active: true, Permissions: tokenward.NewPermissionSet(perms...), Created: t0}
	if err := db.CreateAccount(context.Background(), &a, "", at(a.Created)); err != nil {
		t.Fatalf("CreateAccount(%s): %v", identifier, err)
	}
	return a
}

func newToken(t *testing.T, db *store.DB, a tokenward.Account, name string) (tokenward.Token, tokenward.Secret) {
	t.Helper()
	secret := tokenward.NewSecret()
	tok := tokenward.Token{ID: tokenward.NewTokenID(), Name: name, Hint: secret.Hint(), AccountID: a.ID, Account: a.Identifier, Created: t0}
	if err := db.CreateToken(context.Background(), &tok, secret.Digest(), tokenward.MaxTokensPerAccount, at(tok.Created)); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return tok, secret
}

func TestMigrationsConcurrentAndIdempotent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dsn := storetest.DSN(t, engine)
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				db, err := store.Open(ctx, dsn)
				if err == nil {
					db.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("concurrent Open #%d: %v", i, err)
			}
		}
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer db.Close()
		n, err := db.SchemaVersions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := store.LatestSchemaVersion(engine); len(n) != want {
			t.Errorf("schema_migrations rows = %v, want one per migration (%d)", n, want)
		}
	})
}

func TestAccounts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		ctx := context.Background()
		a := newAccount(t, db, "jane@example.com", tokenward.UserAccount, tokenward.TokenManagement, tokenward.Ingestion)
		if a.ID == 0 {
			t.Fatal("CreateAccount did not set the ID")
		}
		got, err := db.AccountByIdentifier(ctx, "jane@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != a.ID || got.Kind != tokenward.UserAccount || !got.Active || got.Permissions != a.Permissions || !got.Created.Equal(t0) {
			t.Errorf("AccountByIdentifier = %+v, want %+v", got, a)
		}
		dup := tokenward.Account{Identifier: "jane@example.com", Kind: tokenward.UserAccount, Active: true, Created: t0}
		if err := db.CreateAccount(ctx, &dup, "", at(dup.Created)); tokenward.ErrorCode(err) != tokenward.EConflict {
			t.Errorf("duplicate CreateAccount: got %v, want code %s", err, tokenward.EConflict)
		}
		if _, err := db.AccountByIdentifier(ctx, "nobody@example.com"); tokenward.ErrorCode(err) != tokenward.ENotFound {
			t.Errorf("unknown account: got %v, want code %s", err, tokenward.ENotFound)
		}
	})
}

func TestCreateFirstAdminOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		ctx := context.Background()
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		for range 8 {
			wg.Go(func() {
				a := tokenward.Account{Identifier: "admin@localhost", Kind: tokenward.UserAccount, Active: true, Created: t0}
				ok, err := db.CreateFirstAdmin(ctx, &a, "", at(a.Created))
				if err != nil {
					t.Errorf("CreateFirstAdmin: %v", err)
				}
				mu.Lock()
				if ok {
					created++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if created != 1 {
			t.Errorf("administrators created = %d, want 1", created)
		}
	})
}

func TestTokenLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		ctx := context.Background()
		jane := newAccount(t, db, "jane@example.com", tokenward.UserAccount, tokenward.TokenManagement)
		first, firstSecret := newToken(t, db, jane, "laptop")
		second, _ := newToken(t, db, jane, "ci")

		live, err := db.LiveTokens(ctx, jane.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(live) != 2 {
			t.Fatalf("LiveTokens = %d tokens, want 2", len(live))
		}
		got := live[0]
		if got.ID != first.ID || got.Name != "laptop" || got.Hint != firstSecret.Hint() || got.Account != jane.Identifier ||
			got.AccountType != tokenward.TypeUser || !got.Created.Equal(t0) || !got.LastUsed.IsZero() || !got.Revoked.IsZero() {
			t.Errorf("LiveTokens[0] = %+v, want the token %+v as created", got, first)
		}

		byDigest, err := db.LiveTokenByDigest(ctx, firstSecret.Digest())
		if err != nil || byDigest.ID != first.ID {
			t.Errorf("LiveTokenByDigest = %v, %v; want token %s", byDigest.ID, err, first.ID)
		}
		p, err := db.PrincipalByDigest(ctx, firstSecret.Digest())
		if err != nil {
			t.Fatal(err)
		}
		if p.AccountID != jane.ID || p.Account != jane.Identifier || p.Kind != tokenward.UserAccount ||
			p.Permissions != jane.Permissions || p.TokenSeq == 0 {
			t.Errorf("PrincipalByDigest = %+v, want jane with a token seq", p)
		}

		renamed, err := db.RenameToken(ctx, second.ID, "deploy", at(t0))
		if err != nil || renamed.Name != "deploy" {
			t.Errorf("RenameToken = %+v, %v; want name deploy", renamed, err)
		}

		if err := db.RevokeToken(ctx, first.ID, at(t0.Add(time.Hour))); err != nil {
			t.Fatalf("RevokeToken: %v", err)
		}
		notFound := []struct {
			name string
			err  error
		}{
			{"revoke again", db.RevokeToken(ctx, first.ID, at(t0.Add(2*time.Hour)))},
			{"rename revoked", func() error { _, err := db.RenameToken(ctx, first.ID, "x", at(t0)); return err }()},
			{"by id", func() error { _, err := db.LiveTokenByID(ctx, first.ID); return err }()},
			{"by digest", func() error { _, err := db.LiveTokenByDigest(ctx, firstSecret.Digest()); return err }()},
			{"principal", func() error { _, err := db.PrincipalByDigest(ctx, firstSecret.Digest()); return err }()},
			{"unknown id", func() error { _, err := db.LiveTokenByID(ctx, "tw_nosuchtoken"); return err }()},
		}
		for _, tc := range notFound {
			if tokenward.ErrorCode(tc.err) != tokenward.ENotFound {
				t.Errorf("%s after revoke: got %v, want code %s", tc.name, tc.err, tokenward.ENotFound)
			}
		}
		live, _ = db.LiveTokens(ctx, jane.ID)
		if len(live) != 1 || live[0].ID != second.ID {
			t.Errorf("LiveTokens after revoke = %+v, want only %s", live, second.ID)
		}
	})
}

// TestTokenCapUnderConcurrency fires 50 generates at one account at once, over two
// connections pools on PostgreSQL as two instances would have: exactly 20 succeed.
func TestTokenCapUnderConcurrency(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dsn := storetest.DSN(t, engine)
		ctx := context.Background()
		var dbs []*store.DB
		for range 2 {
			db, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			dbs = append(dbs, db)
		}
		bot := newAccount(t, dbs[0], "sa::bot", tokenward.ServiceAccount)

		var wg sync.WaitGroup
		results := make([]error, 50)
		for i := range results {
			wg.Go(func() {
				secret := tokenward.NewSecret()
				tok := tokenward.Token{ID: tokenward.NewTokenID(), Hint: secret.Hint(), AccountID: bot.ID, Account: bot.Identifier, Created: t0}
				results[i] = dbs[i%2].CreateToken(ctx, &tok, secret.Digest(), tokenward.MaxTokensPerAccount, at(tok.Created))
			})
		}
		wg.Wait()
		ok, capped := 0, 0
		for _, err := range results {
			switch tokenward.ErrorCode(err) {
			case "":
				ok++
			case tokenward.EInvalid:
				capped++
			default:
				t.Errorf("CreateToken: unexpected error %v", err)
			}
		}
		if ok != tokenward.MaxTokensPerAccount || capped != 50-tokenward.MaxTokensPerAccount {
			t.Errorf("concurrent generates: %d succeeded and %d hit the cap, want %d and %d", ok, capped, tokenward.MaxTokensPerAccount, 50-tokenward.MaxTokensPerAccount)
		}
		live, err := dbs[1].LiveTokens(ctx, bot.ID)
		if err != nil || len(live) != tokenward.MaxTokensPerAccount {
			t.Fatalf("LiveTokens = %d, %v; want %d", len(live), err, tokenward.MaxTokensPerAccount)
		}
		// A revoked token no longer counts.
		if err := dbs[0].RevokeToken(ctx, live[0].ID, at(t0)); err != nil {
			t.Fatal(err)
		}
		newToken(t, dbs[1], bot, "after revoke")
		secret := tokenward.NewSecret()
		over := tokenward.Token{ID: tokenward.NewTokenID(), Hint: secret.Hint(), AccountID: bot.ID, Account: bot.Identifier, Created: t0}
		if err := dbs[0].CreateToken(ctx, &over, secret.Digest(), tokenward.MaxTokensPerAccount, at(over.Created)); tokenward.ErrorCode(err) != tokenward.EInvalid {
			t.Errorf("21st live token: got %v, want code %s", err, tokenward.EInvalid)
		}
	})
}

func TestCreateTokenForMissingAccount(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		secret := tokenward.NewSecret()
		tok := tokenward.Token{ID: tokenward.NewTokenID(), Hint: secret.Hint(), AccountID: 9999, Account: "ghost@example.com", Created: t0}
		err := db.CreateToken(context.Background(), &tok, secret.Digest(), tokenward.MaxTokensPerAccount, at(tok.Created))
		if tokenward.ErrorCode(err) != tokenward.ENotFound {
			t.Errorf("CreateToken for a missing account: got %v, want code %s", err, tokenward.ENotFound)
		}
	})
}

// at is the audit event a store write made by the operator at instant t starts from, as
// the service's by builds it.
func at(t time.Time) tokenward.AuditEvent {
	return tokenward.AuditEvent{At: t, Actor: "operator", Source: "command line"}
}
