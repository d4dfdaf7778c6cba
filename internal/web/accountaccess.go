package web

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tokenward/tokenward"
)

// The roles and groups of an account, on its page, and where each of its effective
// permissions comes from.

// permissionOrigin is one effective permission of an account and every way it holds it.
type permissionOrigin struct {
	Permission tokenward.Permission
	From       []string // "direct", "role Deployers", "group Ops → role Deployers"
}

// origins groups the service's permission sources by permission, in its order.
func origins(sources []tokenward.PermissionSource) []permissionOrigin {
	var out []permissionOrigin
	for _, s := range sources {
		from := "direct"
		switch {
		case s.Group != "":
			from = "group " + s.Group + " → role " + s.Role
		case s.Role != "":
			from = "role " + s.Role
		}
		if n := len(out); n > 0 && out[n-1].Permission == s.Permission {
			if !slices.Contains(out[n-1].From, from) {
				out[n-1].From = append(out[n-1].From, from)
			}
			continue
		}
		out = append(out, permissionOrigin{Permission: s.Permission, From: []string{from}})
	}
	return out
}

// pageKind is the kind of account the page at r's path is about: a service account's page
// changes only service accounts, a user's page only users.
func pageKind(r *http.Request) tokenward.AccountKind {
	if strings.HasPrefix(r.URL.Path, "/console/accounts/service-accounts/") {
		return tokenward.ServiceAccount
	}
	return tokenward.UserAccount
}

// changeAccountRoles gives the account of the page roles (or takes them away).
func (c *Console) changeAccountRoles(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.changeAccountAccess(w, r, p, "role", func(a tokenward.Account, add bool, ids []string) error {
		_, err := c.service.ChangeAccountRoles(r.Context(), p, a.Identifier, add, ids)
		return err
	})
}

// changeAccountGroups adds the account of the page to groups (or removes it).
func (c *Console) changeAccountGroups(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.changeAccountAccess(w, r, p, "group", func(a tokenward.Account, add bool, ids []string) error {
		_, err := c.service.ChangeAccountGroups(r.Context(), p, a.Identifier, add, ids)
		return err
	})
}

// changeAccountAccess reads the ids a role or group form posts (field is "role" or
// "group") and applies change to the page's account; a refusal shows on the page.
func (c *Console) changeAccountAccess(w http.ResponseWriter, r *http.Request, p tokenward.Principal, field string,
	change func(a tokenward.Account, add bool, ids []string) error) error {
	kind := pageKind(r)
	back := func() (view, error) { return c.accountView(r, p, kind) }
	add, err := opAdds(r)
	if err != nil {
		return err
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	a, err := c.service.AccountFor(r.Context(), p, r.PathValue("id"), kind)
	if err != nil {
		return err
	}
	ids, err := formList(r, field, "choose a "+field)
	if err == nil {
		err = change(a, add, ids)
	}
	if err != nil {
		return onPage(err, back)
	}
	var notice string
	switch {
	case field == "role" && add:
		notice = fmt.Sprintf("%s now holds %s.", a.Identifier, c.namedRoles(r, p, ids))
	case field == "role":
		notice = fmt.Sprintf("%s no longer holds %s.", a.Identifier, c.namedRoles(r, p, ids))
	case add:
		notice = fmt.Sprintf("%s added to %s.", a.Identifier, c.namedGroups(r, p, ids))
	default:
		notice = fmt.Sprintf("%s removed from %s.", a.Identifier, c.namedGroups(r, p, ids))
	}
	return c.redirect(w, r, accountPath(a), flash{Notice: notice})
}

// namedRoles names roles for a notice: "role Deployers", "roles A and B".
func (c *Console) namedRoles(r *http.Request, p tokenward.Principal, ids []string) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = id
		if role, err := c.service.Role(r.Context(), p, id); err == nil {
			names[i] = role.Name
		}
	}
	return map[bool]string{true: "role ", false: "roles "}[len(names) == 1] + listOf(names)
}

// namedGroups names groups for a notice: "group Ops", "groups A and B".
func (c *Console) namedGroups(r *http.Request, p tokenward.Principal, ids []string) string {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = id
		if g, err := c.service.Group(r.Context(), p, id); err == nil {
			names[i] = g.Name
		}
	}
	return map[bool]string{true: "group ", false: "groups "}[len(names) == 1] + listOf(names)
}
