package store_test

import (
	"context"
	"os"
	"path/filepath"
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

// TestHostileDatabaseFilesReadable: the SQLite database, its WAL and shared-memory files
// and backups hold password hashes and token digests; only their owner may read them,
// whatever the umask.
func TestHostileDatabaseFilesReadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokenward.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	newAccount(t, db, "jane@example.com", tokenward.UserAccount) // a write: the WAL exists
	backup := filepath.Join(dir, "backup.db")
	if err := db.Backup(context.Background(), backup); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm", backup} {
		info, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", filepath.Base(f), perm)
		}
	}
}
