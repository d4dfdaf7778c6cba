package web

import (
	"net/http"
	"net/url"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// Invitations: creating a user gives the administrator a set-password link to pass on
// (tokenward sends no mail), shown once; the link lets the new user choose a password
// once, within tokenward.InviteLifetime, and signs them in.

// inviteLink is a new user's set-password link, shown once to the administrator who made it.
type inviteLink struct {
	User    string `json:"user"`
	URL     string `json:"url"`
	Expires string `json:"expires"`
}

// invitePath is where a set-password link points, the secret its last segment.
const invitePath = "/console/set-password/"

// inviteFlash is the flash that shows inv's link once.
func inviteFlash(r *http.Request, inv tokenward.Invitation, notice string) flash {
	return flash{Notice: notice, Invite: &inviteLink{User: inv.Account, URL: baseURL(r) + invitePath + url.PathEscape(inv.Secret),
		Expires: inv.Expires.UTC().Format("Jan 2, 2006 15:04 UTC")}}
}

// inviteUser makes a new set-password link for the user of the page; earlier ones stop
// working.
func (c *Console) inviteUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	inv, err := c.service.Invite(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return onPage(err, func() (view, error) { return c.accountView(r, p, tokenward.UserAccount) })
	}
	return c.redirect(w, r, "/console/accounts/users/"+url.PathEscape(inv.Account),
		inviteFlash(r, inv, "New set-password link made; earlier links of "+inv.Account+" no longer work."))
}

type setPasswordData struct {
	Email string
	Code  string
}

// setPasswordForm is the page a set-password link opens.
func (c *Console) setPasswordForm(w http.ResponseWriter, r *http.Request) error {
	a, err := c.service.InvitedAccount(r.Context(), r.PathValue("code"))
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "set-password", view{Title: "Choose your password",
		Data: setPasswordData{Email: a.Identifier, Code: r.PathValue("code")}})
	return nil
}

// setPassword uses a set-password link once, then signs the person in.
func (c *Console) setPassword(w http.ResponseWriter, r *http.Request) error {
	code := r.PathValue("code")
	a, err := c.service.InvitedAccount(r.Context(), code)
	if err != nil {
		return err
	}
	password := r.PostFormValue("password")
	again := func(msg string) error {
		c.render(w, r, http.StatusBadRequest, "set-password", view{Title: "Choose your password", Error: msg,
			Data: setPasswordData{Email: a.Identifier, Code: code}})
		return nil
	}
	if password != r.PostFormValue("confirm") {
		return again("The two passwords differ. Type the same password twice.")
	}
	address := edge.ClientAddress(r, c.cfg.TrustForwardedFor)
	if _, err := c.service.AcceptInvite(r.Context(), code, password, address); err != nil {
		if tokenward.ErrorCode(err) == tokenward.EInvalid {
			return again(sentence(tokenward.ErrorMessage(err)))
		}
		return err
	}
	res, err := c.service.SignIn(r.Context(), tokenward.SignInAttempt{Email: a.Identifier, Password: password,
		Address: address, Device: deviceSecret(r)})
	if err != nil { // the password is set; signing in is left to the form
		http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
		return nil
	}
	setSessionCookie(w, r, res.Session, res.Expires)
	if err := c.putFlash(w, r, res.Session, flash{Notice: "Password set: welcome to the console."}); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
	return nil
}
