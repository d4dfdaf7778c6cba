package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tokenward/tokenward"
)

// groupListData is the Groups page: a searchable list and the create form.
type groupListData struct {
	Groups    []tokenward.UserGroup
	RoleNames map[string]string // every role's name by id, for the Roles column
	Query     string
	Total     int
	Roles     []tokenward.Role // the choices of the create form
	Form      groupForm        // what a refused create form held
}

// groupForm is what a person typed in the create form, shown again when it is refused.
type groupForm struct {
	Name, Description string
	Roles             []string
}

// HasRole tells the create form which role checkboxes to keep checked.
func (f groupForm) HasRole(id string) bool {
	return slices.Contains(f.Roles, id)
}

// groupData is one group's page.
type groupData struct {
	Group tokenward.UserGroup
	// Roles are the group's roles; OtherRoles those it could get.
	Roles, OtherRoles []tokenward.Role
	Accounts          []string // suggestions for the member picker
}

func groupPath(id string) string { return "/console/accounts/groups/" + url.PathEscape(id) }

func (c *Console) groupListView(r *http.Request, p tokenward.Principal) (view, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	req := tokenward.SearchRequest{Limit: tokenward.MaxSearchLimit}
	if q != "" {
		req.Query = []tokenward.SearchCondition{{Key: "freetext", Value: q}}
	}
	page, err := c.service.SearchGroups(r.Context(), p, req)
	if err != nil {
		return view{}, err
	}
	cat, err := c.catalog(r, p)
	if err != nil {
		return view{}, err
	}
	return view{Title: "Groups", Nav: "groups", Data: &groupListData{
		Groups: page.Items, RoleNames: cat.roleNames(), Query: q, Total: page.Total, Roles: cat.Roles}}, nil
}

func (c *Console) groupView(r *http.Request, p tokenward.Principal) (view, error) {
	g, err := c.service.Group(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return view{}, err
	}
	cat, err := c.catalog(r, p)
	if err != nil {
		return view{}, err
	}
	var accounts []string
	if !g.Everyone {
		if accounts, err = c.accountChoices(r, p); err != nil {
			return view{}, err
		}
	}
	return view{Title: g.Name, Nav: "groups", Data: &groupData{
		Group: g, Roles: cat.rolesIn(g.Roles, true), OtherRoles: cat.rolesIn(g.Roles, false), Accounts: accounts}}, nil
}

func (c *Console) groups(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "groups", func() (view, error) { return c.groupListView(r, p) })
}

func (c *Console) group(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "group", func() (view, error) { return c.groupView(r, p) })
}

func (c *Console) createGroup(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	name, description, roles := r.PostFormValue("name"), r.PostFormValue("description"), nonEmpty(r.PostForm["role"])
	back := func() (view, error) {
		v, err := c.groupListView(r, p)
		if err == nil {
			v.Data.(*groupListData).Form = groupForm{Name: name, Description: description, Roles: roles}
		}
		return v, err
	}
	g, err := c.service.CreateGroup(r.Context(), p, tokenward.GroupWrite{Name: &name, Description: &description, Roles: &roles})
	if err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, groupPath(g.ID), flash{Notice: "Group created. Add its members below."})
}

// updateGroup changes a group's name and description. The Everyone group's form has no
// name field: its name stays.
func (c *Console) updateGroup(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	write := tokenward.GroupWrite{Name: formText(r, "name"), Description: formText(r, "description")}
	g, err := c.service.UpdateGroup(r.Context(), p, r.PathValue("id"), write)
	if err != nil {
		return onPage(err, func() (view, error) { return c.groupView(r, p) })
	}
	return c.redirect(w, r, groupPath(g.ID), flash{Notice: "Group updated."})
}

// changeGroupMembers adds accounts (identifiers in "member") to the group or removes them.
func (c *Console) changeGroupMembers(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.changeGroup(w, r, p, "member", "name an account to add", c.service.ChangeGroupMembers,
		func(g tokenward.UserGroup, add bool, members []string) string {
			if add {
				return fmt.Sprintf("%s added to group %s.", listOf(members), g.Name)
			}
			return fmt.Sprintf("%s removed from group %s.", listOf(members), g.Name)
		})
}

// changeGroupRoles gives the group roles (ids in "role") or takes them away.
func (c *Console) changeGroupRoles(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.changeGroup(w, r, p, "role", "choose a role", c.service.ChangeGroupRoles,
		func(g tokenward.UserGroup, add bool, roles []string) string {
			held := map[bool]string{true: "now holds", false: "no longer holds"}[add]
			return fmt.Sprintf("%s %s %s.", g.Name, held, c.namedRoles(r, p, roles))
		})
}

// changeGroup applies the change a members or roles form posts to the page's group: {op}
// is add or remove, field holds what changes (missing: the refusal when it holds nothing).
// A refusal shows on the page; notice words the change done.
func (c *Console) changeGroup(w http.ResponseWriter, r *http.Request, p tokenward.Principal, field, missing string,
	change func(ctx context.Context, p tokenward.Principal, id string, add bool, values []string) (tokenward.UserGroup, error),
	notice func(g tokenward.UserGroup, add bool, values []string) string) error {
	add, err := opAdds(r)
	if err != nil {
		return err
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	values, err := formList(r, field, missing)
	var g tokenward.UserGroup
	if err == nil {
		g, err = change(r.Context(), p, r.PathValue("id"), add, values)
	}
	if err != nil {
		return onPage(err, func() (view, error) { return c.groupView(r, p) })
	}
	return c.redirect(w, r, groupPath(g.ID), flash{Notice: notice(g, add, values)})
}

func (c *Console) deleteGroup(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	g, err := c.service.DeleteGroup(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return onPage(err, func() (view, error) { return c.groupView(r, p) })
	}
	return c.redirect(w, r, "/console/accounts/groups", flash{Notice: fmt.Sprintf("Group %s deleted; its %s lost the permissions of its roles.",
		g.Name, plural(len(g.Users), "member"))})
}
