package web

import (
	"net/http"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// apiAccessData is the API Access page: the caller's tokens and, right after generating,
// the new secret, shown this once.
type apiAccessData struct {
	Tokens      []tokenward.Token
	Remaining   int
	CanGenerate bool
	NewSecret   string
	NewName     string
	BaseURL     string
	Account     string
}

func (c *Console) apiAccessView(r *http.Request, p tokenward.Principal) (view, error) {
	tokens, err := c.service.OwnTokens(r.Context(), p)
	if err != nil {
		return view{}, err
	}
	return view{Title: "API Access", Nav: "profile", Data: &apiAccessData{
		Tokens: tokens, Remaining: tokenward.MaxTokensPerAccount - len(tokens), Account: p.Account,
		CanGenerate: p.Permissions.Has(tokenward.TokenManagement), BaseURL: baseURL(r),
	}}, nil
}

// baseURL is this instance's address as the browser sees it, for the curl example.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (c *Console) apiAccess(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if p.Kind != tokenward.UserAccount {
		c.fail(w, r, tokenward.Errorf(tokenward.EForbidden, "only user accounts have an API Access page"))
		return
	}
	v, err := c.apiAccessView(r, p)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "api-access", v)
}

// generateOwnToken shows the new secret in the response itself (never in a redirect URL or
// a cookie), on a page that is not cached.
func (c *Console) generateOwnToken(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, err)
		return
	}
	p := principal(r)
	secret, tokens, err := c.service.GenerateOwnToken(r.Context(), p, r.PostFormValue("name"))
	if err != nil {
		c.failOnPage(w, r, err, func() (view, error) { return c.apiAccessView(r, p) })
		return
	}
	v, err := c.apiAccessView(r, p)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := v.Data.(*apiAccessData)
	d.NewSecret, d.NewName = secret.Reveal(), tokens[len(tokens)-1].Name
	c.render(w, r, http.StatusOK, "api-access", v)
}

func (c *Console) renameOwnToken(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		c.fail(w, r, err)
		return
	}
	p := principal(r)
	if _, err := c.service.RenameOwnToken(r.Context(), p, r.PathValue("id"), r.PostFormValue("name")); err != nil {
		c.failOnPage(w, r, err, func() (view, error) { return c.apiAccessView(r, p) })
		return
	}
	redirect(w, r, "/console/profile/api-access", "Token renamed.")
}

func (c *Console) revokeOwnToken(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	if _, err := c.service.RevokeOwnToken(r.Context(), p, r.PathValue("id")); err != nil {
		c.failOnPage(w, r, err, func() (view, error) { return c.apiAccessView(r, p) })
		return
	}
	redirect(w, r, "/console/profile/api-access", "Token revoked. Anything still using it now gets an authorization error.")
}

// failOnPage shows a rule's refusal (a bad name, the cap) on the page the person was on,
// with the page as it is; other failures get the error page.
func (c *Console) failOnPage(w http.ResponseWriter, r *http.Request, err error, page func() (view, error)) {
	code := tokenward.ErrorCode(err)
	if code != tokenward.EInvalid && code != tokenward.EConflict && code != tokenward.ENotFound {
		c.fail(w, r, err)
		return
	}
	v, perr := page()
	if perr != nil {
		c.fail(w, r, err)
		return
	}
	v.Error = sentence(tokenward.ErrorMessage(err))
	v.Notice = ""
	c.render(w, r, edge.Status(err), pageOf(r), v)
}

// pageOf names the page template a console path renders.
func pageOf(r *http.Request) string {
	switch {
	case hasPrefix(r.URL.Path, "/console/profile"):
		return "api-access"
	case hasPrefix(r.URL.Path, "/console/accounts/service-accounts/") && r.PathValue("id") != "":
		return "service-account"
	case hasPrefix(r.URL.Path, "/console/accounts/service-accounts"):
		return "service-accounts"
	case hasPrefix(r.URL.Path, "/console/accounts/users/") && r.PathValue("id") != "":
		return "user"
	case hasPrefix(r.URL.Path, "/console/accounts/users"):
		return "users"
	case hasPrefix(r.URL.Path, "/console/accounts/roles/") && r.PathValue("id") != "":
		return "role"
	case hasPrefix(r.URL.Path, "/console/accounts/roles"):
		return "roles"
	case hasPrefix(r.URL.Path, "/console/accounts/groups/") && r.PathValue("id") != "":
		return "group"
	case hasPrefix(r.URL.Path, "/console/accounts/groups"):
		return "groups"
	default:
		return "api-tokens"
	}
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }
