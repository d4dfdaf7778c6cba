package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestSQLiteMemoryMap checks that both pools of a SQLite file read it through a memory map
// (openSQLite): without it, a search that reads scattered rows costs a read call a page.
func TestSQLiteMemoryMap(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "tw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, pool := range map[string]*sql.DB{"read": db.read, "write": db.write} {
		var size int64
		if err := pool.QueryRow(`PRAGMA mmap_size`).Scan(&size); err != nil {
			t.Fatalf("%s pool: %v", name, err)
		}
		if size < 1<<30 {
			t.Errorf("%s pool: mmap_size = %d, want at least 1 GiB", name, size)
		}
	}
}
