// Package seed fills an empty database with a synthetic organization for benchmarks and
// load tests: it ships in tokenward-bench, never in tokenward.
package seed

import (
	"context"
	"crypto/sha256"
	"database/sql"
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
// last-used times between generation and Now, a share never used, a share with an expiry. It writes in large
// batches inside one transaction per thousand accounts and records no changes: start
// instances after seeding.
func Fill(ctx context.Context, db *store.DB, spec Spec) error {
	rng := rand.New(rand.NewPCG(1, 2))
	// Expiries draw from a stream of their own, so that adding them changed no other
	// seeded value (the plans of earlier benchmarks stay comparable).
	expiryRNG := rand.New(rand.NewPCG(3, 4))
	year := int64(365 * 24 * time.Hour / time.Millisecond)
	month := int64(30 * 24 * time.Hour / time.Millisecond)
	now := spec.Now.UnixMilli()
	n := 0
	const accountsPerTx = 1000
	for first := 0; first < spec.Accounts; first += accountsPerTx {
		err := db.WriteBatch(ctx, func(tx *sql.Tx) error {
			for i := first; i < min(first+accountsPerTx, spec.Accounts); i++ {
				kind, identifier, active := "user", fmt.Sprintf("seed-%d@example.com", i), true
				if rng.Float64() < spec.ServiceShare {
					kind, identifier = "service", fmt.Sprintf("sa::seed-%d", i)
					active = rng.Float64() >= spec.InactiveShare
				}
				var id int64
				if err := tx.QueryRowContext(ctx, `INSERT INTO accounts (identifier, kind, active, created_at)
					VALUES ($1, $2, $3, $4) RETURNING id`, identifier, kind, active, now-year).Scan(&id); err != nil {
					return fmt.Errorf("seed account: %w", err)
				}
				var rows []string
				var args []any
				for range spec.TokensPerAccount {
					secret := Secret(n)
					digest := sha256.Sum256([]byte(secret))
					created := now - rng.Int64N(year)
					var lastUsed any
					if rng.Float64() >= spec.NeverUsedShare {
						lastUsed = created + rng.Int64N(now-created+1)
					}
					var expires any
					if expiryRNG.Float64() < spec.ExpiringShare {
						expires = now - month + expiryRNG.Int64N(year+month)
					}
					k := len(args)
					rows = append(rows, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", k+1, k+2, k+3, k+4, k+5, k+6, k+7, k+8, k+9, k+10))
					args = append(args, fmt.Sprintf("tw_seed%012d", n), digest[:], secret.Hint(), seedNames[rng.IntN(len(seedNames))]+fmt.Sprintf(" %d", n),
						id, identifier, kind, created, lastUsed, expires)
					n++
				}
				if len(rows) > 0 {
					if _, err := tx.ExecContext(ctx, `INSERT INTO tokens (id, digest, hint, name, account_id, account_identifier, account_kind, created_at, last_used_at, expires_at) VALUES `+
						strings.Join(rows, ", "), args...); err != nil {
						return fmt.Errorf("seed tokens: %w", err)
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
