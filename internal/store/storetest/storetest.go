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
	db, err := store.Open(context.Background(), DSN(t, engine))
	if err != nil {
		t.Fatalf("open %s: %v", engine, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Run runs fn as a subtest on each engine.
func Run(t *testing.T, fn func(t *testing.T, engine store.Engine)) {
	for _, engine := range Engines {
		t.Run(fmt.Sprint(engine), func(t *testing.T) { fn(t, engine) })
	}
}
