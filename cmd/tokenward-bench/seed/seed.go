// Package seed fills an empty database with a synthetic organization for benchmarks and
// load tests: it ships in tokenward-bench, never in tokenward.
package seed

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
)

// Spec describes a synthetic organization for benchmarks and load tests.
type Spec struct {
	Accounts         int       // how many accounts
	TokensPerAccount int       // live tokens each (at most tokenward.MaxTokensPerAccount)
	ServiceShare     float64   // the share of accounts that are service accounts
	InactiveShare    float64   // the share of service accounts that are deactivated
	NeverUsedShare   float64   // the share of tokens never used
	ExpiringShare    float64   // the share of tokens with an expiry, from 30 days before Now to a year after
	Now              time.Time // generation and use times spread over the year before
}

// seedNames are the words seeded token names start with.
var seedNames = []string{"ci", "deploy", "laptop", "grafana", "terraform", "backup", "ingest", "metrics", "alerts", "cron"}

// Secret returns the secret of the n-th seeded token (n from 0), so that benchmarks can
// present real secrets without the database storing them.
func Secret(n int) tokenward.Secret {
	return tokenward.Secret(fmt.Sprintf("00000000-0000-4000-8000-%012x", n))
}

// Fill fills an empty database with a synthetic organization: accounts named
// seed-N@example.com and sa::seed-N, each with TokensPerAccount tokens whose secrets are
// Secret(0), Secret(1), .... Generation times spread over the year before Now,
// last-used times between generation and Now, a share never used, a share with an expiry.
// It writes in one transaction per thousand accounts, each account and token in a
// multi-row INSERT of a few hundred rows, and records no changes: start instances after
// seeding.
func Fill(ctx context.Context, db *store.DB, spec Spec) error {
	g := generator{spec: spec, rng: rand.New(rand.NewPCG(1, 2)),
		// Expiries draw from a stream of their own, so that adding them changed no other
		// seeded value (the plans of earlier benchmarks stay comparable).
		expiryRNG: rand.New(rand.NewPCG(3, 4)), now: spec.Now.UnixMilli()}
	const accountsPerTx = 1000
	for first := 0; first < spec.Accounts; first += accountsPerTx {
		accounts, tokens := g.chunk(first, min(first+accountsPerTx, spec.Accounts))
		if err := db.WriteBatch(ctx, func(tx *sql.Tx) error { return insertChunk(ctx, tx, rowsPerInsert(db.Engine()), accounts, tokens) }); err != nil {
			return err
		}
	}
	return nil
}

// seedAccount is an account to seed; seedToken a token, with the index of its account in
// its chunk (the account's id is known once it is inserted).
type (
	seedAccount struct {
		identifier, kind string
		active           bool
		created          int64
	}
	seedToken struct {
		account int
		values  []any // id, digest, hint, name, account id (set on insert), identifier, kind, created, last used, expires
	}
)

// generator draws the seeded values, in the same order whatever the batching: an account,
// then its tokens, then the next account.
type generator struct {
	spec           Spec
	rng, expiryRNG *rand.Rand
	now            int64
	n              int // tokens drawn so far
}

// chunk draws accounts [first, end) and their tokens.
func (g *generator) chunk(first, end int) ([]seedAccount, []seedToken) {
	year := int64(365 * 24 * time.Hour / time.Millisecond)
	month := int64(30 * 24 * time.Hour / time.Millisecond)
	var accounts []seedAccount
	var tokens []seedToken
	for i := first; i < end; i++ {
		a := seedAccount{identifier: fmt.Sprintf("seed-%d@example.com", i), kind: "user", active: true, created: g.now - year}
		if g.rng.Float64() < g.spec.ServiceShare {
			a.kind, a.identifier = "service", fmt.Sprintf("sa::seed-%d", i)
			a.active = g.rng.Float64() >= g.spec.InactiveShare
		}
		for range g.spec.TokensPerAccount {
			secret := Secret(g.n)
			digest := sha256.Sum256([]byte(secret))
			created := g.now - g.rng.Int64N(year)
			var lastUsed any
			if g.rng.Float64() >= g.spec.NeverUsedShare {
				lastUsed = created + g.rng.Int64N(g.now-created+1)
			}
			var expires any
			if g.expiryRNG.Float64() < g.spec.ExpiringShare {
				expires = g.now - month + g.expiryRNG.Int64N(year+month)
			}
			tokens = append(tokens, seedToken{account: len(accounts), values: []any{fmt.Sprintf("tw_seed%012d", g.n), digest[:], secret.Hint(),
				seedNames[g.rng.IntN(len(seedNames))] + fmt.Sprintf(" %d", g.n), nil, a.identifier, a.kind, created, lastUsed, expires}})
			g.n++
		}
		accounts = append(accounts, a)
	}
	return accounts, tokens
}

// rowsPerInsert is how many rows a multi-row INSERT writes: on PostgreSQL 500 (5,000
// parameters), to save round trips; on SQLite, which has none but binds and parses a long
// statement slowly (2.5x the time of 20-row statements in a measurement), 20.
func rowsPerInsert(engine store.Engine) int {
	if engine == store.Postgres {
		return 500
	}
	return 20
}

// insertChunk inserts accounts, then tokens with their accounts' ids, perInsert rows a
// statement.
func insertChunk(ctx context.Context, tx *sql.Tx, perInsert int, accounts []seedAccount, tokens []seedToken) error {
	ids := make(map[string]int64, len(accounts))
	for from := 0; from < len(accounts); from += perInsert {
		var rows []any
		for _, a := range accounts[from:min(from+perInsert, len(accounts))] {
			rows = append(rows, a.identifier, a.kind, a.active, a.created)
		}
		// RETURNING gives no order on SQLite: the ids are matched by identifier.
		res, err := tx.QueryContext(ctx, `INSERT INTO accounts (identifier, kind, active, created_at) VALUES `+placeholders(len(rows)/4, 4)+` RETURNING id, identifier`, rows...)
		if err != nil {
			return fmt.Errorf("seed accounts: %w", err)
		}
		for res.Next() {
			var id int64
			var identifier string
			if err := res.Scan(&id, &identifier); err != nil {
				res.Close()
				return fmt.Errorf("seed accounts: %w", err)
			}
			ids[identifier] = id
		}
		if err := errors.Join(res.Err(), res.Close()); err != nil {
			return fmt.Errorf("seed accounts: %w", err)
		}
	}
	for from := 0; from < len(tokens); from += perInsert {
		var args []any
		for _, t := range tokens[from:min(from+perInsert, len(tokens))] {
			t.values[4] = ids[accounts[t.account].identifier]
			args = append(args, t.values...)
			args = append(args, accounts[t.account].active)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, digest, hint, name, account_id, account_identifier, account_kind, created_at, last_used_at, expires_at, account_active) VALUES `+
			placeholders(len(args)/11, 11), args...); err != nil {
			return fmt.Errorf("seed tokens: %w", err)
		}
	}
	return nil
}

// placeholders returns rows tuples of columns numbered parameters: ($1, $2), ($3, $4).
func placeholders(rows, columns int) string {
	var b strings.Builder
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range columns {
			if c > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", r*columns+c+1)
		}
		b.WriteByte(')')
	}
	return b.String()
}
