package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokenward/tokenward"
)

// CreateSession stores a new console session of a user account and records the sign-in.
func (db *DB) CreateSession(ctx context.Context, s tokenward.Session, digest tokenward.Digest, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO sessions (digest, account_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			digest[:], s.AccountID, millis(s.Created), millis(s.LastSeen), millis(s.Expires)); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		var identifier string
		if err := tx.QueryRowContext(ctx, `UPDATE accounts SET last_login_at = $1 WHERE id = $2 RETURNING identifier`,
			millis(s.Created), s.AccountID).Scan(&identifier); err != nil {
			return fmt.Errorf("record sign-in: %w", err)
		}
		return insertAudit(ctx, tx, tokenward.SignedIn(by, identifier))
	})
}

// SessionByDigest returns the session with that digest and the principal it speaks for, when
// its account is live; ENotFound otherwise. Expiry is the caller's rule to apply.
func (db *DB) SessionByDigest(ctx context.Context, digest tokenward.Digest) (tokenward.Session, tokenward.Principal, error) {
	var s tokenward.Session
	var p tokenward.Principal
	var kind, direct, fromRoles string
	var created, seen, expires int64
	err := db.read.QueryRowContext(ctx, `
		SELECT s.account_id, s.created_at, s.last_seen_at, s.expires_at, a.identifier, a.kind, `+permissionColumns+`
		FROM sessions s JOIN accounts a ON a.id = s.account_id
		WHERE s.digest = $1 AND a.deleted_at IS NULL AND a.active`, digest[:]).
		Scan(&s.AccountID, &created, &seen, &expires, &p.Account, &kind, &direct, &fromRoles)
	if errors.Is(err, sql.ErrNoRows) {
		return s, p, tokenward.Errorf(tokenward.ENotFound, "no such session")
	}
	if err != nil {
		return s, p, fmt.Errorf("read session: %w", err)
	}
	s.Created, s.LastSeen, s.Expires = time.UnixMilli(created).UTC(), time.UnixMilli(seen).UTC(), time.UnixMilli(expires).UTC()
	p.AccountID, p.Kind = s.AccountID, tokenward.AccountKind(kind)
	_, p.Permissions = effective(p.Kind, direct, fromRoles)
	return s, p, nil
}

// TouchSession records activity on a session, which pushes back its idle expiry.
func (db *DB) TouchSession(ctx context.Context, digest tokenward.Digest, at time.Time) error {
	if _, err := db.write.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE digest = $2`, millis(at), digest[:]); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session; ending one that does not exist is not an error.
func (db *DB) DeleteSession(ctx context.Context, digest tokenward.Digest) error {
	if _, err := db.write.ExecContext(ctx, `DELETE FROM sessions WHERE digest = $1`, digest[:]); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}
