package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/tokenward/tokenward"
)

// PutFlash stores a sealed console flash of a session and drops the expired ones of every
// session. A session that has ended has no flash: the insert refers to it.
func (db *DB) PutFlash(ctx context.Context, session tokenward.Digest, sealed []byte, expires, now time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_flashes WHERE expires_at <= $1`, millis(now)); err != nil {
			return fmt.Errorf("drop expired flashes: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO console_flashes (session_digest, sealed, expires_at)
			SELECT digest, $2, $3 FROM sessions WHERE digest = $1`, session[:], sealed, millis(expires)); err != nil {
			return fmt.Errorf("insert flash: %w", err)
		}
		return nil
	})
}

// TakeFlashes deletes a session's flashes and returns the unexpired ones, oldest first.
func (db *DB) TakeFlashes(ctx context.Context, session tokenward.Digest, now time.Time) ([][]byte, error) {
	var out [][]byte
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, `
			DELETE FROM console_flashes WHERE session_digest = $1 RETURNING id, sealed, expires_at`, session[:])
		if err != nil {
			return fmt.Errorf("take flashes: %w", err)
		}
		defer rows.Close()
		type flash struct {
			id      int64
			sealed  []byte
			expires int64
		}
		var all []flash
		for rows.Next() {
			var f flash
			if err := rows.Scan(&f.id, &f.sealed, &f.expires); err != nil {
				return fmt.Errorf("take flashes: %w", err)
			}
			all = append(all, f)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("take flashes: %w", err)
		}
		// RETURNING promises no order.
		slices.SortFunc(all, func(a, b flash) int { return cmp.Compare(a.id, b.id) })
		for _, f := range all {
			if f.expires > millis(now) {
				out = append(out, f.sealed)
			}
		}
		return nil
	})
	return out, err
}
