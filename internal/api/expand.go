package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/tokenward/tokenward"
)

// sampleSize bounds what an object lists as a sample: a role's linked accounts and groups
// (reference §11), and the members of a group shown inside another object (its userCount
// says how many there are; the Everyone group inside every user would otherwise make a
// list of n users n² long).
const sampleSize = 10

// maxNesting is how deep objects nest in an answer. Roles list groups and groups list
// roles, so an object this deep lists no further objects; its counts still hold.
const maxNesting = 2

// roleDTO is the RoleDTO object of the reference §11.
type roleDTO struct {
	ID                   string                 `json:"id"`
	Name                 string                 `json:"name"`
	Description          string                 `json:"description"`
	Permissions          []tokenward.Permission `json:"permissions"`
	Customer             string                 `json:"customer"`
	CreatedEpochMillis   int64                  `json:"createdEpochMillis"`
	LastUpdatedMs        int64                  `json:"lastUpdatedMs"`
	LastUpdatedAccountID string                 `json:"lastUpdatedAccountId"`
	LinkedAccountsCount  int                    `json:"linkedAccountsCount"`
	LinkedGroupsCount    int                    `json:"linkedGroupsCount"`
	SampleLinkedAccounts []string               `json:"sampleLinkedAccounts"`
	SampleLinkedGroups   []userGroupJSON        `json:"sampleLinkedGroups"`
}

// userGroupJSON is the UserGroupModel object of the reference §11, and the UserGroup that
// other objects embed.
type userGroupJSON struct {
	ID                 string          `json:"id"`
	Name               string          `json:"name"`
	Description        string          `json:"description"`
	Customer           string          `json:"customer"`
	Users              []string        `json:"users"`
	UserCount          int             `json:"userCount"`
	Roles              []roleDTO       `json:"roles"`
	RoleCount          int             `json:"roleCount"`
	CreatedEpochMillis int64           `json:"createdEpochMillis"`
	Properties         groupProperties `json:"properties"`
}

// groupProperties says what of a group may be edited. permissionsEditable is not in the
// reference's list, but the Go client reads it; groups hold roles, never permissions.
type groupProperties struct {
	NameEditable        bool `json:"nameEditable"`
	RolesEditable       bool `json:"rolesEditable"`
	UsersEditable       bool `json:"usersEditable"`
	PermissionsEditable bool `json:"permissionsEditable"`
}

// expander turns the role and group ids of accounts, roles and groups into the objects an
// answer embeds, reading each role and group at most once per request.
type expander struct {
	ctx     context.Context
	service *tokenward.Service
	p       tokenward.Principal
	org     string
	roles   map[string]tokenward.Role
	groups  map[string]tokenward.UserGroup
}

func (s *Server) expander(r *http.Request, p tokenward.Principal) *expander {
	return &expander{ctx: r.Context(), service: s.service, p: p, org: s.org,
		roles: map[string]tokenward.Role{}, groups: map[string]tokenward.UserGroup{}}
}

// role returns the role id names. A caller reading its own account without the Accounts
// permission may not read roles: it gets the role with only its id. Errors: ENotFound
// when the role is gone, others from the service.
func (x *expander) role(id string) (tokenward.Role, error) {
	if r, ok := x.roles[id]; ok {
		return r, nil
	}
	r, err := x.service.Role(x.ctx, x.p, id)
	if tokenward.ErrorCode(err) == tokenward.EForbidden {
		r, err = tokenward.Role{ID: id}, nil
	}
	if err != nil {
		return r, err
	}
	x.roles[id] = r
	return r, nil
}

// group is role's twin for user groups.
func (x *expander) group(id string) (tokenward.UserGroup, error) {
	if g, ok := x.groups[id]; ok {
		return g, nil
	}
	g, err := x.service.Group(x.ctx, x.p, id)
	if tokenward.ErrorCode(err) == tokenward.EForbidden {
		g, err = tokenward.UserGroup{ID: id}, nil
	}
	if err != nil {
		return g, err
	}
	x.groups[id] = g
	return g, nil
}

// rolesByID returns the roles ids name as objects nested depth deep. A role deleted since
// the ids were read is left out.
func (x *expander) rolesByID(ids []string, depth int) ([]roleDTO, error) {
	out := make([]roleDTO, 0, len(ids))
	for _, id := range ids {
		r, err := x.role(id)
		if tokenward.ErrorCode(err) == tokenward.ENotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		dto, err := x.roleDTO(r, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, dto)
	}
	return out, nil
}

// groupsByID is rolesByID for user groups.
func (x *expander) groupsByID(ids []string, depth int) ([]userGroupJSON, error) {
	out := make([]userGroupJSON, 0, len(ids))
	for _, id := range ids {
		g, err := x.group(id)
		if tokenward.ErrorCode(err) == tokenward.ENotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		ug, err := x.userGroup(g, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, ug)
	}
	return out, nil
}

// roleDTO returns r as an object nested depth deep (0 for the answer itself).
func (x *expander) roleDTO(r tokenward.Role, depth int) (roleDTO, error) {
	out := roleDTO{ID: r.ID, Name: r.Name, Description: r.Description, Permissions: r.Permissions.List(), Customer: x.org,
		CreatedEpochMillis: millis(r.Created), LastUpdatedMs: millis(r.Updated), LastUpdatedAccountID: r.UpdatedBy,
		LinkedAccountsCount: len(r.Accounts), LinkedGroupsCount: len(r.Groups),
		SampleLinkedAccounts: sample(r.Accounts), SampleLinkedGroups: []userGroupJSON{}}
	if depth < maxNesting {
		var err error
		if out.SampleLinkedGroups, err = x.groupsByID(sample(r.Groups), depth+1); err != nil {
			return roleDTO{}, err
		}
	}
	return out, nil
}

// userGroup returns g as an object nested depth deep (0 for the answer itself, which lists
// every member; a nested group lists a sample).
func (x *expander) userGroup(g tokenward.UserGroup, depth int) (userGroupJSON, error) {
	users := append([]string{}, g.Users...)
	if depth > 0 {
		users = sample(g.Users)
	}
	out := userGroupJSON{ID: g.ID, Name: g.Name, Description: g.Description, Customer: x.org, Users: users,
		UserCount: len(g.Users), Roles: []roleDTO{}, RoleCount: len(g.Roles), CreatedEpochMillis: millis(g.Created),
		Properties: groupProperties{NameEditable: !g.Everyone, RolesEditable: true, UsersEditable: !g.Everyone}}
	if depth < maxNesting {
		var err error
		if out.Roles, err = x.rolesByID(g.Roles, depth+1); err != nil {
			return userGroupJSON{}, err
		}
	}
	return out, nil
}

// unitedRoles returns the ids of the roles a holds itself and through its groups, sorted.
func (x *expander) unitedRoles(a tokenward.Account) ([]string, error) {
	ids := append([]string{}, a.Roles...)
	for _, id := range a.Groups {
		g, err := x.group(id)
		if tokenward.ErrorCode(err) == tokenward.ENotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, g.Roles...)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// sample returns at most sampleSize of ids, never nil.
func sample(ids []string) []string {
	return append([]string{}, ids[:min(len(ids), sampleSize)]...)
}

// millis returns t in epoch milliseconds; 0 for the zero time.
func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}
