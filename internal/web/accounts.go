package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/tokenward/tokenward"
)

// accountListData is a list of accounts (users or service accounts) with a search box.
type accountListData struct {
	Accounts    []tokenward.Account
	Tokens      map[int64][]tokenward.Token
	Query       string
	Total       int
	Permissions []tokenward.Permission // the choices of the create form
	Expiry      expiryPicker           // the create form's first token's
}

// accountData is one account's page.
type accountData struct {
	Account     tokenward.Account
	Tokens      []tokenward.Token
	Permissions []tokenward.Permission
	Remaining   int
	// Base is the page's path, which the forms of its roles and groups post under.
	Base string
	// Roles and Groups are the account's; OtherRoles and OtherGroups the ones it could get.
	Roles, OtherRoles   []tokenward.Role
	Groups, OtherGroups []tokenward.UserGroup
	// Effective is what the account may do, each permission with where it comes from.
	Effective []permissionOrigin
	// Expiry is the Generate form's expiry picker (service accounts).
	Expiry expiryPicker
}

func (c *Console) accountListView(r *http.Request, p tokenward.Principal, kind tokenward.AccountKind) (view, error) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	req := tokenward.SearchRequest{Limit: tokenward.MaxSearchLimit}
	if q != "" {
		req.Query = []tokenward.SearchCondition{{Key: "freetext", Value: q}}
	}
	page, err := c.service.SearchAccounts(r.Context(), p, kind, req)
	if err != nil {
		return view{}, err
	}
	tokens, err := c.service.TokensOf(r.Context(), p, page.Items)
	if err != nil {
		return view{}, err
	}
	choices := tokenward.AllPermissions
	title, nav := "Users", "users"
	if kind == tokenward.ServiceAccount {
		choices, title, nav = serviceAccountPermissions(), "Service Accounts", "service-accounts"
	}
	limits, err := c.service.LifetimeLimitsFor(r.Context(), p, kind)
	if err != nil {
		return view{}, err
	}
	return view{Title: title, Nav: nav, Data: &accountListData{
		Accounts: page.Items, Tokens: tokens, Query: q, Total: page.Total, Permissions: choices, Expiry: newExpiryPicker(limits)}}, nil
}

// serviceAccountPermissions are the permissions a service account may hold.
func serviceAccountPermissions() []tokenward.Permission {
	var out []tokenward.Permission
	for _, p := range tokenward.AllPermissions {
		if p != tokenward.TokenManagement {
			out = append(out, p)
		}
	}
	return out
}

func (c *Console) accountView(r *http.Request, p tokenward.Principal, kind tokenward.AccountKind) (view, error) {
	a, err := c.service.AccountFor(r.Context(), p, r.PathValue("id"), kind)
	if err != nil {
		return view{}, err
	}
	tokens, err := c.service.TokensOf(r.Context(), p, []tokenward.Account{a})
	if err != nil {
		return view{}, err
	}
	cat, err := c.catalog(r, p)
	if err != nil {
		return view{}, err
	}
	sources, err := c.service.PermissionSources(r.Context(), p, a)
	if err != nil {
		return view{}, err
	}
	choices, nav := tokenward.AllPermissions, "users"
	if kind == tokenward.ServiceAccount {
		choices, nav = serviceAccountPermissions(), "service-accounts"
	}
	limits, err := c.service.LifetimeLimitsFor(r.Context(), p, kind)
	if err != nil {
		return view{}, err
	}
	return view{Title: a.Identifier, Nav: nav, Data: &accountData{
		Expiry:  newExpiryPicker(limits),
		Account: a, Tokens: tokens[a.ID], Permissions: choices, Remaining: tokenward.MaxTokensPerAccount - len(tokens[a.ID]),
		Base: accountPath(a), Roles: cat.rolesIn(a.Roles, true), OtherRoles: cat.rolesIn(a.Roles, false),
		Groups: cat.groupsIn(a.Groups, true), OtherGroups: cat.joinable(a.Groups), Effective: origins(sources)}}, nil
}

// page renders the page build returns.
func (c *Console) page(w http.ResponseWriter, r *http.Request, name string, build func() (view, error)) error {
	v, err := build()
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, name, v)
	return nil
}

func (c *Console) serviceAccounts(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "service-accounts", func() (view, error) { return c.accountListView(r, p, tokenward.ServiceAccount) })
}

func (c *Console) users(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "users", func() (view, error) { return c.accountListView(r, p, tokenward.UserAccount) })
}

func (c *Console) serviceAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "service-account", func() (view, error) { return c.accountView(r, p, tokenward.ServiceAccount) })
}

func (c *Console) user(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "user", func() (view, error) { return c.accountView(r, p, tokenward.UserAccount) })
}

func accountPath(a tokenward.Account) string {
	if a.Kind == tokenward.ServiceAccount {
		return "/console/accounts/service-accounts/" + url.PathEscape(a.Identifier)
	}
	return "/console/accounts/users/" + url.PathEscape(a.Identifier)
}

// createServiceAccount creates a service account and, when asked, its first token, whose
// secret the response shows once.
func (c *Console) createServiceAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	back := func() (view, error) { return c.accountListView(r, p, tokenward.ServiceAccount) }
	perms, err := formPermissionsOn(w, r, back)
	if err != nil {
		return err
	}
	description := r.PostFormValue("description")
	write := tokenward.ServiceAccountWrite{Identifier: r.PostFormValue("identifier"), Description: &description, Permissions: &perms}
	if r.PostFormValue("token") == "" {
		a, err := c.service.CreateServiceAccount(r.Context(), p, write)
		if err != nil {
			return onPage(err, back)
		}
		return c.redirect(w, r, accountPath(a), flash{Notice: "Service account created."})
	}
	// With its first token: both or neither, so that a bad token name creates nothing.
	life, err := formLifetime(r)
	if err != nil {
		return onPage(err, back)
	}
	a, secret, token, err := c.service.CreateServiceAccountWithToken(r.Context(), p, write, r.PostFormValue("token_name"), life)
	if err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, accountPath(a),
		flash{Notice: "Service account created.", Secret: &revealedToken{Secret: secret.Reveal(), Name: token.Name}})
}

func (c *Console) updateServiceAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	back := func() (view, error) { return c.accountView(r, p, tokenward.ServiceAccount) }
	perms, err := formPermissionsOn(w, r, back)
	if err != nil {
		return err
	}
	description := r.PostFormValue("description")
	a, err := c.service.UpdateServiceAccount(r.Context(), p, r.PathValue("id"),
		tokenward.ServiceAccountWrite{Description: &description, Permissions: &perms})
	if err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, accountPath(a), flash{Notice: "Service account updated."})
}

func (c *Console) setServiceAccountActive(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	active := r.PostFormValue("active") == "true"
	a, err := c.service.SetServiceAccountActive(r.Context(), p, r.PathValue("id"), active)
	if err != nil {
		return onPage(err, func() (view, error) { return c.accountView(r, p, tokenward.ServiceAccount) })
	}
	notice := "Service account activated: its tokens work again."
	if !active {
		notice = "Service account deactivated: its tokens get an authorization error until it is activated."
	}
	return c.redirect(w, r, accountPath(a), flash{Notice: notice})
}

// deleteAccount deletes the account the page is about: a service account's page deletes
// only service accounts, a user's page only users.
func (c *Console) deleteAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	kind := pageKind(r)
	a, err := c.service.AccountFor(r.Context(), p, r.PathValue("id"), kind)
	var deleted []tokenward.Account
	if err == nil {
		deleted, err = c.service.DeleteAccounts(r.Context(), p, []string{a.Identifier}, false)
	}
	if err != nil {
		return onPage(err, func() (view, error) { return c.accountView(r, p, kind) })
	}
	list := "/console/accounts/users"
	if kind == tokenward.ServiceAccount {
		list = "/console/accounts/service-accounts"
	}
	return c.redirect(w, r, list, flash{Notice: deleted[0].Identifier + " deleted; its tokens were revoked."})
}

func (c *Console) generateServiceAccountToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	back := func() (view, error) { return c.accountView(r, p, tokenward.ServiceAccount) }
	life, restrict, err := formGenerate(w, r, back)
	if err != nil {
		return err
	}
	secret, tokens, err := c.service.GenerateServiceAccountToken(r.Context(), p, r.PathValue("id"), r.PostFormValue("name"), life, restrict)
	if err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, "/console/accounts/service-accounts/"+url.PathEscape(r.PathValue("id")),
		flash{Secret: &revealedToken{Secret: secret.Reveal(), Name: tokens[len(tokens)-1].Name}})
}

func (c *Console) renameServiceAccountToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	back := func() (view, error) { return c.accountView(r, p, tokenward.ServiceAccount) }
	edit, err := formEdit(r)
	if err != nil {
		return onPage(err, back)
	}
	if _, err := c.service.EditServiceAccountToken(r.Context(), p, r.PathValue("id"), r.PathValue("token"), edit); err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, "/console/accounts/service-accounts/"+url.PathEscape(r.PathValue("id")), flash{Notice: "Token saved."})
}

func (c *Console) revokeServiceAccountToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if _, err := c.service.RevokeServiceAccountToken(r.Context(), p, r.PathValue("id"), r.PathValue("token")); err != nil {
		return onPage(err, func() (view, error) { return c.accountView(r, p, tokenward.ServiceAccount) })
	}
	return c.redirect(w, r, "/console/accounts/service-accounts/"+url.PathEscape(r.PathValue("id")), flash{Notice: "Token revoked."})
}

func (c *Console) createUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	back := func() (view, error) { return c.accountListView(r, p, tokenward.UserAccount) }
	perms, err := formPermissionsOn(w, r, back)
	if err != nil {
		return err
	}
	a, err := c.service.CreateUser(r.Context(), p, r.PostFormValue("email"), perms)
	if err != nil {
		return onPage(err, back)
	}
	inv, err := c.service.Invite(r.Context(), p, a.Identifier)
	if err != nil {
		return err
	}
	return c.redirect(w, r, accountPath(a), inviteFlash(r, inv, "User created."))
}

func (c *Console) updateUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	back := func() (view, error) { return c.accountView(r, p, tokenward.UserAccount) }
	perms, err := formPermissionsOn(w, r, back)
	if err != nil {
		return err
	}
	a, err := c.service.UpdateUser(r.Context(), p, r.PathValue("id"), tokenward.UserWrite{Permissions: &perms})
	if err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, accountPath(a), flash{Notice: "Permissions updated."})
}
