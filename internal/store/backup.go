package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrBackupPostgres explains that PostgreSQL databases are backed up with its own tools.
var ErrBackupPostgres = errors.New("tokenward backs up SQLite databases; for PostgreSQL use pg_dump and pg_restore (see the README)")

// Backup writes a consistent copy of the SQLite database to path while it is in use
// (VACUUM INTO reads one snapshot; writers are not blocked). path must not exist.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.engine != SQLite {
		return ErrBackupPostgres
	}
	// Created empty first, owner-only (VACUUM INTO fills an empty file, and would create a
	// missing one readable by everyone): the copy holds password hashes and token digests.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("backup: %s already exists", path)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	if _, err := db.write.ExecContext(ctx, `VACUUM INTO $1`, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

// Restore replaces the SQLite database at dst with the backup at src, after checking that
// src is an intact tokenward database. Every tokenward process using dst must be stopped
// first: a running server would keep the replaced file open.
func Restore(ctx context.Context, src, dst string) error {
	if err := checkBackup(ctx, src); err != nil {
		return err
	}
	tmp := dst + ".restoring"
	if err := copyFile(src, tmp); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// The old database's write-ahead log belongs to the old file: left beside the new one,
	// SQLite would apply it to the restored data.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(dst + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			os.Remove(tmp)
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %w", err)
	}
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	return nil
}

// checkBackup opens a backup read-only and checks its integrity and that tokenward's
// schema is in it.
func checkBackup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	conn, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return fmt.Errorf("restore: open %s: %w", path, err)
	}
	defer conn.Close()
	var result string
	if err := conn.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&result); err != nil || result != "ok" {
		return fmt.Errorf("restore: %s is not an intact SQLite database (%v %s)", path, err, result)
	}
	var versions int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&versions); err != nil || versions == 0 {
		return fmt.Errorf("restore: %s is not a tokenward database", path)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
