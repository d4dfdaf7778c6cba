package store_test

import (
	"context"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestLookupsOfUnstorableKeys: a key with a NUL byte or invalid UTF-8 (which PostgreSQL
// refuses to bind) finds nothing, the same on both engines, instead of failing.
func TestLookupsOfUnstorableKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		ctx := context.Background()
		owner := newAccount(t, db, "jane@example.com", tokenward.UserAccount)
		for _, key := range []string{"nul\x00byte", "bad\xffutf8", "\x00"} {
			for name, lookup := range map[string]func() error{
				"AccountByIdentifier": func() error { _, err := db.AccountByIdentifier(ctx, key); return err },
				"LiveTokenByID":       func() error { _, err := db.LiveTokenByID(ctx, key); return err },
				"SavedSearchOf":       func() error { _, err := db.SavedSearchOf(ctx, owner.ID, key); return err },
				"RoleByID":            func() error { _, err := db.RoleByID(ctx, key); return err },
				"GroupByID":           func() error { _, err := db.GroupByID(ctx, key); return err },
			} {
				if err := lookup(); tokenward.ErrorCode(err) != tokenward.ENotFound {
					t.Errorf("%s(%q): %v, want %s", name, key, err, tokenward.ENotFound)
				}
			}
		}
	})
}
