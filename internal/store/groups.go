package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokenward/tokenward"
)

// User groups (reference §11): a group gives its members the roles linked to it; the
// Everyone group holds every user account and cannot be deleted.

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
func (db *DB) CreateGroup(ctx context.Context, g tokenward.UserGroup, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO user_groups (id, name, description, everyone, created_at) VALUES ($1, $2, $3, FALSE, $4)`,
			g.ID, g.Name, g.Description, millis(g.Created))
		if isUniqueViolation(err) {
			return tokenward.Errorf(tokenward.EConflict, "a user group named %q already exists", g.Name)
		}
		if err != nil {
			return fmt.Errorf("insert user group: %w", err)
		}
		if _, err := applyLinks(ctx, tx, "group_id", g.ID, []linkChange{{"group_roles", "role_id", stringIDs(g.Roles), true}}); err != nil {
			return err
		}
		return insertAudit(ctx, tx, tokenward.GroupCreated(by, g))
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
func (db *DB) UpdateGroup(ctx context.Context, c tokenward.GroupChange, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		guard, err := db.lockAccounts(ctx, tx)
		if err != nil {
			return err
		}
		name, renamedFrom, err := setNameAndDescription(ctx, tx, "user_groups", "user group", c.ID, c.Name, c.Description, db.forUpdate())
		if err != nil {
			return err
		}
		reach := false
		if c.Roles != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM group_roles WHERE group_id = $1`, c.ID); err != nil {
				return fmt.Errorf("clear group roles: %w", err)
			}
			reach = true
		}
		added, removed, err := accountLinks(ctx, tx, c.AddMembers, c.RemoveMembers)
		if err != nil {
			return err
		}
		var roles []string
		if c.Roles != nil {
			roles = *c.Roles
		}
		linked, err := applyLinks(ctx, tx, "group_id", c.ID, []linkChange{
			{"group_roles", "role_id", stringIDs(roles), true},
			{"group_roles", "role_id", stringIDs(c.AddRoles), true},
			{"group_roles", "role_id", stringIDs(c.RemoveRoles), false},
			{"group_members", "account_id", added.ids, true},
			{"group_members", "account_id", removed.ids, false},
		})
		if err != nil {
			return err
		}
		if err := insertAudit(ctx, tx, tokenward.GroupChanged(by, c, name, renamedFrom, added.names, removed.names)); err != nil {
			return err
		}
		return db.afterAccessChange(ctx, tx, guard, reach || linked, by.At)
	})
}

// DeleteGroup deletes a group other than Everyone, with its memberships and role links.
func (db *DB) DeleteGroup(ctx context.Context, id string, by tokenward.AuditEvent) error {
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
		if err := insertAudit(ctx, tx, tokenward.GroupDeleted(by, name, id)); err != nil {
			return err
		}
		return db.afterAccessChange(ctx, tx, guard, true, by.At)
	})
}
