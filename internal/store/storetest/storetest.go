// Package storetest gives tests fresh databases on every engine: a temporary SQLite file,
// and a new database on the PostgreSQL server that TOKENWARD_TEST_POSTGRES names
// (scripts/with-postgres starts one). Without that variable PostgreSQL tests skip, except
// under CI=true, where they fail: CI must never pass by skipping them.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/store"
)

// Engines lists every engine the suites run against.
var Engines = []store.Engine{store.SQLite, store.Postgres}

// DSN returns the dsn of a fresh, empty database on engine, removed when the test ends.
func DSN(t testing.TB, engine store.Engine) string {
	t.Helper()
	if engine == store.SQLite {
		return filepath.Join(t.TempDir(), "tokenward.db")
	}
	admin := os.Getenv("TOKENWARD_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TOKENWARD_TEST_POSTGRES is not set under CI=true: PostgreSQL tests must run in CI (run them through scripts/with-postgres)")
		}
		t.Skip("TOKENWARD_TEST_POSTGRES not set; run through scripts/with-postgres to include PostgreSQL")
	}
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatalf("open postgres admin connection: %v", err)
	}
	defer conn.Close()
	name := "tw_test_" + strings.ToLower(rand.Text()[:12])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse TOKENWARD_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open opens a fresh database on engine, closed when the test ends.
func Open(t testing.TB, engine store.Engine) *store.DB {
	t.Helper()
	db, _ := OpenDSN(t, engine)
	return db
}

// OpenDSN is Open that also returns the database's dsn, for Fingerprint.
func OpenDSN(t testing.TB, engine store.Engine) (*store.DB, string) {
	t.Helper()
	dsn := DSN(t, engine)
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dsn
}

// Fingerprint returns every row of every table of the database at dsn except the tables
// named in except, in a stable order, as text: a test takes one before and one after
// requests that must change nothing, and compares them. It reads through its own
// connection, so that no test-only query lives in the store package.
func Fingerprint(t testing.TB, dsn string, except ...string) string {
	t.Helper()
	driver, list := "sqlite", `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		driver, list = "pgx", `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`
	} else {
		dsn = "file:" + dsn + "?mode=ro&_pragma=busy_timeout(5000)"
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	defer conn.Close()
	ctx := context.Background()
	tables, err := queryStrings(ctx, conn, list)
	if err != nil {
		t.Fatalf("fingerprint: list tables: %v", err)
	}
	var b strings.Builder
	for _, table := range tables {
		if slices.Contains(except, table) {
			continue
		}
		// Sorting the rows' text form orders every table alike, whatever its columns.
		rows, err := queryRows(ctx, conn, "SELECT * FROM "+table)
		if err != nil {
			t.Fatalf("fingerprint: read %s: %v", table, err)
		}
		slices.Sort(rows)
		fmt.Fprintf(&b, "%s (%d rows)\n", table, len(rows))
		for _, r := range rows {
			b.WriteString("  " + r + "\n")
		}
	}
	return b.String()
}

func queryStrings(ctx context.Context, conn *sql.DB, query string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// queryRows returns each row of query as the %v of its values.
func queryRows(ctx context.Context, conn *sql.DB, query string) ([]string, error) {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []string
	for rows.Next() {
		values := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range values {
			ptrs[i] = &values[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("%q", fmt.Sprint(values...)))
	}
	return out, rows.Err()
}

// Run runs fn as a subtest on each engine.
func Run(t *testing.T, fn func(t *testing.T, engine store.Engine)) {
	for _, engine := range Engines {
		t.Run(fmt.Sprint(engine), func(t *testing.T) { fn(t, engine) })
	}
}
