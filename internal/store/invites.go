package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokenward/tokenward"
)

// PutInvite stores a set-password link's digest for a live user account, deletes its
// unused earlier links and records the event, in one transaction.
func (db *DB) PutInvite(ctx context.Context, accountID int64, digest tokenward.Digest, expires time.Time, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var live bool
		err := tx.QueryRowContext(ctx, `SELECT TRUE FROM accounts WHERE id = $1 AND kind = 'user' AND deleted_at IS NULL`+db.forUpdate(),
			accountID).Scan(&live)
		if errors.Is(err, sql.ErrNoRows) {
			return tokenward.Errorf(tokenward.ENotFound, "the account no longer exists")
		}
		if err != nil {
			return fmt.Errorf("read invited account: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM invites WHERE account_id = $1 AND used_at IS NULL`, accountID); err != nil {
			return fmt.Errorf("replace invites: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO invites (digest, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			digest[:], accountID, millis(by.At), millis(expires)); err != nil {
			return fmt.Errorf("insert invite: %w", err)
		}
		return insertAudit(ctx, tx, by)
	})
}

// inviteWhere selects the live user account of an unused invitation unexpired at $2.
const inviteWhere = `FROM invites i JOIN accounts a ON a.id = i.account_id
	WHERE i.digest = $1 AND i.used_at IS NULL AND i.expires_at > $2 AND a.kind = 'user' AND a.deleted_at IS NULL`

// InviteAccount returns the account of an unused, unexpired invitation; ENotFound otherwise.
func (db *DB) InviteAccount(ctx context.Context, digest tokenward.Digest, now time.Time) (tokenward.Account, error) {
	a, err := scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountColumns+` `+inviteWhere, digest[:], millis(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return tokenward.Account{}, tokenward.Errorf(tokenward.ENotFound, "no such invitation")
	}
	if err != nil {
		return tokenward.Account{}, fmt.Errorf("read invitation: %w", err)
	}
	return a, nil
}

// AcceptInvite uses an invitation once: it marks it used, sets the account's password hash,
// ends its sessions and records the event, in one transaction; ENotFound when the
// invitation is not (or no longer) usable.
func (db *DB) AcceptInvite(ctx context.Context, digest tokenward.Digest, hash string, now time.Time, by tokenward.AuditEvent) (tokenward.Account, error) {
	var a tokenward.Account
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		a, err = scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+` `+inviteWhere+db.forUpdate(), digest[:], millis(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return tokenward.Errorf(tokenward.ENotFound, "no such invitation")
		}
		if err != nil {
			return fmt.Errorf("read invitation: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE invites SET used_at = $1 WHERE digest = $2 AND used_at IS NULL`, millis(now), digest[:])
		if err != nil {
			return fmt.Errorf("use invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return tokenward.Errorf(tokenward.ENotFound, "no such invitation")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2`, hash, a.ID); err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1`, a.ID); err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		event := tokenward.PasswordSet(by, a.Identifier)
		event.Detail = "by invitation; console sessions ended"
		return insertAudit(ctx, tx, event)
	})
	return a, err
}
