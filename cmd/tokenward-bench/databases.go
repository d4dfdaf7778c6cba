package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/tokenward/tokenward/internal/store"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// target is an empty database to seed: the dsn store.Open takes, the same database for a
// plain database/sql connection (ANALYZE, identifiers, plans), and how to remove it.
type target struct {
	engine    store.Engine
	dsn       string // for store.Open
	driver    string // database/sql driver name
	direct    string // database/sql data source name
	describe  string // for the output; never contains a password
	removeMsg string // what cleanup removes, or what --keep keeps
	cleanup   func() error
}

// prepareSQLite returns a fresh SQLite file: by default tokenward-bench-<random>.db in
// os.TempDir() (random, so that two runs at once never share a file), or --sqlite PATH,
// which must not exist (so that nothing of the user's is lost).
func prepareSQLite(opts options) (*target, error) {
	path := opts.sqlite
	if path == "" {
		path = filepath.Join(os.TempDir(), "tokenward-bench-"+strings.ToLower(rand.Text()[:8])+".db")
		if err := removeSQLite(path); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("--sqlite %s already exists; the benchmark seeds a new file: remove it or choose another path", path)
	}
	// The baseline's plain connection reads through a memory map, as the store's do
	// (store.openSQLite): the ratio compares queries, not page caches.
	direct := (&url.URL{Scheme: "file", Opaque: path}).String() + "?_pragma=mmap_size(2147483648)"
	return &target{
		engine: store.SQLite, dsn: path, driver: "sqlite", direct: direct,
		describe: "SQLite file " + path, removeMsg: path,
		cleanup: func() error { return removeSQLite(path) },
	}, nil
}

// removeSQLite removes a SQLite file and its WAL and shared-memory files.
func removeSQLite(path string) error {
	var errs []error
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// preparePostgres returns a fresh database tw_bench_<random> on the server that dsn names,
// to be dropped at the end, or, when this user may not create databases, the database dsn
// names itself provided it holds no tokenward data. skip says why PostgreSQL is left out.
func preparePostgres(ctx context.Context, dsn string) (t *target, skip string, err error) {
	if dsn == "" {
		return nil, "no PostgreSQL configured (give --postgres URL or set TOKENWARD_BENCH_POSTGRES or TOKENWARD_TEST_POSTGRES)", nil
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return nil, "", fmt.Errorf("the PostgreSQL dsn must be a postgres:// or postgresql:// URL")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, "", fmt.Errorf("parse the PostgreSQL URL: %v", redact(err.Error(), dsn))
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, "", fmt.Errorf("open postgres: %s", redact(err.Error(), dsn))
	}
	defer admin.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := admin.PingContext(cctx); err != nil {
		return nil, fmt.Sprintf("cannot connect to %s: %s", u.Redacted(), redact(err.Error(), dsn)), nil
	}
	name := "tw_bench_" + strings.ToLower(rand.Text()[:12])
	_, createErr := admin.ExecContext(cctx, "CREATE DATABASE "+name)
	if createErr == nil {
		fresh := *u
		fresh.Path = "/" + name
		return &target{
			engine: store.Postgres, dsn: fresh.String(), driver: "pgx", direct: fresh.String(),
			describe: "PostgreSQL database " + fresh.Redacted() + " (created for this run)", removeMsg: "database " + name,
			cleanup: func() error { return dropDatabase(dsn, name) },
		}, "", nil
	}
	// No CREATE DATABASE: use the named database if it is empty.
	var tokensTable sql.NullString
	if err := admin.QueryRowContext(cctx, `SELECT to_regclass('tokens')::text`).Scan(&tokensTable); err != nil {
		return nil, "", fmt.Errorf("cannot create a database (%s) nor inspect %s: %s", pgMessage(createErr), u.Redacted(), redact(err.Error(), dsn))
	}
	if tokensTable.Valid {
		var accounts int
		if err := admin.QueryRowContext(cctx, `SELECT count(*) FROM accounts`).Scan(&accounts); err != nil || accounts > 0 {
			return nil, "", fmt.Errorf("cannot create a database (%s), and %s already holds tokenward data; "+
				"give --postgres a URL whose user may CREATE DATABASE, or an empty database", pgMessage(createErr), u.Redacted())
		}
	}
	return &target{
		engine: store.Postgres, dsn: dsn, driver: "pgx", direct: dsn,
		describe:  "PostgreSQL database " + u.Redacted() + " (existing, empty; CREATE DATABASE refused: " + pgMessage(createErr) + ")",
		removeMsg: "the seeded data in " + u.Redacted() + " (not removed: drop its tables by hand)",
		cleanup:   func() error { return nil },
	}, "", nil
}

func dropDatabase(adminDSN, name string) error {
	admin, err := sql.Open("pgx", adminDSN)
	if err != nil {
		return err
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %s", name, redact(err.Error(), adminDSN))
	}
	return nil
}

func pgMessage(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Message
	}
	return err.Error()
}

// redact removes the dsn's password from a message that may quote the dsn.
func redact(msg, dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "REDACTED")
		}
	}
	return msg
}
