package tokenward

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"
)

// Role is a named set of permissions assigned to accounts and to user groups (reference
// §11). An account's effective permissions are its direct grants, the permissions of its
// roles and those of the roles of its groups; the store computes that union in one place
// (see EffectivePermissions in internal/store) for every check and verdict.
type Role struct {
	ID          string // a UUID
	Name        string // unique
	Description string
	Permissions PermissionSet
	Created     time.Time
	Updated     time.Time
	UpdatedBy   string   // the account that changed it last
	Accounts    []string // identifiers of the accounts it is assigned to, sorted
	Groups      []string // ids of the groups it is assigned to, sorted
}

// RoleChange is one change to a role; nil fields and empty lists change nothing.
type RoleChange struct {
	ID                          string
	Name, Description           *string
	Permissions                 *PermissionSet // replaces the set
	AddAccounts, RemoveAccounts []int64
	AddGroups, RemoveGroups     []string
}

// AccessStore is what roles and groups need from the database. Every write keeps at least
// one user account holding user_management (EInvalid otherwise), records a change that
// makes every instance re-read effective permissions, and writes the audit trail, in one
// transaction.
type AccessStore interface {
	// CreateRole inserts r with its permissions; EConflict when the name is taken.
	CreateRole(ctx context.Context, r Role, by AuditEvent) error
	// RoleByID returns a role with its assignees, or ENotFound.
	RoleByID(ctx context.Context, id string) (Role, error)
	// SearchRoles returns a page of roles matching a request normalized against RoleSearch.
	SearchRoles(ctx context.Context, req SearchRequest) (Page[Role], error)
	// UpdateRoles applies all changes or none; ENotFound when a role, account or group is
	// gone, EConflict for a taken name.
	UpdateRoles(ctx context.Context, changes []RoleChange, by AuditEvent) error
	// DeleteRole removes a role from every account and group and deletes it; ENotFound.
	DeleteRole(ctx context.Context, id string, by AuditEvent) error

	// CreateGroup inserts g with its roles; EConflict when the name is taken.
	CreateGroup(ctx context.Context, g UserGroup, by AuditEvent) error
	// GroupByID returns a group with its roles and members, or ENotFound.
	GroupByID(ctx context.Context, id string) (UserGroup, error)
	// SearchGroups returns a page of groups matching a request normalized against GroupSearch.
	SearchGroups(ctx context.Context, req SearchRequest) (Page[UserGroup], error)
	// UpdateGroup applies a change; ENotFound when the group, a role or an account is gone.
	UpdateGroup(ctx context.Context, c GroupChange, by AuditEvent) error
	// DeleteGroup deletes a group and its memberships; ENotFound.
	DeleteGroup(ctx context.Context, id string, by AuditEvent) error
}

// RoleSearch is what role searches accept (reference §11).
var RoleSearch = SearchSpec{
	Keys: map[string]FieldKind{
		"id": TextField, "name": TextField, "description": TextField, "permissions": TextField, "freetext": TextField,
	},
	SortFields:  []string{"id", "name", "description", "createdEpochMillis", "lastUpdatedMs"},
	DefaultSort: SearchSort{Field: "name", Ascending: true},
}

// MaxNameLength is the longest role or group name accepted, in bytes.
const MaxNameLength = 128

// newUUID returns a random (version 4) UUID, the identifier of roles and groups.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// checkName returns a role or group name trimmed, or EInvalid when it is empty or too long.
func checkName(kind, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Errorf(EInvalid, "a %s needs a name", kind)
	}
	if err := CheckText("a "+kind+" name", name, MaxNameLength); err != nil {
		return "", err
	}
	if spoofs(name) {
		return "", Errorf(EInvalid, "a %s name may not contain control, bidirectional or zero-width characters", kind)
	}
	return name, nil
}

// checkDescription checks a description of an account, role or group. Descriptions are
// prose and may run over lines (newlines and tabs), but hold no other control character
// and no bidirectional or zero-width one: shown in a list beside its name, such a
// character would make the description read as something else.
func checkDescription(d *string) error {
	if d == nil {
		return nil
	}
	if err := CheckText("a description", *d, MaxDescriptionLength); err != nil {
		return err
	}
	if spoofs(strings.NewReplacer("\n", "", "\t", "", "\r", "").Replace(*d)) {
		return Errorf(EInvalid, "a description may not contain control characters other than line breaks and tabs, nor bidirectional or zero-width ones")
	}
	return nil
}

// RoleWrite is a create or update of a role; nil fields are absent from the request.
type RoleWrite struct {
	Name, Description *string
	Permissions       *PermissionSet
}

// CreateRole creates a role. Errors: EForbidden, EInvalid (no name), EConflict (name taken).
func (s *Service) CreateRole(ctx context.Context, p Principal, w RoleWrite) (Role, error) {
	if err := RequireAccounts(p); err != nil {
		return Role{}, err
	}
	name, err := checkNamed("role", w.Name, w.Description, true)
	if err != nil {
		return Role{}, err
	}
	by := s.by(p)
	r := Role{ID: newUUID(), Name: *name, Created: by.At, Updated: by.At, UpdatedBy: p.Account}
	if w.Description != nil {
		r.Description = *w.Description
	}
	if w.Permissions != nil {
		r.Permissions = *w.Permissions
	}
	if err := s.store.CreateRole(ctx, r, by); err != nil {
		return Role{}, err
	}
	return s.store.RoleByID(ctx, r.ID)
}

// roleOf returns a role by id with a message that names it; ENotFound.
func (s *Service) roleOf(ctx context.Context, id string) (Role, error) {
	r, err := s.store.RoleByID(ctx, strings.TrimSpace(id))
	if ErrorCode(err) == ENotFound {
		return Role{}, Errorf(ENotFound, "role %s does not exist", truncate(id, 64))
	}
	return r, err
}

// Role returns a role. Errors: EForbidden, ENotFound.
func (s *Service) Role(ctx context.Context, p Principal, id string) (Role, error) {
	if err := RequireAccounts(p); err != nil {
		return Role{}, err
	}
	return s.roleOf(ctx, id)
}

// SearchRoles returns a page of roles. Errors: EForbidden, EInvalid.
func (s *Service) SearchRoles(ctx context.Context, p Principal, req SearchRequest) (Page[Role], error) {
	return search(ctx, p, req, RoleSearch, s.store.SearchRoles)
}

// UpdateRole changes a role's name, description or permissions. Errors: EForbidden,
// ENotFound, EInvalid (also when no administrator would remain), EConflict.
func (s *Service) UpdateRole(ctx context.Context, p Principal, id string, w RoleWrite) (Role, error) {
	if err := RequireAccounts(p); err != nil {
		return Role{}, err
	}
	r, err := s.roleOf(ctx, id)
	if err != nil {
		return Role{}, err
	}
	if w.Name, err = checkNamed("role", w.Name, w.Description, false); err != nil {
		return Role{}, err
	}
	return s.changeRoles(ctx, p, RoleChange{ID: r.ID, Name: w.Name, Description: w.Description, Permissions: w.Permissions})
}

// changeRoles applies changes to roles, all or none, and returns the first role as stored.
func (s *Service) changeRoles(ctx context.Context, p Principal, changes ...RoleChange) (Role, error) {
	if err := s.written(ctx, s.store.UpdateRoles(ctx, changes, s.by(p))); err != nil {
		return Role{}, err
	}
	return s.store.RoleByID(ctx, changes[0].ID)
}

// DeleteRole deletes a role, taking its permissions from every account and group that held
// it. It returns the role as it was. Errors: EForbidden, ENotFound, EInvalid when no
// administrator would remain.
func (s *Service) DeleteRole(ctx context.Context, p Principal, id string) (Role, error) {
	if err := RequireAccounts(p); err != nil {
		return Role{}, err
	}
	r, err := s.roleOf(ctx, id)
	if err != nil {
		return Role{}, err
	}
	return r, s.written(ctx, s.store.DeleteRole(ctx, r.ID, s.by(p)))
}

// ChangeRoleAssignees assigns a role to (or takes it from) accounts and groups: each
// assignee is an account identifier (an email or sa::name) or a group id. All or none.
// Errors: EForbidden, ENotFound naming the first unknown assignee, EInvalid.
func (s *Service) ChangeRoleAssignees(ctx context.Context, p Principal, id string, assign bool, assignees []string) (Role, error) {
	if err := RequireAccounts(p); err != nil {
		return Role{}, err
	}
	r, err := s.roleOf(ctx, id)
	if err != nil {
		return Role{}, err
	}
	c := RoleChange{ID: r.ID}
	accounts, groups := distinct[int64]{}, distinct[string]{}
	for _, name := range assignees {
		if IsAccountIdentifier(name) {
			a, err := s.accountOf(ctx, name, "")
			if err != nil {
				return Role{}, err
			}
			if err := accounts.add(a.ID, "account "+a.Identifier); err != nil {
				return Role{}, err
			}
			if assign {
				c.AddAccounts = append(c.AddAccounts, a.ID)
			} else {
				c.RemoveAccounts = append(c.RemoveAccounts, a.ID)
			}
			continue
		}
		g, err := s.groupOf(ctx, name)
		if err != nil {
			return Role{}, Errorf(ENotFound, "%s is neither an account nor a user group", truncate(name, 64))
		}
		if err := groups.add(g.ID, "user group "+g.Name); err != nil {
			return Role{}, err
		}
		if assign {
			c.AddGroups = append(c.AddGroups, g.ID)
		} else {
			c.RemoveGroups = append(c.RemoveGroups, g.ID)
		}
	}
	return s.changeRoles(ctx, p, c)
}

// IsAccountIdentifier tells an account identifier (an email or sa::name) from a group or
// role id (a UUID), which never holds '@' or "::": role assignees may be either.
func IsAccountIdentifier(s string) bool { return strings.Contains(s, "@") || strings.Contains(s, "::") }

// ChangeRolesPermission grants (or revokes) one permission on several roles, all or none,
// and returns them. Errors: EForbidden, ENotFound, EInvalid.
func (s *Service) ChangeRolesPermission(ctx context.Context, p Principal, perm Permission, grant bool, ids []string) ([]Role, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, Errorf(EInvalid, "name at least one role")
	}
	var changes []RoleChange
	seen := distinct[string]{}
	for _, id := range ids {
		r, err := s.roleOf(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := seen.add(r.ID, "role "+r.Name); err != nil {
			return nil, err
		}
		perms := r.Permissions &^ NewPermissionSet(perm)
		if grant {
			perms |= NewPermissionSet(perm)
		}
		changes = append(changes, RoleChange{ID: r.ID, Permissions: &perms})
	}
	if err := s.written(ctx, s.store.UpdateRoles(ctx, changes, s.by(p))); err != nil {
		return nil, err
	}
	out := make([]Role, len(changes))
	for i, c := range changes {
		var err error
		if out[i], err = s.store.RoleByID(ctx, c.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PermissionSource says where an account's effective permission comes from: "direct", or
// the role, or the group and its role.
type PermissionSource struct {
	Permission Permission
	Direct     bool
	Role       string // the role's name, when through a role
	Group      string // the group's name, when through a group's role
}

// PermissionSources explains an account's effective permissions, one entry for each way it
// holds each, in permission order: for the console's account pages. Errors: EForbidden.
func (s *Service) PermissionSources(ctx context.Context, p Principal, a Account) ([]PermissionSource, error) {
	if err := RequireAccounts(p); err != nil && a.ID != p.AccountID {
		return nil, err
	}
	roles := map[string]Role{}
	role := func(id string) (Role, error) {
		if r, ok := roles[id]; ok {
			return r, nil
		}
		r, err := s.store.RoleByID(ctx, id)
		roles[id] = r
		return r, err
	}
	type via struct{ role, group string }
	from := map[Permission][]via{}
	add := func(perms PermissionSet, v via) {
		for _, perm := range perms.List() {
			if a.Kind == ServiceAccount && perm == TokenManagement {
				continue
			}
			from[perm] = append(from[perm], v)
		}
	}
	add(a.Permissions, via{})
	for _, id := range a.Roles {
		r, err := role(id)
		if err != nil {
			return nil, err
		}
		add(r.Permissions, via{role: r.Name})
	}
	for _, id := range a.Groups {
		g, err := s.store.GroupByID(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, rid := range g.Roles {
			r, err := role(rid)
			if err != nil {
				return nil, err
			}
			add(r.Permissions, via{role: r.Name, group: g.Name})
		}
	}
	var out []PermissionSource
	for _, perm := range AllPermissions {
		for _, v := range from[perm] {
			out = append(out, PermissionSource{Permission: perm, Direct: v.role == "", Role: v.role, Group: v.group})
		}
	}
	return out, nil
}

// checkNamed checks the name and description of a role or group write (kind names it in
// messages) and returns the name normalized, nil when absent; required: a create, which
// needs a name.
func checkNamed(kind string, name, description *string, required bool) (*string, error) {
	var normalized *string
	switch {
	case name != nil:
		n, err := checkName(kind, *name)
		if err != nil {
			return nil, err
		}
		normalized = &n
	case required:
		return nil, Errorf(EInvalid, "a %s needs a name", kind)
	}
	return normalized, checkDescription(description)
}
