package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokenward/tokenward"
)

// ReserveSignIn spends one attempt of the budget named name, if it has one left, in one
// statement: concurrent reservations, from any instance, cannot spend more than b allows.
// It uses the generic cell rate algorithm: the row holds the instant (tat) at which the
// budget is full again; an attempt moves it one interval (b.Per/b.Burst) later, and is
// granted while that stays within b.Per of now. When refused, wait is how long until the
// next attempt would be granted.
func (db *DB) ReserveSignIn(ctx context.Context, name string, b tokenward.Budget, now time.Time) (granted bool, wait time.Duration, err error) {
	interval := (b.Per / time.Duration(b.Burst)).Microseconds()
	nowMicros, limit := now.UnixMicro(), b.Per.Microseconds()
	greatest := "max" // SQLite's scalar max; PostgreSQL's max is an aggregate
	if db.engine == Postgres {
		greatest = "GREATEST"
	}
	var tat int64
	err = db.write.QueryRowContext(ctx, `
		INSERT INTO signin_budgets (name, tat, granted) VALUES ($1, CAST($2 AS BIGINT) + CAST($3 AS BIGINT), TRUE)
		ON CONFLICT (name) DO UPDATE SET
			tat = CASE WHEN `+greatest+`(signin_budgets.tat, CAST($2 AS BIGINT)) + $3 - $2 <= $4
				THEN `+greatest+`(signin_budgets.tat, CAST($2 AS BIGINT)) + $3 ELSE signin_budgets.tat END,
			granted = (`+greatest+`(signin_budgets.tat, CAST($2 AS BIGINT)) + $3 - $2 <= $4)
		RETURNING tat, granted`, name, nowMicros, interval, limit).Scan(&tat, &granted)
	if err != nil {
		return false, 0, fmt.Errorf("reserve a sign-in attempt: %w", err)
	}
	if granted {
		return true, 0, nil
	}
	// Refused: tat is unchanged, and the next attempt fits once tat+interval-now <= limit.
	return false, time.Duration(tat+interval-nowMicros-limit) * time.Microsecond, nil
}

// RefundSignIn gives back one attempt of the budget named name: budgets count failures,
// and an attempt that succeeded, or was not checked at all, is not one.
func (db *DB) RefundSignIn(ctx context.Context, name string, b tokenward.Budget) error {
	interval := (b.Per / time.Duration(b.Burst)).Microseconds()
	if _, err := db.write.ExecContext(ctx, `UPDATE signin_budgets SET tat = tat - $1 WHERE name = $2`, interval, name); err != nil {
		return fmt.Errorf("refund a sign-in attempt: %w", err)
	}
	return nil
}

// ForgetFullBudgets deletes the budgets that have refilled by now: a missing row is a full
// budget, so the table holds only the keys that failed recently.
func (db *DB) ForgetFullBudgets(ctx context.Context, now time.Time) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM signin_budgets WHERE tat <= $1`, now.UnixMicro()); err != nil {
		return fmt.Errorf("forget full sign-in budgets: %w", err)
	}
	return nil
}

// TrustDevice records that the browser whose cookie secret has digest signed in to the
// account, until expires.
func (db *DB) TrustDevice(ctx context.Context, accountID int64, digest tokenward.Digest, now, expires time.Time) error {
	if _, err := db.write.ExecContext(ctx, `
		INSERT INTO signin_devices (digest, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (digest) DO UPDATE SET expires_at = $4`,
		digest[:], accountID, millis(now), millis(expires)); err != nil {
		return fmt.Errorf("trust a browser: %w", err)
	}
	if _, err := db.write.ExecContext(ctx, `DELETE FROM signin_devices WHERE expires_at <= $1`, millis(now)); err != nil {
		return fmt.Errorf("forget expired browsers: %w", err)
	}
	return nil
}

// DeviceTrusted reports whether the browser whose cookie secret has digest signed in to
// the account before and is still trusted at now.
func (db *DB) DeviceTrusted(ctx context.Context, digest tokenward.Digest, accountID int64, now time.Time) (bool, error) {
	var one int
	err := db.read.QueryRowContext(ctx, `SELECT 1 FROM signin_devices WHERE digest = $1 AND account_id = $2 AND expires_at > $3`,
		digest[:], accountID, millis(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read a trusted browser: %w", err)
	}
	return true, nil
}

// UpgradePasswordHash replaces an account's password hash computed with older parameters
// by one of the same password with today's, unless the password changed meanwhile.
// Sessions stay: the password is the same.
func (db *DB) UpgradePasswordHash(ctx context.Context, accountID int64, old, hash string) error {
	if _, err := db.write.ExecContext(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2 AND password_hash = $3`,
		hash, accountID, old); err != nil {
		return fmt.Errorf("upgrade a password hash: %w", err)
	}
	return nil
}
