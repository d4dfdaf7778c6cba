package web

import (
	"net/http"

	"github.com/tokenward/tokenward"
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

// apiAccess is a person's own API Access page. Only user accounts have one: the service
// refuses any other (EForbidden, requireUserAccount), and only users can sign in anyway.
func (c *Console) apiAccess(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "api-access", func() (view, error) { return c.apiAccessView(r, p) })
}

// generateOwnToken shows the new secret in the response itself (never in a redirect URL or
// a cookie), on a page that is not cached.
func (c *Console) generateOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	secret, tokens, err := c.service.GenerateOwnToken(r.Context(), p, r.PostFormValue("name"), tokenward.Lifetime{})
	if err != nil {
		return onPage(err, func() (view, error) { return c.apiAccessView(r, p) })
	}
	v, err := c.apiAccessView(r, p)
	if err != nil {
		return err
	}
	d := v.Data.(*apiAccessData)
	d.NewSecret, d.NewName = secret.Reveal(), tokens[len(tokens)-1].Name
	c.render(w, r, http.StatusOK, "api-access", v)
	return nil
}

func (c *Console) renameOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	if _, err := c.service.RenameOwnToken(r.Context(), p, r.PathValue("id"), r.PostFormValue("name")); err != nil {
		return onPage(err, func() (view, error) { return c.apiAccessView(r, p) })
	}
	redirect(w, r, "/console/profile/api-access", "Token renamed.")
	return nil
}

func (c *Console) revokeOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if _, err := c.service.RevokeOwnToken(r.Context(), p, r.PathValue("id")); err != nil {
		return onPage(err, func() (view, error) { return c.apiAccessView(r, p) })
	}
	redirect(w, r, "/console/profile/api-access", "Token revoked. Anything still using it now gets an authorization error.")
	return nil
}
