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
func (db *DB) CreateRole(ctx context.Context, r tokenward.Role) error {
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
		return audit(ctx, tx, r.Created, tokenward.AuditRoleCreate, roleTarget(r.Name, r.ID), "permissions: "+permissionList(r.Permissions))
	})
}

func roleTarget(name, id string) string  { return "role " + name + " (" + id + ")" }
func groupTarget(name, id string) string { return "group " + name + " (" + id + ")" }

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
func (db *DB) UpdateRoles(ctx context.Context, changes []tokenward.RoleChange, at time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		guard, err := db.lockAccounts(ctx, tx)
		if err != nil {
			return err
		}
		reach := false // whether some account's effective permissions may change
		for _, c := range changes {
			name, details, err := setNameAndDescription(ctx, tx, "roles", "role", c.ID, c.Name, c.Description, db.forUpdate())
			if err != nil {
				return err
			}
			if c.Permissions != nil {
				if err := setRolePermissions(ctx, tx, c.ID, *c.Permissions); err != nil {
					return err
				}
				details = append(details, "permissions: "+permissionList(*c.Permissions))
				reach = true
			}
			added, err := accountLinks(ctx, tx, c.AddAccounts)
			if err != nil {
				return err
			}
			removed, err := accountLinks(ctx, tx, c.RemoveAccounts)
			if err != nil {
				return err
			}
			for _, l := range []struct {
				verb, table, column string
				links               links
				add                 bool
			}{
				{"assigned to accounts", "account_roles", "account_id", added, true},
				{"taken from accounts", "account_roles", "account_id", removed, false},
				{"assigned to groups", "group_roles", "group_id", stringLinks(c.AddGroups), true},
				{"taken from groups", "group_roles", "group_id", stringLinks(c.RemoveGroups), false},
			} {
				if len(l.links.ids) == 0 {
					continue
				}
				for _, id := range l.links.ids {
					if err := link(ctx, tx, l.add, l.table, l.column, id, "role_id", c.ID); err != nil {
						return err
					}
				}
				details = append(details, l.verb+" "+strings.Join(l.links.names, ", "))
				reach = true
			}
			if _, err := tx.ExecContext(ctx, `UPDATE roles SET updated_at = $1, updated_by = $2 WHERE id = $3`,
				millis(at), tokenward.ActorFrom(ctx).Account, c.ID); err != nil {
				return fmt.Errorf("update role: %w", err)
			}
			if err := audit(ctx, tx, at, tokenward.AuditRoleUpdate, roleTarget(name, c.ID), strings.Join(details, "; ")); err != nil {
				return err
			}
		}
		return db.afterAccessChange(ctx, tx, guard, reach, at)
	})
}

// setNameAndDescription locks a role or group (table, called noun in messages), renames it
// and sets its description when those are given, and returns its name after the change with
// the audit details of what changed. ENotFound when it is gone, EConflict for a taken name.
func setNameAndDescription(ctx context.Context, tx *sql.Tx, table, noun, id string, newName, description *string, forUpdate string) (string, []string, error) {
	var name string
	err := tx.QueryRowContext(ctx, `SELECT name FROM `+table+` WHERE id = $1`+forUpdate, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, tokenward.Errorf(tokenward.ENotFound, "%s %s does not exist", noun, truncateID(id))
	}
	if err != nil {
		return "", nil, fmt.Errorf("read %s: %w", noun, err)
	}
	var details []string
	if newName != nil && *newName != name {
		_, err := tx.ExecContext(ctx, `UPDATE `+table+` SET name = $1 WHERE id = $2`, *newName, id)
		if isUniqueViolation(err) {
			return "", nil, tokenward.Errorf(tokenward.EConflict, "a %s named %q already exists", noun, *newName)
		}
		if err != nil {
			return "", nil, fmt.Errorf("rename %s: %w", noun, err)
		}
		details = append(details, "renamed from "+name)
		name = *newName
	}
	if description != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET description = $1 WHERE id = $2`, *description, id); err != nil {
			return "", nil, fmt.Errorf("update %s: %w", noun, err)
		}
		details = append(details, "description set")
	}
	return name, details, nil
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
	return db.recordChange(ctx, tx, EveryAccount, at)
}

// links are the ids on one side of a link table, as query arguments, and as the audit
// trail names them.
type links struct {
	ids   []any
	names []string
}

func stringLinks(ids []string) links {
	l := links{names: ids}
	for _, id := range ids {
		l.ids = append(l.ids, id)
	}
	return l
}

// accountLinks names accounts by identifier for the audit trail.
func accountLinks(ctx context.Context, tx *sql.Tx, ids []int64) (links, error) {
	var l links
	for _, id := range ids {
		var name string
		err := tx.QueryRowContext(ctx, `SELECT identifier FROM accounts WHERE id = $1`, id).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return l, tokenward.Errorf(tokenward.ENotFound, "the account no longer exists")
		}
		if err != nil {
			return l, fmt.Errorf("read account: %w", err)
		}
		l.ids, l.names = append(l.ids, id), append(l.names, name)
	}
	return l, nil
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
func (db *DB) DeleteRole(ctx context.Context, id string, at time.Time) error {
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
		if err := audit(ctx, tx, at, tokenward.AuditRoleDelete, roleTarget(name, id), ""); err != nil {
			return err
		}
		return db.afterAccessChange(ctx, tx, guard, true, at)
	})
}

const groupColumns = `g.id, g.name, g.description, g.everyone, g.created_at,
	COALESCE((SELECT string_agg(gr.role_id, ',') FROM group_roles gr WHERE gr.group_id = g.id), '')`

func scanGroup(row interface{ Scan(...any) error }) (tokenward.UserGroup, error) {
	var g tokenward.UserGroup
	var created int64
	var roles string
	if err := row.Scan(&g.ID, &g.Name, &g.Description, &g.Everyone, &created, &roles); err != nil {
		return g, err
	}
	g.Created, g.Roles = time.UnixMilli(created).UTC(), idList(roles)
	return g, nil
}

// groupMembers fills in a group's members: for Everyone, every live user account.
func (db *DB) groupMembers(ctx context.Context, g *tokenward.UserGroup) (err error) {
	if g.Everyone {
		g.Users, err = db.column(ctx, "group members", `SELECT a.identifier FROM accounts a
			WHERE a.kind = 'user' AND a.deleted_at IS NULL ORDER BY a.identifier`)
	} else {
		g.Users, err = db.column(ctx, "group members", `SELECT a.identifier FROM group_members gm JOIN accounts a ON a.id = gm.account_id
			WHERE gm.group_id = $1 AND a.deleted_at IS NULL ORDER BY a.identifier`, g.ID)
	}
	g.UserCount = len(g.Users)
	return err
}

// CreateGroup inserts a group with its roles; EConflict when the name is taken.
func (db *DB) CreateGroup(ctx context.Context, g tokenward.UserGroup) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO user_groups (id, name, description, everyone, created_at) VALUES ($1, $2, $3, FALSE, $4)`,
			g.ID, g.Name, g.Description, millis(g.Created))
		if isUniqueViolation(err) {
			return tokenward.Errorf(tokenward.EConflict, "a user group named %q already exists", g.Name)
		}
		if err != nil {
			return fmt.Errorf("insert user group: %w", err)
		}
		for _, r := range g.Roles {
			if err := link(ctx, tx, true, "group_roles", "role_id", r, "group_id", g.ID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, g.Created, tokenward.AuditGroupCreate, groupTarget(g.Name, g.ID), "roles: "+strings.Join(g.Roles, ", "))
	})
}

// GroupByID returns a group with its roles and members, or ENotFound.
func (db *DB) GroupByID(ctx context.Context, id string) (tokenward.UserGroup, error) {
	if !storable(id) {
		return tokenward.UserGroup{}, tokenward.Errorf(tokenward.ENotFound, "no such user group")
	}
	g, err := scanGroup(db.read.QueryRowContext(ctx, `SELECT `+groupColumns+` FROM user_groups g WHERE g.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return g, tokenward.Errorf(tokenward.ENotFound, "user group %s does not exist", truncateID(id))
	}
	if err != nil {
		return g, fmt.Errorf("read user group: %w", err)
	}
	return g, db.groupMembers(ctx, &g)
}

var groupFields = map[string]field{
	"id":          {expr: "g.id"},
	"name":        {expr: "g.name"},
	"description": {expr: "g.description"},
	"permissions": {expr: "rp.permission", anyOf: "EXISTS (SELECT 1 FROM group_roles gr JOIN role_permissions rp ON rp.role_id = gr.role_id WHERE gr.group_id = g.id AND %s)"},
	"freetext":    {freetext: []string{"g.name", "g.description", "g.id"}},
}

var groupSorts = map[string]string{"id": "g.id", "name": "g.name", "description": "g.description", "createdEpochMillis": "g.created_at"}

// SearchGroups returns a page of groups matching a request normalized against GroupSearch.
func (db *DB) SearchGroups(ctx context.Context, req tokenward.SearchRequest) (tokenward.Page[tokenward.UserGroup], error) {
	var q query
	if err := q.addConditions(req.Query, tokenward.GroupSearch, groupFields); err != nil {
		return tokenward.Page[tokenward.UserGroup]{}, err
	}
	page, err := searchPage(ctx, db, "user groups", `FROM user_groups g`, groupColumns, q, req, groupSorts, "g.id", scanGroup)
	for i := range page.Items {
		if err == nil {
			err = db.groupMembers(ctx, &page.Items[i])
		}
	}
	return page, err
}

// UpdateGroup applies a change to a group in one transaction.
func (db *DB) UpdateGroup(ctx context.Context, c tokenward.GroupChange, at time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		guard, err := db.lockAccounts(ctx, tx)
		if err != nil {
			return err
		}
		name, details, err := setNameAndDescription(ctx, tx, "user_groups", "user group", c.ID, c.Name, c.Description, db.forUpdate())
		if err != nil {
			return err
		}
		reach := false
		if c.Roles != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM group_roles WHERE group_id = $1`, c.ID); err != nil {
				return fmt.Errorf("clear group roles: %w", err)
			}
			for _, r := range *c.Roles {
				if err := link(ctx, tx, true, "group_roles", "role_id", r, "group_id", c.ID); err != nil {
					return err
				}
			}
			details = append(details, "roles: "+strings.Join(*c.Roles, ", "))
			reach = true
		}
		added, err := accountLinks(ctx, tx, c.AddMembers)
		if err != nil {
			return err
		}
		removed, err := accountLinks(ctx, tx, c.RemoveMembers)
		if err != nil {
			return err
		}
		for _, l := range []struct {
			verb, table, column string
			links               links
			add                 bool
		}{
			{"roles added", "group_roles", "role_id", stringLinks(c.AddRoles), true},
			{"roles removed", "group_roles", "role_id", stringLinks(c.RemoveRoles), false},
			{"members added", "group_members", "account_id", added, true},
			{"members removed", "group_members", "account_id", removed, false},
		} {
			if len(l.links.ids) == 0 {
				continue
			}
			for _, id := range l.links.ids {
				if err := link(ctx, tx, l.add, l.table, l.column, id, "group_id", c.ID); err != nil {
					return err
				}
			}
			details = append(details, l.verb+": "+strings.Join(l.links.names, ", "))
			reach = true
		}
		if err := audit(ctx, tx, at, tokenward.AuditGroupUpdate, groupTarget(name, c.ID), strings.Join(details, "; ")); err != nil {
			return err
		}
		return db.afterAccessChange(ctx, tx, guard, reach, at)
	})
}

// DeleteGroup deletes a group other than Everyone, with its memberships and role links.
func (db *DB) DeleteGroup(ctx context.Context, id string, at time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		guard, err := db.lockAccounts(ctx, tx)
		if err != nil {
			return err
		}
		var name string
		err = tx.QueryRowContext(ctx, `DELETE FROM user_groups WHERE id = $1 AND NOT everyone RETURNING name`, id).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return tokenward.Errorf(tokenward.ENotFound, "user group %s does not exist or cannot be deleted", truncateID(id))
		}
		if err != nil {
			return fmt.Errorf("delete user group: %w", err)
		}
		if err := audit(ctx, tx, at, tokenward.AuditGroupDelete, groupTarget(name, id), ""); err != nil {
			return err
		}
		return db.afterAccessChange(ctx, tx, guard, true, at)
	})
}
