package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tokenward/tokenward"
)

// A flash is what a form's answer shows once, on the page its redirect leads to: the
// notice ("Token revoked."), a new token's secret. Every form answers with a redirect
// (Post/Redirect/Get), so that the address bar is always on a page that is safe to reload,
// bookmark and share; the flash waits on the server, sealed with the session's secret
// (tokenward.Service.PutFlash), never in the address nor in a cookie. Only the console's
// own handlers write one, so that a link cannot make a genuine-looking banner say what
// its author wants (issue "Hostile input"), and a reload does not show it again.
type flash struct {
	Notice string         `json:"notice,omitempty"`
	Secret *revealedToken `json:"secret,omitempty"`
	Invite *inviteLink    `json:"invite,omitempty"`
}

// revealedToken is a new token's secret, shown once.
type revealedToken struct {
	Secret string `json:"secret"`
	Name   string `json:"name,omitempty"`
	Kind   string `json:"kind,omitempty"` // "webhook": a webhook's signing secret; "": a token's
}

// The flash cookie only says that a flash waits, so that other pages need not ask the
// database; it carries nothing else.
const (
	flashCookieName       = "tokenward_flash"
	secureFlashCookieName = "__Host-tokenward_flash"
	maxNoticeBytes        = 1000 // notices are one sentence
)

func flashCookie(r *http.Request) string {
	if r.TLS != nil {
		return secureFlashCookieName
	}
	return flashCookieName
}

// setFlash keeps f for the next page the browser shows. Without a session there is
// nobody to show it to.
func (c *Console) setFlash(w http.ResponseWriter, r *http.Request, f flash) error {
	return c.putFlash(w, r, sessionSecret(r), f)
}

// putFlash is setFlash for the session whose secret is given (one just opened).
func (c *Console) putFlash(w http.ResponseWriter, r *http.Request, session string, f flash) error {
	if session == "" || (f.Notice == "" && f.Secret == nil && f.Invite == nil) {
		return nil
	}
	if len(f.Notice) > maxNoticeBytes {
		f.Notice = strings.ToValidUTF8(f.Notice[:maxNoticeBytes], "") + "…"
	}
	payload, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := c.service.PutFlash(r.Context(), session, payload); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie(r), Value: "1", Path: "/console/",
		MaxAge: int(tokenward.FlashLifetime.Seconds()), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	return nil
}

// takeFlash returns what waits for this page, and clears it so that it shows once.
// Several flashes (two forms answered before either page showed) are shown together.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) shown {
	if _, err := r.Cookie(flashCookie(r)); err != nil {
		return shown{}
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie(r), Value: "", Path: "/console/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	payloads, err := c.service.TakeFlashes(r.Context(), sessionSecret(r))
	if err != nil {
		c.logger.Error("read console flash", "err", err)
		return shown{}
	}
	var s shown
	for _, p := range payloads {
		var f flash
		if json.Unmarshal(p, &f) != nil {
			continue
		}
		if f.Notice != "" {
			s.Notices = append(s.Notices, f.Notice)
		}
		if f.Secret != nil {
			s.Secrets = append(s.Secrets, *f.Secret)
		}
		if f.Invite != nil {
			s.Invites = append(s.Invites, *f.Invite)
		}
	}
	return s
}

// shown is what a page shows once: the flashes waiting for it.
type shown struct {
	Notices []string
	Secrets []revealedToken
	Invites []inviteLink
}

// redirect answers a form post with a redirect to path, with f shown once there.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, path string, f flash) error {
	if err := c.setFlash(w, r, f); err != nil {
		return err
	}
	http.Redirect(w, r, path, http.StatusSeeOther)
	return nil
}
