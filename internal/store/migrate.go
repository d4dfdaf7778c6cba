package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrations holds each engine's schema changes as numbered files (0001_name.sql). A file,
// once released, never changes; a new change is a new file.
//
//go:embed migrations
var migrations embed.FS

// migrate applies the pending migrations in one transaction that holds the global lock, so
// that instances starting together against one PostgreSQL apply each migration once and
// none of them starts on a half-migrated schema.
func (db *DB) migrate(ctx context.Context) error {
	dir := "migrations/" + string(db.engine)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockGlobal(ctx, tx, lockMigrate); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at BIGINT  NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		for _, e := range entries {
			version, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: name does not start with a number", e.Name())
			}
			if version <= current {
				continue
			}
			body, err := migrations.ReadFile(dir + "/" + e.Name())
			if err != nil {
				return fmt.Errorf("read migration %s: %w", e.Name(), err)
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("apply migration %s: %w", e.Name(), err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
				version, time.Now().UnixMilli()); err != nil {
				return fmt.Errorf("record migration %s: %w", e.Name(), err)
			}
		}
		return nil
	})
}

// SchemaVersions returns the applied migration versions, in order.
func (db *DB) SchemaVersions(ctx context.Context) ([]int, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("read schema versions: %w", err)
	}
	defer rows.Close()
	var versions []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema versions: %w", err)
		}
		versions = append(versions, v)
	}
	return versions, rows.Err()
}

// LatestSchemaVersion returns how many migrations this binary carries for engine.
func LatestSchemaVersion(engine Engine) int {
	entries, _ := fs.ReadDir(migrations, "migrations/"+string(engine))
	return len(entries)
}
