package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tokenward/tokenward"
)

// Token restrictions as stored (migration 0017): allowed_cidrs and permissions are
// comma-separated text, NULL meaning no restriction.

// networksValue is a token's allowed networks as allowed_cidrs stores them; NULL: anywhere.
func networksValue(networks []netip.Prefix) sql.NullString {
	if networks == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: strings.Join(tokenward.CIDRStrings(networks), ","), Valid: true}
}

// parseNetworks reads allowed_cidrs. It fails closed: an entry that does not parse (which
// tokenward never writes) is dropped, and a token left with none works from nowhere rather
// than from anywhere.
func parseNetworks(v sql.NullString) []netip.Prefix {
	if !v.Valid {
		return nil
	}
	out := []netip.Prefix{}
	for _, s := range strings.Split(v.String, ",") {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// permissionsValue is a token's permission subset as the permissions column stores it;
// NULL: all of its account's.
func permissionsValue(set *tokenward.PermissionSet) sql.NullString {
	if set == nil {
		return sql.NullString{}
	}
	names := make([]string, 0, len(set.List()))
	for _, p := range set.List() {
		names = append(names, string(p))
	}
	return sql.NullString{String: strings.Join(names, ","), Valid: true}
}

// parseScope reads the permissions column; nil: all of the account's.
func parseScope(v sql.NullString) *tokenward.PermissionSet {
	if !v.Valid {
		return nil
	}
	set := parsePermissions(v.String) // "" is the empty set
	return &set
}

// EditToken changes a live token's name and allowed networks (nil fields stay) in one
// transaction with their audit events; a change of networks records a change of its
// account, since it changes what verifies. ENotFound when the token is not live.
func (db *DB) EditToken(ctx context.Context, id string, edit tokenward.TokenEdit, by tokenward.AuditEvent) (tokenward.Token, error) {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var accountID int64
		var account, name string
		var networks sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT account_id, account_identifier, name, allowed_cidrs FROM tokens
			WHERE id = $1 AND revoked_at IS NULL`+db.forUpdate(), id).Scan(&accountID, &account, &name, &networks)
		if errors.Is(err, sql.ErrNoRows) {
			return tokenward.Errorf(tokenward.ENotFound, "no such token")
		}
		if err != nil {
			return fmt.Errorf("read token: %w", err)
		}
		var events []tokenward.AuditEvent
		if edit.Name != nil {
			name = *edit.Name
			events = append(events, tokenward.TokenRenamed(by, id, account, name))
		}
		if edit.Networks != nil {
			networks = networksValue(*edit.Networks)
			events = append(events, tokenward.TokenNetworksSet(by, id, account, *edit.Networks))
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tokens SET name = $1, allowed_cidrs = $2 WHERE id = $3`, name, networks, id); err != nil {
			return fmt.Errorf("edit token: %w", err)
		}
		// After the change: an event for webhooks shows the token as the change left it.
		if err := insertAudit(ctx, tx, events...); err != nil {
			return err
		}
		if edit.Networks == nil {
			return nil
		}
		return db.recordChange(ctx, tx, accountID, by.At)
	})
	if err != nil {
		return tokenward.Token{}, err
	}
	return db.LiveTokenByID(ctx, id)
}
