package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tokenward/tokenward"
)

// roleListData is the Roles page: a searchable list and the create form.
type roleListData struct {
	Roles       []tokenward.Role
	Query       string
	Total       int
	Permissions []tokenward.Permission // the choices of the create form
	Form        roleForm               // what a refused create form held
}

// roleForm is what a person typed in a role form, shown again when it is refused.
type roleForm struct {
	Name, Description string
	Permissions       tokenward.PermissionSet
}

// roleData is one role's page.
type roleData struct {
	Role        tokenward.Role
	Permissions []tokenward.Permission
	// Groups are the groups it is assigned to; OtherGroups those it could be.
	Groups, OtherGroups []tokenward.UserGroup
	Accounts            []string // suggestions for the account picker
}

func rolePath(id string) string { return "/console/accounts/roles/" + url.PathEscape(id) }

func (c *Console) roleListView(r *http.Request, p tokenward.Principal) (view, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	req := tokenward.SearchRequest{Limit: tokenward.MaxSearchLimit}
	if q != "" {
		req.Query = []tokenward.SearchCondition{{Key: "freetext", Value: q}}
	}
	page, err := c.service.SearchRoles(r.Context(), p, req)
	if err != nil {
		return view{}, err
	}
	return view{Title: "Roles", Nav: "roles", Data: &roleListData{
		Roles: page.Items, Query: q, Total: page.Total, Permissions: tokenward.AllPermissions}}, nil
}

func (c *Console) roleView(r *http.Request, p tokenward.Principal) (view, error) {
	role, err := c.service.Role(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return view{}, err
	}
	cat, err := c.catalog(r, p)
	if err != nil {
		return view{}, err
	}
	accounts, err := c.accountChoices(r, p)
	if err != nil {
		return view{}, err
	}
	return view{Title: role.Name, Nav: "roles", Data: &roleData{
		Role: role, Permissions: tokenward.AllPermissions, Groups: cat.groupsIn(role.Groups, true),
		OtherGroups: cat.groupsIn(role.Groups, false), Accounts: accounts}}, nil
}

func (c *Console) roles(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "roles", func() (view, error) { return c.roleListView(r, p) })
}

func (c *Console) role(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "role", func() (view, error) { return c.roleView(r, p) })
}

// roleWrite reads a role form: name, description and permission checkboxes.
func roleWrite(r *http.Request) (tokenward.RoleWrite, error) {
	perms, err := formPermissions(r)
	if err != nil {
		return tokenward.RoleWrite{}, err
	}
	name, description := r.PostFormValue("name"), r.PostFormValue("description")
	return tokenward.RoleWrite{Name: &name, Description: &description, Permissions: &perms}, nil
}

func (c *Console) createRole(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	// A refused form comes back as it was typed.
	back := func() (view, error) {
		v, err := c.roleListView(r, p)
		if err == nil {
			perms, _ := formPermissions(r)
			v.Data.(*roleListData).Form = roleForm{Name: r.PostFormValue("name"), Description: r.PostFormValue("description"), Permissions: perms}
		}
		return v, err
	}
	write, err := roleWrite(r)
	if err != nil {
		return onPage(err, back)
	}
	role, err := c.service.CreateRole(r.Context(), p, write)
	if err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, rolePath(role.ID), flash{Notice: "Role created. Assign it to accounts or groups below."})
}

func (c *Console) updateRole(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	back := func() (view, error) { return c.roleView(r, p) }
	if err := parseForm(w, r); err != nil {
		return err
	}
	write, err := roleWrite(r)
	if err != nil {
		return onPage(err, back)
	}
	role, err := c.service.UpdateRole(r.Context(), p, r.PathValue("id"), write)
	if err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, rolePath(role.ID), flash{Notice: "Role updated. Its accounts and groups hold its new permissions."})
}

// changeRoleAssignees assigns the role to accounts and groups, or takes it from them: each
// "assignee" is an account identifier or a group id.
func (c *Console) changeRoleAssignees(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	back := func() (view, error) { return c.roleView(r, p) }
	add, err := opAdds(r)
	if err != nil {
		return err
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	assignees, err := formList(r, "assignee", "name an account or choose a group")
	var role tokenward.Role
	if err == nil {
		role, err = c.service.ChangeRoleAssignees(r.Context(), p, r.PathValue("id"), add, assignees)
	}
	if err != nil {
		return onPage(err, back)
	}
	names := make([]string, len(assignees))
	for i, a := range assignees {
		names[i] = a
		if tokenward.IsAccountIdentifier(a) {
			continue
		}
		if g, err := c.service.Group(r.Context(), p, a); err == nil {
			names[i] = "group " + g.Name
		}
	}
	notice := fmt.Sprintf("Role %s assigned to %s.", role.Name, listOf(names))
	if !add {
		notice = fmt.Sprintf("Role %s taken from %s.", role.Name, listOf(names))
	}
	return c.redirect(w, r, rolePath(role.ID), flash{Notice: notice})
}

func (c *Console) deleteRole(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	role, err := c.service.DeleteRole(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return onPage(err, func() (view, error) { return c.roleView(r, p) })
	}
	return c.redirect(w, r, "/console/accounts/roles", flash{Notice: fmt.Sprintf("Role %s deleted; %s and %s lost its permissions.",
		role.Name, plural(len(role.Accounts), "account"), plural(len(role.Groups), "group"))})
}
