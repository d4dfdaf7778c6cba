// Package store is the only package with SQL. It keeps tokenward's accounts and tokens in
// an embedded SQLite file (the default) or in PostgreSQL (for several instances), with the
// same queries on both wherever the two dialects agree.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tokenward/tokenward"
)

// Engine names a database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open tokenward database. It implements tokenward.Store.
type DB struct {
	engine Engine
	// write takes every transaction that changes data. On SQLite it is one connection whose
	// transactions begin IMMEDIATE, so writers queue instead of failing to upgrade a read
	// lock; on PostgreSQL it is the same pool as read.
	write *sql.DB
	// read serves queries; on SQLite a pool of read-only connections that WAL lets run
	// beside the writer.
	read *sql.DB
}

var _ tokenward.Store = (*DB)(nil)

// Open opens the database that dsn names and applies any pending migrations. A dsn starting
// with postgres:// or postgresql:// selects PostgreSQL; "sqlite:PATH" or a plain file path
// selects SQLite (the file is created when missing). Errors name the engine and, for SQLite,
// the path; they never contain a password from the dsn.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var db *DB
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err = openPostgres(ctx, dsn)
	default:
		db, err = openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//"))
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Engine reports which engine the database runs on.
func (db *DB) Engine() Engine { return db.engine }

// Close closes every connection.
func (db *DB) Close() error {
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	return err
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.read.PingContext(ctx) }

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	pool, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %s", redactDSN(err.Error(), dsn))
	}
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(16)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %s", redactDSN(err.Error(), dsn))
	}
	return &DB{engine: Postgres, write: pool, read: pool}, nil
}

// redactDSN removes the dsn's password from a driver message that may quote the dsn.
func redactDSN(msg, dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "REDACTED")
		}
	}
	return msg
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, fmt.Errorf("open sqlite: empty file path")
	}
	// synchronous=FULL: a revocation acknowledged to a client must survive a power cut, and
	// writes are rare enough that the extra fsync costs nothing that matters.
	// The file holds password hashes: only its owner may read it. SQLite gives its WAL and
	// shared-memory files the database file's mode.
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	// mmap_size: SQLite reads the file through a memory map, not a read call into its page
	// cache per page (2 MiB a connection by default, where a million tokens take 560 MiB).
	// A page the table reads at random then costs a memory access: the org table's
	// "expires within 7 days", which reads 2,900 scattered rows, went from 10.6 to 3.0 ms
	// at a million tokens. The map is the kernel's page cache, shared by every connection
	// and given back under memory pressure; SQLite caps it at 2 GiB of the file.
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=mmap_size(2147483648)"
	u := url.URL{Scheme: "file", Opaque: path}
	write, err := sql.Open("sqlite", u.String()+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	if err := pingSQLite(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", u.String()+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return &DB{engine: SQLite, write: write, read: read}, nil
}

// pingSQLite opens the first connection, which switches the file to WAL. That switch
// needs a moment of exclusive access and SQLite answers SQLITE_BUSY at once, without its
// busy handler, when another process or connection opens the same new file at that very
// moment (several instances starting together): so it retries, for as long as the
// busy_timeout would have waited.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(10 * time.Second)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		err := db.PingContext(ctx)
		var sqErr *sqlite.Error
		if err == nil || !errors.As(err, &sqErr) || sqErr.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// forUpdate is the row-locking suffix of a SELECT inside a write transaction. SQLite has
// none and needs none: its write transactions begin IMMEDIATE and so hold the database's
// one write lock from their first statement.
func (db *DB) forUpdate() string {
	if db.engine == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// lockGlobal serialises transactions that act on the database as a whole (migrations, the
// first administrator) across every instance: a transaction-scoped advisory lock on
// PostgreSQL, and on SQLite the write lock the transaction already holds.
func (db *DB) lockGlobal(ctx context.Context, tx *sql.Tx, key int64) error {
	if db.engine != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, key); err != nil {
		return fmt.Errorf("take advisory lock %d: %w", key, err)
	}
	return nil
}

// Advisory lock keys; arbitrary but fixed, and distinct.
const (
	lockMigrate  int64 = 0x746f6b656e01 // "token" 01
	lockAccounts int64 = 0x746f6b656e02 // account creation at bootstrap, permission changes, deletions
	lockChanges  int64 = 0x746f6b656e03 // appending to the changes table, in commit order
)

// WriteBatch runs fn in one write transaction and commits it when fn returns nil: for bulk
// loaders that write rows directly (the benchmark seed), which record no changes and no
// audit events, and so must run before any instance starts.
func (db *DB) WriteBatch(ctx context.Context, fn func(*sql.Tx) error) error { return db.inTx(ctx, fn) }

// inTx runs fn in a write transaction and commits it when fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// isUniqueViolation reports whether err is a unique-constraint failure on either engine.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKeyViolation reports whether err is a foreign-key failure on either engine.
func isForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23503"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// storable reports whether s is text both engines store: valid UTF-8 without NUL
// (PostgreSQL refuses both, with an error that would read as a 500). A lookup by a key
// that is not storable finds nothing, on either engine alike.
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// millis converts a time to the epoch milliseconds stored in the database.
func millis(t time.Time) int64 { return t.UnixMilli() }

// nullMillis converts a time that may be zero (never) to a nullable column's value.
func nullMillis(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: !t.IsZero()}
}

// fromMillis converts stored epoch milliseconds back; NULL becomes the zero time.
func fromMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}

// collect scans every row of a query's result with scan, and closes it: a list, empty
// rather than nil. rows and err are what QueryContext returned; list names the query in
// errors ("list tokens").
func collect[T any](rows *sql.Rows, err error, list string, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", list, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: scan: %w", list, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", list, err)
	}
	return out, nil
}
