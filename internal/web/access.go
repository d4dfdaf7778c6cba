package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/tokenward/tokenward"
)

// catalog is every role and every user group of the organization, read once per page: the
// names that pages show in place of ids, and the choices of their "add" pickers.
type catalog struct {
	Roles  []tokenward.Role
	Groups []tokenward.UserGroup
}

func (c *Console) catalog(r *http.Request, p tokenward.Principal) (catalog, error) {
	var cat catalog
	req := tokenward.SearchRequest{Limit: tokenward.MaxSearchLimit}
	for {
		page, err := c.service.SearchRoles(r.Context(), p, req)
		if err != nil {
			return catalog{}, err
		}
		cat.Roles = append(cat.Roles, page.Items...)
		if !page.More() || len(page.Items) == 0 {
			break
		}
		req.Offset += len(page.Items)
	}
	req = tokenward.SearchRequest{Limit: tokenward.MaxSearchLimit}
	for {
		page, err := c.service.SearchGroups(r.Context(), p, req)
		if err != nil {
			return catalog{}, err
		}
		cat.Groups = append(cat.Groups, page.Items...)
		if !page.More() || len(page.Items) == 0 {
			break
		}
		req.Offset += len(page.Items)
	}
	return cat, nil
}

// rolesIn returns the catalog's roles whose ids are in ids (in, true) or not (in, false),
// in the catalog's order (by name). An id the catalog lacks (deleted a moment ago) is left
// out.
func (cat catalog) rolesIn(ids []string, in bool) []tokenward.Role {
	out := []tokenward.Role{}
	for _, role := range cat.Roles {
		if slices.Contains(ids, role.ID) == in {
			out = append(out, role)
		}
	}
	return out
}

// groupsIn is rolesIn for groups.
func (cat catalog) groupsIn(ids []string, in bool) []tokenward.UserGroup {
	out := []tokenward.UserGroup{}
	for _, g := range cat.Groups {
		if slices.Contains(ids, g.ID) == in {
			out = append(out, g)
		}
	}
	return out
}

// joinable returns the groups an account could join: those it is not in, never Everyone,
// whose membership is implicit.
func (cat catalog) joinable(ids []string) []tokenward.UserGroup {
	return slices.DeleteFunc(cat.groupsIn(ids, false), func(g tokenward.UserGroup) bool { return g.Everyone })
}

// roleNames maps role ids to names, for lists that show each group's roles.
func (cat catalog) roleNames() map[string]string {
	m := make(map[string]string, len(cat.Roles))
	for _, role := range cat.Roles {
		m[role.ID] = role.Name
	}
	return m
}

// accountChoices returns identifiers of accounts for a picker's suggestions (a datalist:
// any other identifier can still be typed). It stops at a bound, so that a page stays small
// in an organization of many accounts.
func (c *Console) accountChoices(r *http.Request, p tokenward.Principal) ([]string, error) {
	const bound = 200
	page, err := c.service.SearchAccounts(r.Context(), p, "", tokenward.SearchRequest{Limit: bound})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(page.Items))
	for i, a := range page.Items {
		out[i] = a.Identifier
	}
	return out, nil
}

// opAdds reads the {op} of a route that adds or removes: true for "add", false for
// "remove", ENotFound for anything else (no such page).
func opAdds(r *http.Request) (bool, error) {
	switch r.PathValue("op") {
	case "add":
		return true, nil
	case "remove":
		return false, nil
	}
	return false, tokenward.Errorf(tokenward.ENotFound, "there is no such page")
}

// formList reads the non-empty values of a form field, trimmed and without repeats; an
// empty list is EInvalid with the message given.
func formList(r *http.Request, field, missing string) ([]string, error) {
	values := nonEmpty(r.PostForm[field])
	if len(values) == 0 {
		return nil, tokenward.Errorf(tokenward.EInvalid, "%s", missing)
	}
	return values, nil
}

// formText returns a text field, or nil when the form lacks it: a field the form lacks
// leaves the value as it is.
func formText(r *http.Request, field string) *string {
	if _, ok := r.PostForm[field]; !ok {
		return nil
	}
	v := r.PostFormValue(field)
	return &v
}

// listOf joins names for a notice: "a", "a and b", "a, b and c".
func listOf(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
