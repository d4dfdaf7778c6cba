package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/tokenward/tokenward"
)

// apiAccessData is the API Access page: the caller's tokens. A new token's secret is a
// flash (flash.go), shown once by the page Generate redirects to.
type apiAccessData struct {
	Tokens      []tokenward.Token
	Remaining   int
	CanGenerate bool
	BaseURL     string
	Account     string
	Expiry      expiryPicker
	// Expiring are the caller's tokens that expire within ownNoticeWindow or have
	// expired, soonest first: the notice above the table.
	Expiring []expiringToken
	Held     []tokenward.Permission // what a new token may carry: the caller's permissions
}

// ownNoticeWindow is how far ahead the API Access page warns of a token's expiry: as far
// ahead as the sweep's first expiry notice.
const ownNoticeWindow = tokenward.FirstExpiryNotice

// expiringToken is one line of the API Access page's expiry notice.
type expiringToken struct {
	tokenward.Token
	Expired bool
	// Left is how long it has to live, as the notice says it ("3 days", "less than a day").
	Left string
}

// expiringOf returns the tokens of ts that expire within ownNoticeWindow of now or have
// expired, soonest first.
func expiringOf(ts []tokenward.Token, now time.Time) []expiringToken {
	var out []expiringToken
	for _, t := range ts {
		if t.Expires.IsZero() || t.Expires.After(now.Add(ownNoticeWindow)) {
			continue
		}
		e := expiringToken{Token: t, Expired: !now.Before(t.Expires)}
		// Whole days, rounded up: a token generated for 3 days reads "in 3 days" until
		// exactly 2 are left.
		if left := t.Expires.Sub(now); left < day {
			e.Left = "less than a day"
		} else {
			e.Left = plural(int((left+day-1)/day), "day")
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b expiringToken) int { return a.Expires.Compare(b.Expires) })
	return out
}

func (c *Console) apiAccessView(r *http.Request, p tokenward.Principal) (view, error) {
	tokens, err := c.service.OwnTokens(r.Context(), p)
	if err != nil {
		return view{}, err
	}
	limits, err := c.service.LifetimeLimitsFor(r.Context(), p, tokenward.UserAccount)
	if err != nil {
		return view{}, err
	}
	return view{Title: "API Access", Nav: "profile", Data: &apiAccessData{
		Tokens: tokens, Remaining: tokenward.MaxTokensPerAccount - len(tokens), Account: p.Account,
		CanGenerate: p.Permissions.Has(tokenward.TokenManagement), BaseURL: baseURL(r),
		Expiry: newExpiryPicker(limits), Expiring: expiringOf(tokens, c.service.Now()), Held: p.Permissions.List(),
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

// generateOwnToken redirects to the API Access page, which shows the new secret once (a
// flash: never in the address, nor in a cookie), on a page that is not cached.
func (c *Console) generateOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	back := func() (view, error) { return c.apiAccessView(r, p) }
	life, restrict, err := formGenerate(w, r, back)
	if err != nil {
		return err
	}
	secret, tokens, err := c.service.GenerateOwnToken(r.Context(), p, r.PostFormValue("name"), life, restrict)
	if err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, "/console/profile/api-access",
		flash{Secret: &revealedToken{Secret: secret.Reveal(), Name: tokens[len(tokens)-1].Name}})
}

func (c *Console) renameOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	back := func() (view, error) { return c.apiAccessView(r, p) }
	edit, err := formEdit(r)
	if err != nil {
		return onPage(err, back)
	}
	if _, err := c.service.EditOwnToken(r.Context(), p, r.PathValue("id"), edit); err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, "/console/profile/api-access", flash{Notice: "Token saved."})
}

func (c *Console) revokeOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if _, err := c.service.RevokeOwnToken(r.Context(), p, r.PathValue("id")); err != nil {
		return onPage(err, func() (view, error) { return c.apiAccessView(r, p) })
	}
	return c.redirect(w, r, "/console/profile/api-access", flash{Notice: "Token revoked. Anything still using it now gets an authorization error."})
}
