package api

import (
	"net/http"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// User groups (reference §11). Every answer is a UserGroupModel or a page of them, in a
// container.

// groupBody is the body of a group create ({"name","description","roleIDs"}) or update (a
// UserGroupModel). Roles may come as "roleIDs" or as "roles" (ids or RoleDTO objects; the
// Go client sends "Roles", which decoding matches regardless of case).
type groupBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	RoleIDs     *idList `json:"roleIDs"`
	Roles       *idList `json:"roles"`
}

// toWrite returns the body as a write. For an update (replace) the body is the whole
// group, as Wavefront's PUT is: a missing description means none. Its roles are the
// exception: null or absent leaves them, because the Go client sends "Roles": null when
// it does not manage them (roles are assigned from the role's side, addAssignees).
func (b groupBody) toWrite(replace bool) (tokenward.GroupWrite, error) {
	w := tokenward.GroupWrite{Name: b.Name, Description: b.Description, Roles: b.Roles.ids()}
	if b.RoleIDs != nil {
		w.Roles = b.RoleIDs.ids()
	}
	if replace {
		if b.Name == nil {
			return w, tokenward.Errorf(tokenward.EInvalid, "a user group needs a name")
		}
		if w.Description == nil {
			w.Description = new(string)
		}
	}
	return w, nil
}

// writeGroup answers one group in a container.
func (s *Server) writeGroup(w http.ResponseWriter, r *http.Request, p tokenward.Principal, g tokenward.UserGroup) error {
	out, err := s.expander(r, p).userGroup(g, 0)
	if err != nil {
		return err
	}
	writeOK(w, out)
	return nil
}

// writeGroupPage answers a page of groups in a container.
func (s *Server) writeGroupPage(w http.ResponseWriter, r *http.Request, p tokenward.Principal, page tokenward.Page[tokenward.UserGroup]) error {
	x := s.expander(r, p)
	out, err := pagedOf(page, func(g tokenward.UserGroup) (userGroupJSON, error) { return x.userGroup(g, 0) })
	if err != nil {
		return err
	}
	writeOK(w, out)
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	req, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.service.SearchGroups(r.Context(), p, req)
	if err != nil {
		return err
	}
	return s.writeGroupPage(w, r, p, page)
}

func (s *Server) searchGroups(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var req tokenward.SearchRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	dropPagingConditions(&req)
	page, err := s.service.SearchGroups(r.Context(), p, req)
	if err != nil {
		return err
	}
	return s.writeGroupPage(w, r, p, page)
}

// groupFromBody reads a group body after checking that p may manage groups.
func groupFromBody(w http.ResponseWriter, r *http.Request, p tokenward.Principal, replace bool) (tokenward.GroupWrite, error) {
	var body groupBody
	if err := decodeBody(w, r, &body, false); err != nil {
		return tokenward.GroupWrite{}, err
	}
	return body.toWrite(replace)
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	write, err := groupFromBody(w, r, p, false)
	if err != nil {
		return err
	}
	g, err := s.service.CreateGroup(r.Context(), p, write)
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, p, g)
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	g, err := s.service.Group(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, p, g)
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	write, err := groupFromBody(w, r, p, true)
	if err != nil {
		return err
	}
	g, err := s.service.UpdateGroup(r.Context(), p, r.PathValue("id"), write)
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, p, g)
}

// deleteGroup answers the group as it was before the deletion.
func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	g, err := s.service.DeleteGroup(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, p, g)
}

// changeGroupMembers serves addUsers and removeUsers.
func (s *Server) changeGroupMembers(add bool) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		ids, err := idsBody(w, r, p)
		if err != nil {
			return err
		}
		g, err := s.service.ChangeGroupMembers(r.Context(), p, r.PathValue("id"), add, ids)
		if err != nil {
			return err
		}
		return s.writeGroup(w, r, p, g)
	}
}

// changeGroupRoles serves addRoles and removeRoles.
func (s *Server) changeGroupRoles(add bool) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		ids, err := idsBody(w, r, p)
		if err != nil {
			return err
		}
		g, err := s.service.ChangeGroupRoles(r.Context(), p, r.PathValue("id"), add, ids)
		if err != nil {
			return err
		}
		return s.writeGroup(w, r, p, g)
	}
}
