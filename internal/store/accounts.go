package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/tokenward/tokenward"
)

// CreateAccount inserts a with its permissions and sets a.ID. EConflict when a live account
// already has the identifier.
func (db *DB) CreateAccount(ctx context.Context, a *tokenward.Account, passwordHash string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.insertAccount(ctx, tx, a, passwordHash) })
}

// CreateFirstAdmin inserts a when no account exists yet, under the global lock so that two
// instances starting at once create one administrator between them.
func (db *DB) CreateFirstAdmin(ctx context.Context, a *tokenward.Account, passwordHash string) (bool, error) {
	created := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockGlobal(ctx, tx, lockBootstrap); err != nil {
			return err
		}
		var any bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM accounts)`).Scan(&any); err != nil {
			return fmt.Errorf("look for accounts: %w", err)
		}
		if any {
			return nil
		}
		created = true
		return db.insertAccount(ctx, tx, a, passwordHash)
	})
	return created && err == nil, err
}

func (db *DB) insertAccount(ctx context.Context, tx *sql.Tx, a *tokenward.Account, passwordHash string) error {
	err := tx.QueryRowContext(ctx, `
		INSERT INTO accounts (identifier, kind, active, description, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		RETURNING id`,
		a.Identifier, string(a.Kind), a.Active, a.Description, passwordHash, millis(a.Created)).Scan(&a.ID)
	if isUniqueViolation(err) {
		return tokenward.Errorf(tokenward.EConflict, "account %s already exists", a.Identifier)
	}
	if err != nil {
		return fmt.Errorf("insert account: %w", err)
	}
	for _, p := range a.Permissions.List() {
		if _, err := tx.ExecContext(ctx, `INSERT INTO account_permissions (account_id, permission) VALUES ($1, $2)`,
			a.ID, string(p)); err != nil {
			return fmt.Errorf("insert permission: %w", err)
		}
	}
	return nil
}

// AccountByIdentifier returns the live account with that identifier, or ENotFound.
func (db *DB) AccountByIdentifier(ctx context.Context, identifier string) (tokenward.Account, error) {
	var a tokenward.Account
	var kind, perms string
	var created int64
	err := db.read.QueryRowContext(ctx, `
		SELECT a.id, a.identifier, a.kind, a.active, a.description, a.created_at,
		       COALESCE((SELECT string_agg(p.permission, ',') FROM account_permissions p WHERE p.account_id = a.id), '')
		FROM accounts a
		WHERE a.identifier = $1 AND a.deleted_at IS NULL`, identifier).
		Scan(&a.ID, &a.Identifier, &kind, &a.Active, &a.Description, &created, &perms)
	if errors.Is(err, sql.ErrNoRows) {
		return tokenward.Account{}, tokenward.Errorf(tokenward.ENotFound, "account %s does not exist", identifier)
	}
	if err != nil {
		return tokenward.Account{}, fmt.Errorf("read account: %w", err)
	}
	a.Kind = tokenward.AccountKind(kind)
	a.Created = fromMillis(sql.NullInt64{Int64: created, Valid: true})
	a.Permissions = parsePermissions(perms)
	return a, nil
}

// parsePermissions reads the comma-separated list that string_agg builds. Names this
// version does not know (written by a newer one) are skipped rather than failing the read.
func parsePermissions(list string) tokenward.PermissionSet {
	var set tokenward.PermissionSet
	for _, name := range strings.Split(list, ",") {
		if p, err := tokenward.ParsePermission(name); err == nil {
			set |= tokenward.NewPermissionSet(p)
		}
	}
	return set
}
