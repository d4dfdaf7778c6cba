package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/tokenward/tokenward"
)

// adminGuard keeps a usable administrator: a live user account holding user_management
// (directly or through a role) that somebody can act as, because it has a password or a
// live token. Without one, nobody could manage accounts from the API or console again
// short of shell access. It notes at the start of a transaction whether one exists, and
// check fails the transaction when the change leaves none (a database that never had one,
// such as a test's, is not held to it).
type adminGuard struct{ had bool }

// lockAccounts takes the lock of every change to accounts, roles and groups, so that two
// changes cannot each leave an administrator that the other one removes, and notes whether
// a usable administrator exists.
func (db *DB) lockAccounts(ctx context.Context, tx *sql.Tx) (adminGuard, error) {
	if err := db.lockGlobal(ctx, tx, lockAccounts); err != nil {
		return adminGuard{}, err
	}
	had, err := usableAdministrator(ctx, tx)
	return adminGuard{had: had}, err
}

func (g adminGuard) check(ctx context.Context, tx *sql.Tx) error {
	if !g.had {
		return nil
	}
	ok, err := usableAdministrator(ctx, tx)
	if err != nil {
		return err
	}
	if !ok {
		return tokenward.Errorf(tokenward.EInvalid, "this would leave no usable administrator: no user account with the Accounts permission (user_management) and a password or a live token; make another one first")
	}
	return nil
}

func usableAdministrator(ctx context.Context, tx *sql.Tx) (bool, error) {
	var ok bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM accounts a
		WHERE a.kind = 'user' AND a.deleted_at IS NULL
		AND (a.password_hash <> '' OR EXISTS (SELECT 1 FROM tokens t WHERE t.account_id = a.id AND t.revoked_at IS NULL))
		AND (EXISTS (SELECT 1 FROM account_permissions p WHERE p.account_id = a.id AND p.permission = 'user_management')
			OR EXISTS (SELECT 1 FROM role_permissions rp WHERE rp.permission = 'user_management' AND rp.role_id IN (`+roleIDsOfAccount+`))))`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check administrators: %w", err)
	}
	return ok, nil
}
