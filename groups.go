package tokenward

import (
	"context"
	"strings"
	"time"
)

// User groups (reference §11): a group gives its members the roles linked to it. The
// Everyone group holds every user account, implicitly, and cannot be deleted.

// UserGroup is a group of accounts whose roles its members hold. The Everyone group holds
// every user account implicitly: its membership is not stored and cannot be edited, and it
// cannot be renamed or deleted; its roles can be edited.
type UserGroup struct {
	ID          string // a UUID
	Name        string // unique
	Description string
	Everyone    bool
	Roles       []string // ids of its roles, sorted
	Users       []string // identifiers of its members, sorted; for Everyone every user account
	UserCount   int      // len(Users)
	Created     time.Time
}

// EveryoneGroupName is the name of the built-in group of all user accounts.
const EveryoneGroupName = "Everyone"

// GroupChange is one change to a user group; nil fields and empty lists change nothing.
type GroupChange struct {
	ID                        string
	Name, Description         *string
	Roles                     *[]string // replaces the set
	AddRoles, RemoveRoles     []string
	AddMembers, RemoveMembers []int64
}

// GroupSearch is what user-group searches accept (reference §11).
var GroupSearch = SearchSpec{
	Keys: map[string]FieldKind{
		"id": TextField, "name": TextField, "description": TextField, "permissions": TextField, "freetext": TextField,
	},
	SortFields:  []string{"id", "name", "description", "createdEpochMillis"},
	DefaultSort: SearchSort{Field: "name", Ascending: true},
}

// GroupWrite is a create or update of a user group; nil fields are absent.
type GroupWrite struct {
	Name, Description *string
	Roles             *[]string // role ids; replaces the set
}

// groupOf returns a group by id with a message that names it; ENotFound.
func (s *Service) groupOf(ctx context.Context, id string) (UserGroup, error) {
	g, err := s.store.GroupByID(ctx, strings.TrimSpace(id))
	if ErrorCode(err) == ENotFound {
		return UserGroup{}, Errorf(ENotFound, "user group %s does not exist", truncate(id, 64))
	}
	return g, err
}

// roleIDs checks that every id names a role, once. Errors: ENotFound naming the first
// unknown one, EInvalid for one named twice.
func (s *Service) roleIDs(ctx context.Context, ids []string) ([]string, error) {
	return distinctIDs(ctx, ids, s.roleOf, func(r Role) (string, string, bool) { return r.ID, "role " + r.Name, true })
}

// CreateGroup creates a user group with the given roles. Errors: EForbidden, EInvalid,
// ENotFound (a role), EConflict (name taken).
func (s *Service) CreateGroup(ctx context.Context, p Principal, w GroupWrite) (UserGroup, error) {
	if err := RequireAccounts(p); err != nil {
		return UserGroup{}, err
	}
	name, err := checkNamed("user group", w.Name, w.Description, true)
	if err != nil {
		return UserGroup{}, err
	}
	by := s.by(p)
	g := UserGroup{ID: newUUID(), Name: *name, Created: by.At, Roles: []string{}}
	if w.Description != nil {
		g.Description = *w.Description
	}
	if w.Roles != nil {
		if g.Roles, err = s.roleIDs(ctx, *w.Roles); err != nil {
			return UserGroup{}, err
		}
	}
	if err := s.written(ctx, s.store.CreateGroup(ctx, g, by)); err != nil {
		return UserGroup{}, err
	}
	return s.store.GroupByID(ctx, g.ID)
}

// Group returns a user group. Errors: EForbidden, ENotFound.
func (s *Service) Group(ctx context.Context, p Principal, id string) (UserGroup, error) {
	if err := RequireAccounts(p); err != nil {
		return UserGroup{}, err
	}
	return s.groupOf(ctx, id)
}

// SearchGroups returns a page of user groups. Errors: EForbidden, EInvalid.
func (s *Service) SearchGroups(ctx context.Context, p Principal, req SearchRequest) (Page[UserGroup], error) {
	return search(ctx, p, req, GroupSearch, s.store.SearchGroups)
}

// UpdateGroup changes a group's name, description or roles. The Everyone group keeps its
// name. Errors: EForbidden, ENotFound, EInvalid, EConflict.
func (s *Service) UpdateGroup(ctx context.Context, p Principal, id string, w GroupWrite) (UserGroup, error) {
	if err := RequireAccounts(p); err != nil {
		return UserGroup{}, err
	}
	g, err := s.groupOf(ctx, id)
	if err != nil {
		return UserGroup{}, err
	}
	c := GroupChange{ID: g.ID, Description: w.Description}
	if c.Name, err = checkNamed("user group", w.Name, w.Description, false); err != nil {
		return UserGroup{}, err
	}
	if c.Name != nil && g.Everyone && *c.Name != g.Name {
		return UserGroup{}, Errorf(EInvalid, "the %s group cannot be renamed", EveryoneGroupName)
	}
	if w.Roles != nil {
		roles, err := s.roleIDs(ctx, *w.Roles)
		if err != nil {
			return UserGroup{}, err
		}
		c.Roles = &roles
	}
	return s.changeGroup(ctx, p, c)
}

func (s *Service) changeGroup(ctx context.Context, p Principal, c GroupChange) (UserGroup, error) {
	if err := s.written(ctx, s.store.UpdateGroup(ctx, c, s.by(p))); err != nil {
		return UserGroup{}, err
	}
	return s.store.GroupByID(ctx, c.ID)
}

// ChangeGroupRoles adds roles to (or removes them from) a group. Errors: EForbidden,
// ENotFound, EInvalid.
func (s *Service) ChangeGroupRoles(ctx context.Context, p Principal, id string, add bool, roleIDs []string) (UserGroup, error) {
	if err := RequireAccounts(p); err != nil {
		return UserGroup{}, err
	}
	g, err := s.groupOf(ctx, id)
	if err != nil {
		return UserGroup{}, err
	}
	roles, err := s.roleIDs(ctx, roleIDs)
	if err != nil {
		return UserGroup{}, err
	}
	c := GroupChange{ID: g.ID}
	if add {
		c.AddRoles = roles
	} else {
		c.RemoveRoles = roles
	}
	return s.changeGroup(ctx, p, c)
}

// ChangeGroupMembers adds accounts to (or removes them from) a group. The Everyone group's
// membership is implicit: EInvalid. Errors: EForbidden, ENotFound, EInvalid.
func (s *Service) ChangeGroupMembers(ctx context.Context, p Principal, id string, add bool, accounts []string) (UserGroup, error) {
	g, err := s.ordinaryGroup(ctx, p, id, "holds every user account; its members cannot be changed")
	if err != nil {
		return UserGroup{}, err
	}
	c := GroupChange{ID: g.ID}
	seen := distinct[int64]{}
	for _, name := range accounts {
		a, err := s.accountOf(ctx, name, "")
		if err != nil {
			return UserGroup{}, err
		}
		if err := seen.add(a.ID, "account "+a.Identifier); err != nil {
			return UserGroup{}, err
		}
		if add {
			c.AddMembers = append(c.AddMembers, a.ID)
		} else {
			c.RemoveMembers = append(c.RemoveMembers, a.ID)
		}
	}
	return s.changeGroup(ctx, p, c)
}

// DeleteGroup deletes a user group; its members lose the permissions its roles gave them.
// It returns the group as it was. The Everyone group cannot be deleted. Errors: EForbidden,
// ENotFound, EInvalid.
func (s *Service) DeleteGroup(ctx context.Context, p Principal, id string) (UserGroup, error) {
	g, err := s.ordinaryGroup(ctx, p, id, "cannot be deleted")
	if err != nil {
		return UserGroup{}, err
	}
	return g, s.written(ctx, s.store.DeleteGroup(ctx, g.ID, s.by(p)))
}

// ordinaryGroup returns the group id names for an administrator's change that the
// Everyone group refuses (why says why: EInvalid "the Everyone group <why>"). Errors:
// EForbidden, ENotFound, EInvalid.
func (s *Service) ordinaryGroup(ctx context.Context, p Principal, id, why string) (UserGroup, error) {
	if err := RequireAccounts(p); err != nil {
		return UserGroup{}, err
	}
	g, err := s.groupOf(ctx, id)
	if err != nil {
		return UserGroup{}, err
	}
	if g.Everyone {
		return UserGroup{}, Errorf(EInvalid, "the %s group %s", EveryoneGroupName, why)
	}
	return g, nil
}

// groupIDs checks that every id names a group other than Everyone (whose membership is
// implicit, so naming it changes nothing), once. Errors: ENotFound, EInvalid for a repeat.
func (s *Service) groupIDs(ctx context.Context, ids []string) ([]string, error) {
	return distinctIDs(ctx, ids, s.groupOf, func(g UserGroup) (string, string, bool) {
		return g.ID, "user group " + g.Name, !g.Everyone
	})
}
