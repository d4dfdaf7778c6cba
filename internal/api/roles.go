package api

import (
	"net/http"
	"slices"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// Roles (reference §11). Every answer is a RoleDTO or a page of them, in a container.

// roleBody is the RoleDTO a create or update sends; the read-only fields (id, counts,
// samples, customer) are accepted and ignored, as clients echo what they read.
type roleBody struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description"`
	Permissions *[]string `json:"permissions"`
}

// toWrite returns the body as a write. For an update (replace) the body is the whole role,
// as Wavefront's PUT is: a missing description or permissions list means none. The Go
// client leaves out an empty description and an empty permissions list, so this is the
// only reading under which Terraform can clear them.
func (b roleBody) toWrite(replace bool) (tokenward.RoleWrite, error) {
	w := tokenward.RoleWrite{Name: b.Name, Description: b.Description}
	if replace {
		if b.Name == nil {
			return w, tokenward.Errorf(tokenward.EInvalid, "a role needs a name")
		}
		if w.Description == nil {
			w.Description = new(string)
		}
	}
	if b.Permissions != nil || replace {
		var names []string
		if b.Permissions != nil {
			names = *b.Permissions
		}
		perms, err := parsePermissions(names)
		if err != nil {
			return w, err
		}
		w.Permissions = &perms
	}
	return w, nil
}

// writeRole answers one role in a container.
func (s *Server) writeRole(w http.ResponseWriter, r *http.Request, p tokenward.Principal, role tokenward.Role) error {
	dto, err := s.expander(r, p).roleDTO(role, 0)
	if err != nil {
		return err
	}
	writeOK(w, dto)
	return nil
}

// writeRolePage answers a page of roles in a container.
func (s *Server) writeRolePage(w http.ResponseWriter, r *http.Request, p tokenward.Principal, page tokenward.Page[tokenward.Role]) error {
	x := s.expander(r, p)
	out, err := pagedOf(page, func(role tokenward.Role) (roleDTO, error) { return x.roleDTO(role, 0) })
	if err != nil {
		return err
	}
	writeOK(w, out)
	return nil
}

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	req, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.service.SearchRoles(r.Context(), p, req)
	if err != nil {
		return err
	}
	return s.writeRolePage(w, r, p, page)
}

func (s *Server) searchRoles(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var req tokenward.SearchRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	dropPagingConditions(&req)
	page, err := s.service.SearchRoles(r.Context(), p, req)
	if err != nil {
		return err
	}
	return s.writeRolePage(w, r, p, page)
}

// dropPagingConditions removes the conditions keyed "limit" or "offset". Terraform's
// wavefront_roles and wavefront_user_groups data sources send their paging as search
// conditions, with values such as string(rune(100)); they filter nothing.
func dropPagingConditions(req *tokenward.SearchRequest) {
	req.Query = slices.DeleteFunc(req.Query, func(c tokenward.SearchCondition) bool {
		return c.Key == "limit" || c.Key == "offset"
	})
}

// roleFromBody reads a role body after checking that p may manage roles.
func roleFromBody(w http.ResponseWriter, r *http.Request, p tokenward.Principal, replace bool) (tokenward.RoleWrite, error) {
	var body roleBody
	if err := decodeBody(w, r, &body, false); err != nil {
		return tokenward.RoleWrite{}, err
	}
	return body.toWrite(replace)
}

func (s *Server) createRole(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	write, err := roleFromBody(w, r, p, false)
	if err != nil {
		return err
	}
	role, err := s.service.CreateRole(r.Context(), p, write)
	if err != nil {
		return err
	}
	return s.writeRole(w, r, p, role)
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	role, err := s.service.Role(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeRole(w, r, p, role)
}

func (s *Server) updateRole(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	write, err := roleFromBody(w, r, p, true)
	if err != nil {
		return err
	}
	role, err := s.service.UpdateRole(r.Context(), p, r.PathValue("id"), write)
	if err != nil {
		return err
	}
	return s.writeRole(w, r, p, role)
}

// deleteRole answers the role as it was before the deletion.
func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	role, err := s.service.DeleteRole(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.writeRole(w, r, p, role)
}

// changeRoleAssignees serves addAssignees and removeAssignees: account identifiers and
// group ids.
func (s *Server) changeRoleAssignees(assign bool) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		ids, err := idsBody(w, r, p)
		if err != nil {
			return err
		}
		role, err := s.service.ChangeRoleAssignees(r.Context(), p, r.PathValue("id"), assign, ids)
		if err != nil {
			return err
		}
		return s.writeRole(w, r, p, role)
	}
}

// changeRolesPermission serves POST /api/v2/role/grant/{permission} and revoke on the
// roles the body lists, answering the first.
func (s *Server) changeRolesPermission(grant bool) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		perm, err := tokenward.ParsePermission(r.PathValue("permission"))
		if err != nil {
			return err
		}
		var ids idList
		if err := decodeBody(w, r, &ids, false); err != nil {
			return err
		}
		roles, err := s.service.ChangeRolesPermission(r.Context(), p, perm, grant, ids)
		if err != nil {
			return err
		}
		return s.writeRole(w, r, p, roles[0])
	}
}
