package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/auth"
)

// Roles and user groups (reference §11). Every write that can change what an account may
// do records an EveryAccount change, so that each instance re-reads effective permissions
// on its next catch-up, and checks in the same transaction that an administrator remains.

const roleColumns = `r.id, r.name, r.description, r.created_at, r.updated_at, r.updated_by,
	COALESCE((SELECT string_agg(rp.permission, ',') FROM role_permissions rp WHERE rp.role_id = r.id), ''),
	COALESCE((SELECT string_agg(gr.group_id, ',') FROM group_roles gr WHERE gr.role_id = r.id), '')`

// scanRole reads roleColumns; the role's accounts are read by roleAccounts.
func scanRole(row interface{ Scan(...any) error }) (tokenward.Role, error) {
	var r tokenward.Role
	var created, updated int64
	var perms, groups string
	if err := row.Scan(&r.ID, &r.Name, &r.Description, &created, &updated, &r.UpdatedBy, &perms, &groups); err != nil {
		return r, err
	}
	r.Created, r.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	r.Permissions, r.Groups = parsePermissions(perms), idList(groups)
	return r, nil
}

// column returns the first column of every row of a query, in order.
func (db *DB) column(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("scan %s: %w", what, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func (db *DB) roleAccounts(ctx context.Context, r *tokenward.Role) (err error) {
	r.Accounts, err = db.column(ctx, "role assignees", `SELECT a.identifier FROM account_roles ar JOIN accounts a ON a.id = ar.account_id
		WHERE ar.role_id = $1 AND a.deleted_at IS NULL ORDER BY a.identifier`, r.ID)
	return err
}

// CreateRole inserts a role with its permissions; EConflict when the name is taken.
func (db *DB) CreateRole(ctx context.Context, r tokenward.Role, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO roles (id, name, description, created_at, updated_at, updated_by)
			VALUES ($1, $2, $3, $4, $5, $6)`, r.ID, r.Name, r.Description, millis(r.Created), millis(r.Updated), r.UpdatedBy)
		if isUniqueViolation(err) {
			return tokenward.Errorf(tokenward.EConflict, "a role named %q already exists", r.Name)
		}
		if err != nil {
			return fmt.Errorf("insert role: %w", err)
		}
		if err := setRolePermissions(ctx, tx, r.ID, r.Permissions); err != nil {
			return err
		}
		return insertAudit(ctx, tx, tokenward.RoleCreated(by, r))
	})
}

func setRolePermissions(ctx context.Context, tx *sql.Tx, id string, perms tokenward.PermissionSet) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM role_permissions WHERE role_id = $1`, id); err != nil {
		return fmt.Errorf("clear role permissions: %w", err)
	}
	for _, p := range perms.List() {
		if _, err := tx.ExecContext(ctx, `INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)`, id, string(p)); err != nil {
			return fmt.Errorf("insert role permission: %w", err)
		}
	}
	return nil
}

// RoleByID returns a role with its assignees, or ENotFound.
func (db *DB) RoleByID(ctx context.Context, id string) (tokenward.Role, error) {
	if !storable(id) {
		return tokenward.Role{}, tokenward.Errorf(tokenward.ENotFound, "no such role")
	}
	r, err := scanRole(db.read.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles r WHERE r.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, tokenward.Errorf(tokenward.ENotFound, "role %s does not exist", truncateID(id))
	}
	if err != nil {
		return r, fmt.Errorf("read role: %w", err)
	}
	return r, db.roleAccounts(ctx, &r)
}

var roleFields = map[string]field{
	"id":          {expr: "r.id"},
	"name":        {expr: "r.name"},
	"description": {expr: "r.description"},
	"permissions": {expr: "rp.permission", anyOf: "EXISTS (SELECT 1 FROM role_permissions rp WHERE rp.role_id = r.id AND %s)"},
	"freetext":    {freetext: []string{"r.name", "r.description", "r.id"}},
}

var roleSorts = map[string]string{"id": "r.id", "name": "r.name", "description": "r.description",
	"createdEpochMillis": "r.created_at", "lastUpdatedMs": "r.updated_at"}

// SearchRoles returns a page of roles matching a request normalized against RoleSearch.
func (db *DB) SearchRoles(ctx context.Context, req tokenward.SearchRequest) (tokenward.Page[tokenward.Role], error) {
	var q query
	if err := q.addConditions(req.Query, tokenward.RoleSearch, roleFields); err != nil {
		return tokenward.Page[tokenward.Role]{}, err
	}
	page, err := searchPage(ctx, db, "roles", `FROM roles r`, roleColumns, q, req, roleSorts, "r.id", scanRole)
	for i := range page.Items {
		if err == nil {
			err = db.roleAccounts(ctx, &page.Items[i])
		}
	}
	return page, err
}

// searchPage counts the rows of from (a FROM clause) that q matches and reads the page of
// them that req asks for, ordered by its sort with tieBreaker last.
func searchPage[T any](ctx context.Context, db *DB, what, from, columns string, q query, req tokenward.SearchRequest,
	sorts map[string]string, tieBreaker string, scan func(interface{ Scan(...any) error }) (T, error)) (tokenward.Page[T], error) {
	page := tokenward.Page[T]{Offset: req.Offset, Limit: req.Limit, Sort: *req.Sort, Items: []T{}}
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) `+from+` WHERE `+q.whereClause(), q.args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("count %s: %w", what, err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+columns+` `+from+` WHERE `+q.whereClause()+` `+
		orderBy(*req.Sort, sorts, nil, tieBreaker)+fmt.Sprintf(" LIMIT %d OFFSET %d", req.Limit, req.Offset), q.args...)
	if err != nil {
		return page, fmt.Errorf("search %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return page, fmt.Errorf("scan %s: %w", what, err)
		}
		page.Items = append(page.Items, item)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("search %s: %w", what, err)
	}
	return page, nil
}

// UpdateRoles applies changes to roles in one transaction, all or none.
func (db *DB) UpdateRoles(ctx context.Context, changes []tokenward.RoleChange, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		guard, err := db.lockAccounts(ctx, tx)
		if err != nil {
			return err
		}
		reach := false // whether some account's effective permissions may change
		for _, c := range changes {
			name, renamedFrom, err := setNameAndDescription(ctx, tx, "roles", "role", c.ID, c.Name, c.Description, db.forUpdate())
			if err != nil {
				return err
			}
			if c.Permissions != nil {
				if err := setRolePermissions(ctx, tx, c.ID, *c.Permissions); err != nil {
					return err
				}
				reach = true
			}
			added, removed, err := accountLinks(ctx, tx, c.AddAccounts, c.RemoveAccounts)
			if err != nil {
				return err
			}
			linked, err := applyLinks(ctx, tx, "role_id", c.ID, []linkChange{
				{"account_roles", "account_id", added.ids, true},
				{"account_roles", "account_id", removed.ids, false},
				{"group_roles", "group_id", stringIDs(c.AddGroups), true},
				{"group_roles", "group_id", stringIDs(c.RemoveGroups), false},
			})
			if err != nil {
				return err
			}
			reach = reach || linked
			if _, err := tx.ExecContext(ctx, `UPDATE roles SET updated_at = $1, updated_by = $2 WHERE id = $3`,
				millis(by.At), by.Actor, c.ID); err != nil {
				return fmt.Errorf("update role: %w", err)
			}
			if err := insertAudit(ctx, tx, tokenward.RoleChanged(by, c, name, renamedFrom, added.names, removed.names)); err != nil {
				return err
			}
		}
		return db.afterAccessChange(ctx, tx, guard, reach, by.At)
	})
}

// setNameAndDescription locks a role or group (table, called noun in messages), renames it
// and sets its description when those are given, and returns its name after the change and,
// when it was renamed, the name it had. ENotFound when it is gone, EConflict for a taken name.
func setNameAndDescription(ctx context.Context, tx *sql.Tx, table, noun, id string, newName, description *string, forUpdate string) (name, renamedFrom string, err error) {
	err = tx.QueryRowContext(ctx, `SELECT name FROM `+table+` WHERE id = $1`+forUpdate, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", tokenward.Errorf(tokenward.ENotFound, "%s %s does not exist", noun, truncateID(id))
	}
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", noun, err)
	}
	if newName != nil && *newName != name {
		_, err := tx.ExecContext(ctx, `UPDATE `+table+` SET name = $1 WHERE id = $2`, *newName, id)
		if isUniqueViolation(err) {
			return "", "", tokenward.Errorf(tokenward.EConflict, "a %s named %q already exists", noun, *newName)
		}
		if err != nil {
			return "", "", fmt.Errorf("rename %s: %w", noun, err)
		}
		name, renamedFrom = *newName, name
	}
	if description != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET description = $1 WHERE id = $2`, *description, id); err != nil {
			return "", "", fmt.Errorf("update %s: %w", noun, err)
		}
	}
	return name, renamedFrom, nil
}

// afterAccessChange ends every write to roles and groups: when some account's effective
// permissions may have changed, it checks that an administrator remains and records the
// change for every instance.
func (db *DB) afterAccessChange(ctx context.Context, tx *sql.Tx, guard adminGuard, reach bool, at time.Time) error {
	if !reach {
		return nil
	}
	if err := guard.check(ctx, tx); err != nil {
		return err
	}
	return db.recordChange(ctx, tx, auth.EveryAccount, at)
}

// accounts names accounts on one side of a link: their ids, as query arguments, and their
// identifiers, as the audit trail names them.
type accounts struct {
	ids   []any
	names []string
}

// accountLinks reads the identifiers of the accounts a change adds to and removes from a
// role or group. ENotFound when one is gone.
func accountLinks(ctx context.Context, tx *sql.Tx, add, remove []int64) (added, removed accounts, err error) {
	for _, side := range []struct {
		ids []int64
		out *accounts
	}{{add, &added}, {remove, &removed}} {
		for _, id := range side.ids {
			var name string
			err := tx.QueryRowContext(ctx, `SELECT identifier FROM accounts WHERE id = $1`, id).Scan(&name)
			if errors.Is(err, sql.ErrNoRows) {
				return added, removed, tokenward.Errorf(tokenward.ENotFound, "the account no longer exists")
			}
			if err != nil {
				return added, removed, fmt.Errorf("read account: %w", err)
			}
			side.out.ids, side.out.names = append(side.out.ids, id), append(side.out.names, name)
		}
	}
	return added, removed, nil
}

func stringIDs(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// linkChange adds (add) or removes the links of a link table between the role or group
// being changed and each of ids, in column.
type linkChange struct {
	table, column string
	ids           []any
	add           bool
}

// applyLinks applies changes to the links of the role or group whose id is selfID (in the
// link tables' column self) and reports whether any changed.
func applyLinks(ctx context.Context, tx *sql.Tx, self, selfID string, changes []linkChange) (bool, error) {
	changed := false
	for _, c := range changes {
		for _, id := range c.ids {
			if err := link(ctx, tx, c.add, c.table, c.column, id, self, selfID); err != nil {
				return false, err
			}
			changed = true
		}
	}
	return changed, nil
}

// link inserts (add) or deletes one row of a link table: column = id, other = otherID. An
// insert that names nothing is ENotFound; an existing link, or removing a missing one, is
// no error.
func link(ctx context.Context, tx *sql.Tx, add bool, table, column string, id any, other, otherID string) error {
	if !add {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+column+` = $1 AND `+other+` = $2`, id, otherID); err != nil {
			return fmt.Errorf("delete from %s: %w", table, err)
		}
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (`+column+`, `+other+`) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, otherID)
	if isForeignKeyViolation(err) {
		return tokenward.Errorf(tokenward.ENotFound, "%s %s does not exist", strings.TrimSuffix(column, "_id"), truncateID(fmt.Sprint(id)))
	}
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

// DeleteRole deletes a role; its links to accounts and groups go with it.
func (db *DB) DeleteRole(ctx context.Context, id string, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		guard, err := db.lockAccounts(ctx, tx)
		if err != nil {
			return err
		}
		var name string
		err = tx.QueryRowContext(ctx, `DELETE FROM roles WHERE id = $1 RETURNING name`, id).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return tokenward.Errorf(tokenward.ENotFound, "role %s does not exist", truncateID(id))
		}
		if err != nil {
			return fmt.Errorf("delete role: %w", err)
		}
		if err := insertAudit(ctx, tx, tokenward.RoleDeleted(by, name, id)); err != nil {
			return err
		}
		return db.afterAccessChange(ctx, tx, guard, true, by.At)
	})
}
