package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// accountJSON is the Account object of the reference §6.
type accountJSON struct {
	Identifier        string                 `json:"identifier"`
	Groups            []tokenward.Permission `json:"groups"`
	Roles             []roleDTO              `json:"roles"`
	UserGroups        []userGroupJSON        `json:"userGroups"`
	UnitedPermissions []tokenward.Permission `json:"unitedPermissions"`
}

func (x *expander) account(a tokenward.Account) (accountJSON, error) {
	roles, err := x.rolesByID(a.Roles, 1)
	if err != nil {
		return accountJSON{}, err
	}
	groups, err := x.groupsByID(a.Groups, 1)
	if err != nil {
		return accountJSON{}, err
	}
	return accountJSON{Identifier: a.Identifier, Groups: a.Permissions.List(), Roles: roles, UserGroups: groups,
		UnitedPermissions: a.Effective.List()}, nil
}

// paged is the paged payload of the reference §1.
type paged[T any] struct {
	Items      []T                  `json:"items"`
	Offset     int                  `json:"offset"`
	Limit      int                  `json:"limit"`
	TotalItems int                  `json:"totalItems"`
	MoreItems  bool                 `json:"moreItems"`
	Sort       tokenward.SearchSort `json:"sort"`
	// Cursor continues after this page when sent back in the search request (token search;
	// reference §1); PreviousCursor is ours, for the page before.
	// TotalItemsEstimate (ours) estimates the matches when totalItems is a lower bound.
	TotalItemsEstimate int    `json:"totalItemsEstimate,omitempty"`
	Cursor             string `json:"cursor,omitempty"`
	PreviousCursor     string `json:"previousCursor,omitempty"`
}

func toPaged[A, T any](p tokenward.Page[A], convert func(A) T) paged[T] {
	items := make([]T, len(p.Items))
	for i, a := range p.Items {
		items[i] = convert(a)
	}
	return paged[T]{Items: items, Offset: p.Offset, Limit: p.Limit, TotalItems: p.Total, MoreItems: p.More(), Sort: p.Sort,
		Cursor: p.Next, PreviousCursor: p.Previous, TotalItemsEstimate: p.Estimate}
}

// pagedOf is toPaged for conversions that read more and so can fail.
func pagedOf[A, T any](p tokenward.Page[A], convert func(A) (T, error)) (paged[T], error) {
	items, err := convertAll(p.Items, convert)
	if err != nil {
		return paged[T]{}, err
	}
	return paged[T]{Items: items, Offset: p.Offset, Limit: p.Limit, TotalItems: p.Total, MoreItems: p.More(), Sort: p.Sort,
		Cursor: p.Next, PreviousCursor: p.Previous, TotalItemsEstimate: p.Estimate}, nil
}

// convertAll converts every element of as, stopping at the first error; never nil.
func convertAll[A, T any](as []A, convert func(A) (T, error)) ([]T, error) {
	out := make([]T, len(as))
	for i, a := range as {
		var err error
		if out[i], err = convert(a); err != nil {
			return nil, err
		}
	}
	return out, nil
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

// idList is a list of role or group ids. Clients send ids, or the objects they read back
// (the Go client echoes a user's groups; Terraform sends roles as objects), so an element
// may be a string or an object with an "id". A JSON null in a pointer field stays nil:
// "unchanged".
type idList []string

func (l *idList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return tokenward.Errorf(tokenward.EInvalid, "a list of ids must be a JSON array of strings or of objects with an id")
	}
	ids := make(idList, 0, len(raw))
	for _, e := range raw {
		var id string
		if json.Unmarshal(e, &id) != nil {
			var obj struct {
				ID *string `json:"id"`
			}
			if json.Unmarshal(e, &obj) != nil || obj.ID == nil {
				return tokenward.Errorf(tokenward.EInvalid, "each element of a list of ids must be a string or an object with an id")
			}
			id = *obj.ID
		}
		ids = append(ids, id)
	}
	*l = ids
	return nil
}

// ids returns the ids of a present list, nil for an absent one.
func (l *idList) ids() *[]string {
	if l == nil {
		return nil
	}
	ids := []string(*l)
	return &ids
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

// byAction serves a pattern whose {action} segment names the operation. Literal patterns
// for each would conflict in ServeMux with their siblings: POST /api/v2/account/{id}/addRoles
// and POST /api/v2/account/grant/{permission} both match /api/v2/account/grant/addRoles,
// and neither is more specific; a pattern ending in {action} is less specific than both.
// Another action is answered as no route would be (404, or 405 naming the methods the
// path has).
func (s *Server) byAction(actions map[string]edge.Handler) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		h, ok := actions[r.PathValue("action")]
		if !ok {
			s.noRoute(w, r)
			return nil
		}
		return h(w, r, p)
	}
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	req, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.service.SearchAccounts(r.Context(), p, "", req)
	if err != nil {
		return err
	}
	out, err := pagedOf(page, s.expander(r, p).account)
	if err != nil {
		return err
	}
	writeOK(w, out)
	return nil
}

func (s *Server) writeAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal, a tokenward.Account) error {
	out, err := s.expander(r, p).account(a)
	if err != nil {
		return err
	}
	writeOK(w, out)
	return nil
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	a, err := s.service.AccountFor(r.Context(), p, r.PathValue("id"), "")
	if err != nil {
		return err
	}
	return s.writeAccount(w, r, p, a)
}

func (s *Server) deleteAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	deleted, err := s.service.DeleteAccounts(r.Context(), p, []string{r.PathValue("id")}, false)
	if err != nil {
		return err
	}
	return s.writeAccount(w, r, p, deleted[0])
}

func (s *Server) deleteAccounts(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var ids []string
	if err := decodeBody(w, r, &ids, false); err != nil {
		return err
	}
	deleted, err := s.service.DeleteAccounts(r.Context(), p, ids, true)
	if err != nil {
		return err
	}
	writeOK(w, identifiers(deleted))
	return nil
}

// identifiers returns the accounts' identifiers; never nil.
func identifiers(as []tokenward.Account) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Identifier
	}
	return out
}

// changePermission serves grant and revoke of one permission, on the account in the path
// or on the accounts listed in the body, answering the first account as a bare UserModel.
func (s *Server) changePermission(grant bool) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
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
		return s.writeUserModel(w, r, p, accounts[0])
	}
}

// changeAccountRoles serves POST /api/v2/account/{id}/addRoles and removeRoles.
func (s *Server) changeAccountRoles(add bool) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		ids, err := idsBody(w, r, p)
		if err != nil {
			return err
		}
		a, err := s.service.ChangeAccountRoles(r.Context(), p, r.PathValue("id"), add, ids)
		if err != nil {
			return err
		}
		return s.writeUserModel(w, r, p, a)
	}
}

// changeAccountGroups serves addUserGroups and removeUserGroups, under /api/v2/account
// and /api/v2/user alike.
func (s *Server) changeAccountGroups(add bool) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		ids, err := idsBody(w, r, p)
		if err != nil {
			return err
		}
		a, err := s.service.ChangeAccountGroups(r.Context(), p, r.PathValue("id"), add, ids)
		if err != nil {
			return err
		}
		return s.writeUserModel(w, r, p, a)
	}
}

// idsBody reads a body that is a list of ids, after checking that p may manage accounts
// (so that a caller without the permission learns nothing from validation).
func idsBody(w http.ResponseWriter, r *http.Request, p tokenward.Principal) ([]string, error) {
	var ids idList
	if err := decodeBody(w, r, &ids, false); err != nil {
		return nil, err
	}
	return ids, nil
}

// validatedUsers is the payload of validateAccounts and validateUsers.
type validatedUsers struct {
	ValidUsers         []userModel `json:"validUsers"`
	InvalidIdentifiers []string    `json:"invalidIdentifiers"`
}

// validateAccounts serves validateAccounts (accounts of any kind) and validateUsers.
func (s *Server) validateAccounts(kind tokenward.AccountKind) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		var ids []string
		if err := decodeBody(w, r, &ids, false); err != nil {
			return err
		}
		valid, invalid, err := s.service.ValidateAccounts(r.Context(), p, ids, kind)
		if err != nil {
			return err
		}
		users, err := convertAll(valid, s.expander(r, p).userModel)
		if err != nil {
			return err
		}
		writeOK(w, validatedUsers{ValidUsers: users, InvalidIdentifiers: invalid})
		return nil
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
