package api

import (
	"net/http"
	"strconv"

	"github.com/tokenward/tokenward"
)

// none encodes as [], for the userGroups and roles tokenward does not model.
var none = []struct{}{}

// accountJSON is the Account object of the reference §6.
type accountJSON struct {
	Identifier        string                 `json:"identifier"`
	Groups            []tokenward.Permission `json:"groups"`
	Roles             []struct{}             `json:"roles"`
	UserGroups        []struct{}             `json:"userGroups"`
	UnitedPermissions []tokenward.Permission `json:"unitedPermissions"`
}

func toAccount(a tokenward.Account) accountJSON {
	perms := a.Permissions.List()
	return accountJSON{Identifier: a.Identifier, Groups: perms, Roles: none, UserGroups: none, UnitedPermissions: perms}
}

// userModel is the UserModel (and UserDTO) object of the reference §6.
type userModel struct {
	Identifier          string                 `json:"identifier"`
	Customer            string                 `json:"customer"`
	Groups              []tokenward.Permission `json:"groups"`
	UserGroups          []struct{}             `json:"userGroups"`
	Roles               []struct{}             `json:"roles"`
	LastSuccessfulLogin *int64                 `json:"lastSuccessfulLogin"`
}

func (s *Server) toUserModel(a tokenward.Account) userModel {
	return userModel{Identifier: a.Identifier, Customer: s.org, Groups: a.Permissions.List(), UserGroups: none, Roles: none,
		LastSuccessfulLogin: optionalMillis(a.LastLogin)}
}

func (s *Server) toUserModels(as []tokenward.Account) []userModel {
	out := make([]userModel, len(as))
	for i, a := range as {
		out[i] = s.toUserModel(a)
	}
	return out
}

// paged is the paged payload of the reference §1.
type paged[T any] struct {
	Items      []T                  `json:"items"`
	Offset     int                  `json:"offset"`
	Limit      int                  `json:"limit"`
	TotalItems int                  `json:"totalItems"`
	MoreItems  bool                 `json:"moreItems"`
	Sort       tokenward.SearchSort `json:"sort"`
}

func toPaged[A, T any](p tokenward.Page[A], convert func(A) T) paged[T] {
	items := make([]T, len(p.Items))
	for i, a := range p.Items {
		items[i] = convert(a)
	}
	return paged[T]{Items: items, Offset: p.Offset, Limit: p.Limit, TotalItems: p.Total, MoreItems: p.More(), Sort: p.Sort}
}

// parsePermissions reads a list of permission identifiers; an unknown one is EInvalid.
func parsePermissions(names []string) (tokenward.PermissionSet, error) {
	var set tokenward.PermissionSet
	for _, n := range names {
		p, err := tokenward.ParsePermission(n)
		if err != nil {
			return 0, err
		}
		set |= tokenward.NewPermissionSet(p)
	}
	return set, nil
}

// pageQuery reads ?offset=&limit= into a search request.
func pageQuery(r *http.Request) (tokenward.SearchRequest, error) {
	var req tokenward.SearchRequest
	for name, dst := range map[string]*int{"offset": &req.Offset, "limit": &req.Limit} {
		if v := r.URL.Query().Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return req, tokenward.Errorf(tokenward.EInvalid, "%s must be a whole number", name)
			}
			*dst = n
		}
	}
	return req, nil
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := tokenward.RequireAccounts(p); err != nil {
		return err
	}
	req, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.service.SearchAccounts(r.Context(), p, "", req)
	if err != nil {
		return err
	}
	writeOK(w, toPaged(page, toAccount))
	return nil
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	a, err := s.service.AccountFor(r.Context(), p, r.PathValue("id"), "")
	if err != nil {
		return err
	}
	writeOK(w, toAccount(a))
	return nil
}

func (s *Server) deleteAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	deleted, err := s.service.DeleteAccounts(r.Context(), p, []string{r.PathValue("id")}, false)
	if err != nil {
		return err
	}
	writeOK(w, toAccount(deleted[0]))
	return nil
}

func (s *Server) deleteAccounts(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := tokenward.RequireAccounts(p); err != nil {
		return err
	}
	var ids []string
	if err := decodeBody(w, r, &ids, false); err != nil {
		return err
	}
	deleted, err := s.service.DeleteAccounts(r.Context(), p, ids, true)
	if err != nil {
		return err
	}
	out := make([]string, len(deleted))
	for i, a := range deleted {
		out[i] = a.Identifier
	}
	writeOK(w, out)
	return nil
}

// changePermission serves grant and revoke of one permission, on the account in the path
// or on the accounts listed in the body.
func (s *Server) changePermission(grant bool) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		if err := tokenward.RequireAccounts(p); err != nil {
			return err
		}
		perm, err := tokenward.ParsePermission(r.PathValue("permission"))
		if err != nil {
			return err
		}
		ids := []string{r.PathValue("id")}
		if ids[0] == "" {
			if err := decodeBody(w, r, &ids, false); err != nil {
				return err
			}
		}
		accounts, err := s.service.ChangePermission(r.Context(), p, perm, grant, ids)
		if err != nil {
			return err
		}
		writeOK(w, s.toUserModel(accounts[0]))
		return nil
	}
}

// changeAccountPermission serves POST /api/v2/account/{id}/{grant|revoke}/{permission}.
func (s *Server) changeAccountPermission(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	switch r.PathValue("action") {
	case "grant":
		return s.changePermission(true)(w, r, p)
	case "revoke":
		return s.changePermission(false)(w, r, p)
	default:
		return tokenward.Errorf(tokenward.ENotFound, "no such API endpoint")
	}
}

func (s *Server) listAdministrators(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	ids, err := s.service.Administrators(r.Context(), p)
	if err != nil {
		return err
	}
	writeOK(w, ids)
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	users, err := s.service.AllAccounts(r.Context(), p, tokenward.UserAccount)
	if err != nil {
		return err
	}
	writeOK(w, s.toUserModels(users))
	return nil
}

// userToCreate is the body of user creation and each element of an invitation.
type userToCreate struct {
	EmailAddress string   `json:"emailAddress"`
	Groups       []string `json:"groups"`
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := tokenward.RequireAccounts(p); err != nil {
		return err
	}
	var body userToCreate
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	users, err := s.createUsers(r, p, []userToCreate{body})
	if err != nil {
		return err
	}
	writeOK(w, s.toUserModel(users[0]))
	return nil
}

func (s *Server) inviteUsers(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := tokenward.RequireAccounts(p); err != nil {
		return err
	}
	var body []userToCreate
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	if len(body) == 0 {
		return tokenward.Errorf(tokenward.EInvalid, "invite at least one user")
	}
	users, err := s.createUsers(r, p, body)
	if err != nil {
		return err
	}
	writeOK(w, s.toUserModel(users[0]))
	return nil
}

// createUsers checks every entry, and that none exists yet, before creating any, so that a
// bad entry creates nothing (short of a concurrent creation of the same email).
func (s *Server) createUsers(r *http.Request, p tokenward.Principal, users []userToCreate) ([]tokenward.Account, error) {
	perms := make([]tokenward.PermissionSet, len(users))
	for i, u := range users {
		var err error
		if perms[i], err = parsePermissions(u.Groups); err != nil {
			return nil, err
		}
		email, err := tokenward.NormalizeEmail(u.EmailAddress)
		if err != nil {
			return nil, err
		}
		if _, err := s.service.AccountFor(r.Context(), p, email, ""); err == nil {
			return nil, tokenward.Errorf(tokenward.EConflict, "account %s already exists", email)
		} else if tokenward.ErrorCode(err) != tokenward.ENotFound {
			return nil, err
		}
	}
	created := make([]tokenward.Account, len(users))
	for i, u := range users {
		var err error
		if created[i], err = s.service.CreateUserAs(r.Context(), p, u.EmailAddress, perms[i]); err != nil {
			return nil, err
		}
	}
	return created, nil
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	a, err := s.service.AccountFor(r.Context(), p, r.PathValue("id"), tokenward.UserAccount)
	if err != nil {
		return err
	}
	writeOK(w, s.toUserModel(a))
	return nil
}

// userWrite is the body of a user update. A missing groups key leaves the permissions.
type userWrite struct {
	Identifier string    `json:"identifier"`
	Groups     *[]string `json:"groups"`
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := tokenward.RequireAccounts(p); err != nil {
		return err
	}
	var body userWrite
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	id := r.PathValue("id")
	if body.Identifier != "" {
		if a, b := normalizedOr(body.Identifier), normalizedOr(id); a != b {
			return tokenward.Errorf(tokenward.EInvalid, "identifier in the body does not match the path; accounts cannot be renamed")
		}
	}
	var perms *tokenward.PermissionSet
	if body.Groups != nil {
		set, err := parsePermissions(*body.Groups)
		if err != nil {
			return err
		}
		perms = &set
	}
	a, err := s.service.UpdateUser(r.Context(), p, id, perms)
	if err != nil {
		return err
	}
	writeOK(w, s.toUserModel(a))
	return nil
}

func normalizedOr(id string) string {
	if n, err := tokenward.NormalizeAccountID(id); err == nil {
		return n
	}
	return id
}

func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := tokenward.RequireAccounts(p); err != nil {
		return err
	}
	var req tokenward.SearchRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	page, err := s.service.SearchAccounts(r.Context(), p, tokenward.UserAccount, req)
	if err != nil {
		return err
	}
	writeOK(w, toPaged(page, s.toUserModel))
	return nil
}
