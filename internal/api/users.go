package api

import (
	"net/http"
	"net/url"

	"github.com/tokenward/tokenward"
)

// userModel is the UserModel (and UserDTO) object of the reference §6. identifier,
// customer, groups and userGroups are never null: the Python client rejects a null one.
type userModel struct {
	Identifier          string                 `json:"identifier"`
	Customer            string                 `json:"customer"`
	Groups              []tokenward.Permission `json:"groups"`
	UserGroups          []userGroupJSON        `json:"userGroups"`
	Roles               []roleDTO              `json:"roles"`
	LastSuccessfulLogin *int64                 `json:"lastSuccessfulLogin"`
	SSOID               *string                `json:"ssoId"` // always null: tokenward has no single sign-on
}

func (x *expander) userModel(a tokenward.Account) (userModel, error) {
	roles, err := x.rolesByID(a.Roles, 1)
	if err != nil {
		return userModel{}, err
	}
	groups, err := x.groupsByID(a.Groups, 1)
	if err != nil {
		return userModel{}, err
	}
	return userModel{Identifier: a.Identifier, Customer: x.org, Groups: a.Permissions.List(), UserGroups: groups, Roles: roles,
		LastSuccessfulLogin: optionalMillis(a.LastLogin)}, nil
}

// writeUserModel answers a as a bare UserModel: no response container (reference §6).
func (s *Server) writeUserModel(w http.ResponseWriter, r *http.Request, p tokenward.Principal, a tokenward.Account) error {
	u, err := s.expander(r, p).userModel(a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// customerFacingUser is the CustomerFacingUserObject of user search results (reference
// §6): groups and roles by id, permissions united.
type customerFacingUser struct {
	ID                  string                 `json:"id"`
	Identifier          string                 `json:"identifier"`
	EscapedIdentifier   string                 `json:"escapedIdentifier"`
	Customer            string                 `json:"customer"`
	Groups              []tokenward.Permission `json:"groups"`
	UserGroups          []string               `json:"userGroups"`
	UnitedPermissions   []tokenward.Permission `json:"unitedPermissions"`
	UnitedRoles         []string               `json:"unitedRoles"`
	LastSuccessfulLogin *int64                 `json:"lastSuccessfulLogin"`
	Self                bool                   `json:"self"`
}

func (x *expander) customerFacingUser(a tokenward.Account) (customerFacingUser, error) {
	roles, err := x.unitedRoles(a)
	if err != nil {
		return customerFacingUser{}, err
	}
	return customerFacingUser{ID: a.Identifier, Identifier: a.Identifier, EscapedIdentifier: url.PathEscape(a.Identifier),
		Customer: x.org, Groups: a.Permissions.List(), UserGroups: append([]string{}, a.Groups...),
		UnitedPermissions: a.Effective.List(), UnitedRoles: roles, LastSuccessfulLogin: optionalMillis(a.LastLogin),
		Self: a.ID == x.p.AccountID}, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	users, err := s.userModels(r, p)
	if err != nil {
		return err
	}
	writeOK(w, users)
	return nil
}

// userModels returns every user account as a UserModel.
func (s *Server) userModels(r *http.Request, p tokenward.Principal) ([]userModel, error) {
	users, err := s.service.AllAccounts(r.Context(), p, tokenward.UserAccount)
	if err != nil {
		return nil, err
	}
	return convertAll(users, s.expander(r, p).userModel)
}

// userToCreate is the body of user creation and each element of an invitation.
type userToCreate struct {
	EmailAddress string   `json:"emailAddress"`
	Groups       []string `json:"groups"`
	UserGroups   *idList  `json:"userGroups"`
	Roles        *idList  `json:"roles"`
}

func (u userToCreate) toNewUser() (tokenward.NewUser, error) {
	perms, err := parsePermissions(u.Groups)
	if err != nil {
		return tokenward.NewUser{}, err
	}
	nu := tokenward.NewUser{Email: u.EmailAddress, Permissions: perms}
	if u.UserGroups != nil {
		nu.Groups = *u.UserGroups
	}
	if u.Roles != nil {
		nu.Roles = *u.Roles
	}
	return nu, nil
}

// createUsers creates the users a body lists, all or none, and returns them.
func (s *Server) createUsers(w http.ResponseWriter, r *http.Request, p tokenward.Principal, invite bool) ([]tokenward.Account, error) {
	var body []userToCreate
	if invite {
		if err := decodeBody(w, r, &body, false); err != nil {
			return nil, err
		}
	} else {
		body = make([]userToCreate, 1)
		if err := decodeBody(w, r, &body[0], false); err != nil {
			return nil, err
		}
	}
	users := make([]tokenward.NewUser, len(body))
	for i, u := range body {
		var err error
		if users[i], err = u.toNewUser(); err != nil {
			return nil, err
		}
	}
	return s.service.CreateUsers(r.Context(), p, users)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	users, err := s.createUsers(w, r, p, false)
	if err != nil {
		return err
	}
	return s.writeUserModel(w, r, p, users[0])
}

// inviteUsers creates every user listed and answers the first one.
func (s *Server) inviteUsers(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	users, err := s.createUsers(w, r, p, true)
	if err != nil {
		return err
	}
	return s.writeUserModel(w, r, p, users[0])
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	a, err := s.service.AccountFor(r.Context(), p, r.PathValue("id"), tokenward.UserAccount)
	if err != nil {
		return err
	}
	return s.writeUserModel(w, r, p, a)
}

// userWrite is the body of a user update. An absent (or null) key leaves that field as it
// is; a present [] clears it.
type userWrite struct {
	Identifier string    `json:"identifier"`
	Groups     *[]string `json:"groups"`
	UserGroups *idList   `json:"userGroups"`
	Roles      *idList   `json:"roles"`
	Credential *string   `json:"credential"` // a new password
}

// updateUserFromBody applies a userWrite body to the user in the path.
func (s *Server) updateUserFromBody(w http.ResponseWriter, r *http.Request, p tokenward.Principal) (tokenward.Account, error) {
	var body userWrite
	if err := decodeBody(w, r, &body, false); err != nil {
		return tokenward.Account{}, err
	}
	id := r.PathValue("id")
	if body.Identifier != "" && normalizedOr(body.Identifier) != normalizedOr(id) {
		return tokenward.Account{}, tokenward.Errorf(tokenward.EInvalid, "identifier in the body does not match the path; accounts cannot be renamed")
	}
	write := tokenward.UserWrite{Roles: body.Roles.ids(), Groups: body.UserGroups.ids(), Password: body.Credential}
	if body.Groups != nil {
		set, err := parsePermissions(*body.Groups)
		if err != nil {
			return tokenward.Account{}, err
		}
		write.Permissions = &set
	}
	return s.service.UpdateUser(r.Context(), p, id, write)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	a, err := s.updateUserFromBody(w, r, p)
	if err != nil {
		return err
	}
	return s.writeUserModel(w, r, p, a)
}

func normalizedOr(id string) string {
	if n, err := tokenward.NormalizeAccountID(id); err == nil {
		return n
	}
	return id
}

func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var req tokenward.SearchRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	page, err := s.service.SearchAccounts(r.Context(), p, tokenward.UserAccount, req)
	if err != nil {
		return err
	}
	out, err := pagedOf(page, s.expander(r, p).customerFacingUser)
	if err != nil {
		return err
	}
	writeOK(w, out)
	return nil
}
