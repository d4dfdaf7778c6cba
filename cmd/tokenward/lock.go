package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// The server lock keeps restore from replacing a SQLite database under a running server
// (which would go on writing to the deleted file, and refuse new tokens forever). Every
// `serve` holds a shared flock on DB.lock beside the database for as long as it runs, so
// several servers may share the file; restore takes it exclusively without waiting, and
// so fails at once, with a message, while any server holds it. The kernel drops a flock
// when its process dies, so a crashed server leaves no stale lock. PostgreSQL databases are
// not restored by tokenward (pg_restore is), so they need no lock.

// sqlitePath returns the file of a SQLite dsn as store.Open reads it, and false for
// PostgreSQL.
func sqlitePath(dsn string) (string, bool) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "", false
	}
	return strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//"), true
}

// holdServerLock takes serve's shared lock on a SQLite database and returns its release;
// nothing for PostgreSQL. It fails when a restore holds the lock.
func holdServerLock(dsn string) (func(), error) {
	path, ok := sqlitePath(dsn)
	if !ok || path == "" {
		return func() {}, nil
	}
	release, err := flock(path+".lock", unix.LOCK_SH)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, fmt.Errorf("a restore of %s is running; start the server when it has finished", path)
	}
	return release, err
}

// takeRestoreLock takes the exclusive lock restore holds while it replaces path. It fails
// at once, naming the lock, while a server holds it.
func takeRestoreLock(path string) (func(), error) {
	release, err := flock(path+".lock", unix.LOCK_EX)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, fmt.Errorf("a tokenward server is running on %s (it holds %s.lock); stop every server on the database, then restore", path, path)
	}
	return release, err
}

// flock opens (creating it, owner-only) the lock file and locks it without waiting; the
// error wraps EWOULDBLOCK when another open file holds a conflicting lock.
func flock(path string, how int) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}
