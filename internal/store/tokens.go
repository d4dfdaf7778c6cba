package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
)

// tokenColumns are the columns scanTokens reads, joined with the owning account.
const tokenColumns = `t.id, t.name, t.hint, t.account_id, a.identifier, a.kind, a.active,
	t.created_at, t.last_used_at, t.revoked_at, t.expires_at, t.rotated_at, t.previous_until, t.idle_disabled_at,
	t.allowed_cidrs, t.permissions`

func scanToken(row interface{ Scan(...any) error }) (tokenward.Token, error) {
	var t tokenward.Token
	var kind string
	var active bool
	var created int64
	var lastUsed, revoked, expires, rotated, graceEnds, idle sql.NullInt64
	var networks, scope sql.NullString
	if err := row.Scan(&t.ID, &t.Name, &t.Hint, &t.AccountID, &t.Account, &kind, &active,
		&created, &lastUsed, &revoked, &expires, &rotated, &graceEnds, &idle, &networks, &scope); err != nil {
		return tokenward.Token{}, err
	}
	t.AccountType = tokenward.Account{Kind: tokenward.AccountKind(kind), Active: active}.Type()
	t.Created = fromMillis(sql.NullInt64{Int64: created, Valid: true})
	t.LastUsed = fromMillis(lastUsed)
	t.Revoked = fromMillis(revoked)
	t.Expires, t.Rotated, t.GraceEnds = fromMillis(expires), fromMillis(rotated), fromMillis(graceEnds)
	t.IdleDisabled = fromMillis(idle)
	t.AllowedNetworks, t.Permissions = parseNetworks(networks), parseScope(scope)
	return t, nil
}

// CreateToken inserts t after locking its account's row and counting the account's live
// tokens, all in one transaction: concurrent generates on one account, from any number of
// instances, queue on that lock, so the count each one sees is exact and the cap holds.
func (db *DB) CreateToken(ctx context.Context, t *tokenward.Token, digest tokenward.Digest, max int, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.insertToken(ctx, tx, t, digest, max, by) })
}

// insertToken is CreateToken inside tx.
func (db *DB) insertToken(ctx context.Context, tx *sql.Tx, t *tokenward.Token, digest tokenward.Digest, max int, by tokenward.AuditEvent) error {
	var identifier string
	err := tx.QueryRowContext(ctx, `SELECT identifier FROM accounts WHERE id = $1 AND deleted_at IS NULL`+db.forUpdate(),
		t.AccountID).Scan(&identifier)
	if errors.Is(err, sql.ErrNoRows) {
		return tokenward.Errorf(tokenward.ENotFound, "account %s does not exist", t.Account)
	}
	if err != nil {
		return fmt.Errorf("lock account: %w", err)
	}
	var live int
	// An expired or idle-disabled token no longer counts: it works again only if rotated.
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE account_id = $1 AND revoked_at IS NULL
		AND idle_disabled_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`, t.AccountID, millis(t.Created)).Scan(&live); err != nil {
		return fmt.Errorf("count tokens: %w", err)
	}
	if live >= max {
		return tokenward.TokenCapError(identifier)
	}
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO tokens (id, digest, hint, name, account_id, account_identifier, account_kind, account_active,
			created_at, expires_at, allowed_cidrs, permissions)
		SELECT $1, $2, $3, $4, a.id, a.identifier, a.kind, a.active, $6, $7, $8, $9 FROM accounts a WHERE a.id = $5`,
		t.ID, digest[:], t.Hint, t.Name, t.AccountID, millis(t.Created), nullMillis(t.Expires),
		networksValue(t.AllowedNetworks), permissionsValue(t.Permissions)); err != nil {
		return fmt.Errorf("insert token: %w", err)
	}
	if err := insertAudit(ctx, tx, tokenward.TokenGenerated(by, *t, identifier)); err != nil {
		return err
	}
	return db.recordChange(ctx, tx, t.AccountID, t.Created)
}

// LiveTokens returns the account's unrevoked tokens, oldest first.
func (db *DB) LiveTokens(ctx context.Context, accountID int64) ([]tokenward.Token, error) {
	rows, err := db.read.QueryContext(ctx, `
		SELECT `+tokenColumns+`
		FROM tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.account_id = $1 AND t.revoked_at IS NULL
		ORDER BY t.created_at, t.seq`, accountID)
	tokens, err := collect(rows, err, "list tokens", scanToken)
	if err != nil {
		return nil, err
	}
	return tokens, db.attachClients(ctx, tokens)
}

// LiveTokenByID returns the unrevoked token with that public id, or ENotFound.
func (db *DB) LiveTokenByID(ctx context.Context, id string) (tokenward.Token, error) {
	if !storable(id) {
		return tokenward.Token{}, tokenward.Errorf(tokenward.ENotFound, "no such token")
	}
	return db.liveToken(ctx, `t.id = $1`, id)
}

// LiveTokenByDigest returns the unrevoked token whose secret has that digest, or ENotFound.
func (db *DB) LiveTokenByDigest(ctx context.Context, digest tokenward.Digest) (tokenward.Token, error) {
	return db.liveToken(ctx, `t.digest = $1`, digest[:])
}

// LiveTokenBySeq returns the unrevoked token with that internal number, or ENotFound.
func (db *DB) LiveTokenBySeq(ctx context.Context, seq int64) (tokenward.Token, error) {
	return db.liveToken(ctx, `t.seq = $1`, seq)
}

// TokenByReplacedDigest returns the live token whose last rotation replaced the secret with
// that digest, or ENotFound.
func (db *DB) TokenByReplacedDigest(ctx context.Context, digest tokenward.Digest) (tokenward.Token, error) {
	return db.liveToken(ctx, `t.previous_digest = $1`, digest[:])
}

func (db *DB) liveToken(ctx context.Context, where string, arg any) (tokenward.Token, error) {
	t, err := scanToken(db.read.QueryRowContext(ctx, `
		SELECT `+tokenColumns+`
		FROM tokens t JOIN accounts a ON a.id = t.account_id
		WHERE `+where+` AND t.revoked_at IS NULL`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return tokenward.Token{}, tokenward.Errorf(tokenward.ENotFound, "no such token")
	}
	if err != nil {
		return tokenward.Token{}, fmt.Errorf("read token: %w", err)
	}
	one := []tokenward.Token{t}
	return one[0], db.attachClients(ctx, one)
}

// RenameToken sets a live token's name and returns it; ENotFound when it is not live.
func (db *DB) RenameToken(ctx context.Context, id, name string, by tokenward.AuditEvent) (tokenward.Token, error) {
	return db.EditToken(ctx, id, tokenward.TokenEdit{Name: &name}, by)
}

// RevokeToken marks a live token revoked; ENotFound when it is not live (already revoked
// included: revocation happens once).
func (db *DB) RevokeToken(ctx context.Context, id string, by tokenward.AuditEvent) error {
	at := by.At
	return db.inTx(ctx, func(tx *sql.Tx) error {
		// The last usable administrator may hold nothing but this token.
		guard, err := db.lockAccounts(ctx, tx)
		if err != nil {
			return err
		}
		var accountID int64
		var account string
		err = tx.QueryRowContext(ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING account_id, account_identifier`,
			millis(at), id).Scan(&accountID, &account)
		if errors.Is(err, sql.ErrNoRows) {
			return tokenward.Errorf(tokenward.ENotFound, "no such token")
		}
		if err != nil {
			return fmt.Errorf("revoke token: %w", err)
		}
		if err := insertAudit(ctx, tx, tokenward.TokenRevoked(by, id, account)); err != nil {
			return err
		}
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		return db.recordChange(ctx, tx, accountID, at)
	})
}

// affectedOne turns the result of an UPDATE of one row into nil, ENotFound when no row
// matched, or a wrapped error.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return tokenward.Errorf(tokenward.ENotFound, "%s: no such %s", what, strings.Fields(what)[1])
	}
	return nil
}

// PrincipalByDigest returns who the secret with that digest authenticates: the token must be
// live, its account not deleted and active. ENotFound otherwise.
func (db *DB) PrincipalByDigest(ctx context.Context, digest tokenward.Digest) (tokenward.Principal, error) {
	var p tokenward.Principal
	var kind, direct, fromRoles string
	var expires sql.NullInt64
	var replaced int
	var networks, scope sql.NullString
	err := db.read.QueryRowContext(ctx, `
		SELECT a.id, a.identifier, a.kind, t.seq, CASE WHEN t.digest = $1 THEN 0 ELSE 1 END,
			CASE WHEN t.digest = $1 THEN t.expires_at ELSE CAST(t.previous_until AS BIGINT) END, `+permissionColumns+`,
			t.allowed_cidrs, t.permissions
		FROM tokens t JOIN accounts a ON a.id = t.account_id
		WHERE (t.digest = $1 OR t.previous_digest = $1) AND t.revoked_at IS NULL AND t.idle_disabled_at IS NULL
			AND a.deleted_at IS NULL AND a.active`, digest[:]).
		Scan(&p.AccountID, &p.Account, &kind, &p.TokenSeq, &replaced, &expires, &direct, &fromRoles, &networks, &scope)
	if errors.Is(err, sql.ErrNoRows) {
		return tokenward.Principal{}, tokenward.Errorf(tokenward.ENotFound, "no such token")
	}
	if err != nil {
		return tokenward.Principal{}, fmt.Errorf("verify token: %w", err)
	}
	p.Kind, p.TokenExpires, p.ReplacedSecret = tokenward.AccountKind(kind), fromMillis(expires), replaced == 1
	_, p.Permissions = effective(p.Kind, direct, fromRoles)
	p.AllowedNetworks = parseNetworks(networks)
	if set := parseScope(scope); set != nil {
		p.Permissions &= *set
		p.Scoped = true
	}
	return p, nil
}

// LiveTokensOfAccounts returns the live tokens of each of the accounts, oldest first.
func (db *DB) LiveTokensOfAccounts(ctx context.Context, accountIDs []int64) (map[int64][]tokenward.Token, error) {
	out := make(map[int64][]tokenward.Token, len(accountIDs))
	if len(accountIDs) == 0 {
		return out, nil
	}
	var q query
	var params []string
	for _, id := range accountIDs {
		params = append(params, q.arg(id))
	}
	rows, err := db.read.QueryContext(ctx, `
		SELECT `+tokenColumns+`
		FROM tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.account_id IN (`+strings.Join(params, ", ")+`) AND t.revoked_at IS NULL
		ORDER BY t.created_at, t.seq`, q.args...)
	tokens, err := collect(rows, err, "list tokens", scanToken)
	if err != nil {
		return nil, err
	}
	for _, t := range tokens {
		out[t.AccountID] = append(out[t.AccountID], t)
	}
	for _, ts := range out {
		if err := db.attachClients(ctx, ts); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RotateToken gives a live token a new secret (digest, hint) and expiry, keeping its
// record, name and cap slot, and enables it again when the idle timeout had disabled it
// (its expiry notices start again for the new expiry); its current secret keeps working until graceEnds (none when
// graceEnds is not after by.At), replacing any earlier overlap. One transaction with its
// audit event and a change of its account. ENotFound when it is not live.
func (db *DB) RotateToken(ctx context.Context, id string, digest tokenward.Digest, hint string, expires, graceEnds time.Time, by tokenward.AuditEvent) (tokenward.Token, error) {
	keepOld := graceEnds.After(by.At)
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var accountID int64
		var account string
		err := tx.QueryRowContext(ctx, `
			UPDATE tokens SET previous_digest = CASE WHEN $1 THEN digest ELSE NULL END,
				previous_until = CASE WHEN $1 THEN CAST($2 AS BIGINT) ELSE NULL END,
				digest = $3, hint = $4, expires_at = $5, rotated_at = $6, idle_disabled_at = NULL, expiry_notice = NULL
			WHERE id = $7 AND revoked_at IS NULL RETURNING account_id, account_identifier`,
			keepOld, millis(graceEnds), digest[:], hint, nullMillis(expires), millis(by.At), id).Scan(&accountID, &account)
		if errors.Is(err, sql.ErrNoRows) {
			return tokenward.Errorf(tokenward.ENotFound, "no such token")
		}
		if err != nil {
			return fmt.Errorf("rotate token: %w", err)
		}
		if err := insertAudit(ctx, tx, tokenward.TokenRotated(by, id, account, graceEnds)); err != nil {
			return err
		}
		return db.recordChange(ctx, tx, accountID, by.At)
	})
	if err != nil {
		return tokenward.Token{}, err
	}
	return db.LiveTokenByID(ctx, id)
}

// EachLiveTokenOfOrg calls fn for every live token in generation order, with its recent
// clients, for the plain listing of the organization's tokens; it streams, so a million
// tokens are never held. The clients come in the same query (one row per client, at most
// a few per token), so that the listing needs one connection.
func (db *DB) EachLiveTokenOfOrg(ctx context.Context, fn func(tokenward.Token) error) error {
	rows, err := db.read.QueryContext(ctx, `SELECT `+tokenColumns+`, c.address, c.user_agent, c.last_seen
		FROM tokens t JOIN accounts a ON a.id = t.account_id LEFT JOIN token_clients c ON c.token_seq = t.seq
		WHERE t.revoked_at IS NULL ORDER BY t.created_at, t.seq`)
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var held *tokenward.Token
	flush := func() error {
		if held == nil {
			return nil
		}
		held.RecentClients = sortClients(held.RecentClients)
		t := *held
		held = nil
		return fn(t)
	}
	for rows.Next() {
		var address []byte
		var agent sql.NullString
		var seen sql.NullInt64
		t, err := scanToken(scanWith{rows, []any{&address, &agent, &seen}})
		if err != nil {
			return fmt.Errorf("scan token: %w", err)
		}
		if held == nil || held.ID != t.ID {
			if err := flush(); err != nil {
				return err
			}
			held = &t
		}
		if seen.Valid {
			held.RecentClients = append(held.RecentClients, scanClient(address, agent.String, seen.Int64))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	return flush()
}
