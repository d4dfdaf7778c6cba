package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tokenward/tokenward"
)

// The SQL below is the one definition of an account's effective permissions (reference
// §11); tokenward.EffectivePermissions applies the rule that needs no database.

// roleIDsOfAccount selects the ids of every role the account aliased a holds: its own, its
// groups', and for a user account the Everyone group's (whose membership is implicit).
const roleIDsOfAccount = `SELECT ar.role_id FROM account_roles ar WHERE ar.account_id = a.id
	UNION SELECT gr.role_id FROM group_members gm JOIN group_roles gr ON gr.group_id = gm.group_id WHERE gm.account_id = a.id
	UNION SELECT gr.role_id FROM user_groups g JOIN group_roles gr ON gr.group_id = g.id WHERE g.everyone AND a.kind = 'user'`

// permissionColumns are two comma-separated lists of the account aliased a: its direct
// permissions and the permissions of all its roles (repeats possible); effective unites them.
const permissionColumns = `COALESCE((SELECT string_agg(p.permission, ',') FROM account_permissions p WHERE p.account_id = a.id), ''),
	COALESCE((SELECT string_agg(rp.permission, ',') FROM role_permissions rp WHERE rp.role_id IN (` + roleIDsOfAccount + `)), '')`

// effective returns the permission sets of permissionColumns: direct and effective.
func effective(kind tokenward.AccountKind, direct, fromRoles string) (tokenward.PermissionSet, tokenward.PermissionSet) {
	d := parsePermissions(direct)
	return d, tokenward.EffectivePermissions(kind, d, parsePermissions(fromRoles))
}

// accountColumns are the columns scanAccount reads from "accounts a".
const accountColumns = `a.id, a.identifier, a.kind, a.active, a.description, a.created_at, a.last_login_at,
	` + permissionColumns + `,
	COALESCE((SELECT string_agg(ar.role_id, ',') FROM account_roles ar WHERE ar.account_id = a.id), ''),
	COALESCE((SELECT string_agg(g.id, ',') FROM user_groups g WHERE (g.everyone AND a.kind = 'user')
		OR g.id IN (SELECT gm.group_id FROM group_members gm WHERE gm.account_id = a.id)), ''),
	(SELECT MAX(t.last_used_at) FROM tokens t WHERE t.account_id = a.id)`

func scanAccount(row interface{ Scan(...any) error }) (tokenward.Account, error) {
	var a tokenward.Account
	var kind, direct, fromRoles, roles, groups string
	var created int64
	var lastLogin, lastUsed sql.NullInt64
	if err := row.Scan(&a.ID, &a.Identifier, &kind, &a.Active, &a.Description, &created, &lastLogin, &direct, &fromRoles, &roles, &groups, &lastUsed); err != nil {
		return tokenward.Account{}, err
	}
	a.Kind = tokenward.AccountKind(kind)
	a.Created = fromMillis(sql.NullInt64{Int64: created, Valid: true})
	a.LastLogin = fromMillis(lastLogin)
	a.LastUsed = fromMillis(lastUsed)
	a.Permissions, a.Effective = effective(a.Kind, direct, fromRoles)
	a.Roles, a.Groups = idList(roles), idList(groups)
	return a, nil
}

// idList reads a comma-separated list of ids as a sorted slice, never nil.
func idList(list string) []string {
	out := []string{}
	if list != "" {
		out = strings.Split(list, ",")
		slices.Sort(out)
	}
	return out
}

// CreateAccount inserts a with its permissions and sets a.ID. EConflict when a live account
// already has the identifier.
func (db *DB) CreateAccount(ctx context.Context, a *tokenward.Account, passwordHash string, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.insertAccount(ctx, tx, a, passwordHash, by) })
}

// CreateAccountWithToken inserts a, as CreateAccount, and its first token t, as CreateToken,
// in one transaction: both or neither. It sets a.ID and t.AccountID.
func (db *DB) CreateAccountWithToken(ctx context.Context, a *tokenward.Account, t *tokenward.Token, digest tokenward.Digest, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.insertAccount(ctx, tx, a, "", by); err != nil {
			return err
		}
		t.AccountID = a.ID
		return db.insertToken(ctx, tx, t, digest, tokenward.MaxTokensPerAccount, by)
	})
}

// CreateAccounts inserts accounts without passwords in one transaction: all or none.
func (db *DB) CreateAccounts(ctx context.Context, accounts []*tokenward.Account, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, a := range accounts {
			if err := db.insertAccount(ctx, tx, a, "", by); err != nil {
				return err
			}
		}
		return nil
	})
}

// CreateFirstAdmin inserts a when no account exists yet, under the global lock so that two
// instances starting at once create one administrator between them.
func (db *DB) CreateFirstAdmin(ctx context.Context, a *tokenward.Account, passwordHash string, by tokenward.AuditEvent) (bool, error) {
	created := false
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if err := db.lockGlobal(ctx, tx, lockAccounts); err != nil {
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
		return db.insertAccount(ctx, tx, a, passwordHash, by)
	})
	return created && err == nil, err
}

// HasAccounts reports whether the database holds any account, live or deleted: whether a
// first administrator was ever created.
func (db *DB) HasAccounts(ctx context.Context) (bool, error) {
	var any bool
	if err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM accounts)`).Scan(&any); err != nil {
		return false, fmt.Errorf("look for accounts: %w", err)
	}
	return any, nil
}

func (db *DB) insertAccount(ctx context.Context, tx *sql.Tx, a *tokenward.Account, passwordHash string, by tokenward.AuditEvent) error {
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
	if err := insertPermissions(ctx, tx, a.ID, a.Permissions); err != nil {
		return err
	}
	if err := insertLinks(ctx, tx, "account_roles", "account_id", "role_id", a.ID, a.Roles); err != nil {
		return err
	}
	if err := insertLinks(ctx, tx, "group_members", "account_id", "group_id", a.ID, a.Groups); err != nil {
		return err
	}
	return insertAudit(ctx, tx, tokenward.AccountCreated(by, *a))
}

// insertLinks inserts rows (column = owner, other = each of ids) into a link table. A
// foreign-key failure means one of ids names nothing: ENotFound.
func insertLinks(ctx context.Context, tx *sql.Tx, table, column, other string, owner any, ids []string) error {
	for _, id := range ids {
		_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (`+column+`, `+other+`) VALUES ($1, $2) ON CONFLICT DO NOTHING`, owner, id)
		if isForeignKeyViolation(err) {
			return tokenward.Errorf(tokenward.ENotFound, "%s %s does not exist", strings.TrimSuffix(other, "_id"), truncateID(id))
		}
		if err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

func insertPermissions(ctx context.Context, tx *sql.Tx, accountID int64, perms tokenward.PermissionSet) error {
	for _, p := range perms.List() {
		if _, err := tx.ExecContext(ctx, `INSERT INTO account_permissions (account_id, permission) VALUES ($1, $2)`,
			accountID, string(p)); err != nil {
			return fmt.Errorf("insert permission: %w", err)
		}
	}
	return nil
}

// AccountByIdentifier returns the live account with that identifier, or ENotFound.
func (db *DB) AccountByIdentifier(ctx context.Context, identifier string) (tokenward.Account, error) {
	if !storable(identifier) {
		return tokenward.Account{}, tokenward.Errorf(tokenward.ENotFound, "no such account")
	}
	a, err := scanAccount(db.read.QueryRowContext(ctx, `SELECT `+accountColumns+`
		FROM accounts a WHERE a.identifier = $1 AND a.deleted_at IS NULL`, identifier))
	if errors.Is(err, sql.ErrNoRows) {
		return tokenward.Account{}, tokenward.Errorf(tokenward.ENotFound, "account %s does not exist", identifier)
	}
	if err != nil {
		return tokenward.Account{}, fmt.Errorf("read account: %w", err)
	}
	return a, nil
}

// UpdateAccounts applies changes to live accounts in one transaction: all of them or, on
// any error, none. It keeps the invariant that at least one user account holds
// user_management: a change that would remove the last one fails with EInvalid.
func (db *DB) UpdateAccounts(ctx context.Context, changes []tokenward.AccountChange, by tokenward.AuditEvent) error {
	at := by.At
	return db.inTx(ctx, func(tx *sql.Tx) error {
		guard, err := db.lockAccounts(ctx, tx)
		if err != nil {
			return err
		}
		for _, c := range changes {
			var before tokenward.Account
			var perms string
			err := tx.QueryRowContext(ctx, `SELECT a.identifier, a.active, a.description,
				COALESCE((SELECT string_agg(p.permission, ',') FROM account_permissions p WHERE p.account_id = a.id), '')
				FROM accounts a WHERE a.id = $1 AND a.deleted_at IS NULL`+db.forUpdate(), c.ID).Scan(&before.Identifier, &before.Active, &before.Description, &perms)
			if errors.Is(err, sql.ErrNoRows) {
				return tokenward.Errorf(tokenward.ENotFound, "the account no longer exists")
			}
			if err != nil {
				return fmt.Errorf("read account: %w", err)
			}
			before.Permissions = parsePermissions(perms)
			if err := insertAudit(ctx, tx, tokenward.AccountChanged(by, before, c)...); err != nil {
				return err
			}
			var sets []string
			var q query
			if c.Active != nil {
				sets = append(sets, "active = "+q.arg(*c.Active))
			}
			if c.Description != nil {
				sets = append(sets, "description = "+q.arg(*c.Description))
			}
			if len(sets) == 0 {
				sets = append(sets, "active = active") // still proves the account is live
			}
			res, err := tx.ExecContext(ctx, `UPDATE accounts SET `+strings.Join(sets, ", ")+
				` WHERE id = `+q.arg(c.ID)+` AND deleted_at IS NULL`, q.args...)
			if err := affectedOne(res, err, "update account"); err != nil {
				return err
			}
			if c.Active != nil {
				// The token's copy, which the account-type filter reads (migration 0019).
				if _, err := tx.ExecContext(ctx, `UPDATE tokens SET account_active = $1 WHERE account_id = $2`, *c.Active, c.ID); err != nil {
					return fmt.Errorf("update tokens' account state: %w", err)
				}
			}
			if c.Permissions != nil {
				if _, err := tx.ExecContext(ctx, `DELETE FROM account_permissions WHERE account_id = $1`, c.ID); err != nil {
					return fmt.Errorf("clear permissions: %w", err)
				}
				if err := insertPermissions(ctx, tx, c.ID, *c.Permissions); err != nil {
					return err
				}
			}
			for _, link := range []struct {
				ids          *[]string
				table, other string
			}{{c.Roles, "account_roles", "role_id"}, {c.Groups, "group_members", "group_id"}} {
				if link.ids == nil {
					continue
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+link.table+` WHERE account_id = $1`, c.ID); err != nil {
					return fmt.Errorf("clear %s: %w", link.table, err)
				}
				if err := insertLinks(ctx, tx, link.table, "account_id", link.other, c.ID, *link.ids); err != nil {
					return err
				}
			}
			if c.Active != nil || c.Permissions != nil || c.Roles != nil || c.Groups != nil {
				if err := db.recordChange(ctx, tx, c.ID, at); err != nil {
					return err
				}
			}
		}
		return guard.check(ctx, tx)
	})
}

// DeleteAccounts marks accounts deleted, revokes all their live tokens and ends their
// sessions, in one transaction, keeping at least one administrator.
func (db *DB) DeleteAccounts(ctx context.Context, ids []int64, by tokenward.AuditEvent) error {
	at := by.At
	return db.inTx(ctx, func(tx *sql.Tx) error {
		guard, err := db.lockAccounts(ctx, tx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			var identifier string
			err := tx.QueryRowContext(ctx, `UPDATE accounts SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL RETURNING identifier`,
				millis(at), id).Scan(&identifier)
			if errors.Is(err, sql.ErrNoRows) {
				return tokenward.Errorf(tokenward.ENotFound, "the account no longer exists")
			}
			if err != nil {
				return fmt.Errorf("delete account: %w", err)
			}
			res, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL`, millis(at), id)
			if err != nil {
				return fmt.Errorf("revoke tokens of deleted account: %w", err)
			}
			revoked, _ := res.RowsAffected()
			if err := insertAudit(ctx, tx, tokenward.AccountDeleted(by, identifier, revoked)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1`, id); err != nil {
				return fmt.Errorf("end sessions of deleted account: %w", err)
			}
			if err := db.recordChange(ctx, tx, id, at); err != nil {
				return err
			}
		}
		return guard.check(ctx, tx)
	})
}

// SetPassword replaces a live user account's password hash and ends its sessions.
func (db *DB) SetPassword(ctx context.Context, accountID int64, hash string, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var identifier string
		err := tx.QueryRowContext(ctx, `UPDATE accounts SET password_hash = $1 WHERE id = $2 AND kind = 'user' AND deleted_at IS NULL RETURNING identifier`,
			hash, accountID).Scan(&identifier)
		if errors.Is(err, sql.ErrNoRows) {
			return tokenward.Errorf(tokenward.ENotFound, "the account no longer exists")
		}
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		if err := insertAudit(ctx, tx, tokenward.PasswordSet(by, identifier)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = $1`, accountID); err != nil {
			return fmt.Errorf("end sessions: %w", err)
		}
		return nil
	})
}

// PasswordHash returns a live user account and its password hash ("" when it has none);
// ENotFound for anything else.
func (db *DB) PasswordHash(ctx context.Context, email string) (tokenward.Account, string, error) {
	a, err := db.AccountByIdentifier(ctx, email)
	if err != nil {
		return a, "", err
	}
	if a.Kind != tokenward.UserAccount {
		return tokenward.Account{}, "", tokenward.Errorf(tokenward.ENotFound, "account %s does not exist", email)
	}
	var hash string
	if err := db.read.QueryRowContext(ctx, `SELECT password_hash FROM accounts WHERE id = $1`, a.ID).Scan(&hash); err != nil {
		return a, "", fmt.Errorf("read password hash: %w", err)
	}
	return a, hash, nil
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
