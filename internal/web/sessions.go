package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
)

// Session cookie names. Under TLS the __Host- prefix makes the browser insist on Secure,
// Path=/ and no Domain, so that no other host or path can plant or read it.
const (
	cookieName       = "tokenward_session"
	secureCookieName = "__Host-tokenward_session"
)

func sessionCookieName(r *http.Request) string {
	if r.TLS != nil {
		return secureCookieName
	}
	return cookieName
}

// sessionSecret returns the session secret the request's cookie carries, or "".
func sessionSecret(r *http.Request) string {
	if ck, err := r.Cookie(sessionCookieName(r)); err == nil {
		return ck.Value
	}
	return ""
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, secret string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookieName(r), Value: secret, Path: "/", Expires: expires,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

type principalKey struct{}

// signedIn wraps a page that needs a live session: without one the browser goes to the
// sign-in form.
func (c *Console) signedIn(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := c.service.SessionPrincipal(r.Context(), sessionSecret(r))
		if errors.Is(err, tokenward.ErrNoSession) {
			clearSessionCookie(w, r)
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), principalKey{}, p)
		ctx = tokenward.WithActor(ctx, tokenward.Actor{Account: p.Account, Source: api.ClientAddress(r, c.cfg.TrustForwardedFor)})
		h(w, r.WithContext(ctx))
	}
}

// needAccounts wraps a page of the Accounts menu: it needs a live session and the Accounts
// permission (user_management). The check comes before the form is read, so that a refusal
// says nothing about the request; the service checks again, as for every caller.
func (c *Console) needAccounts(h http.HandlerFunc) http.HandlerFunc {
	return c.signedIn(func(w http.ResponseWriter, r *http.Request) {
		if err := tokenward.RequireAccounts(principal(r)); err != nil {
			c.fail(w, r, err)
			return
		}
		h(w, r)
	})
}

func principal(r *http.Request) tokenward.Principal {
	p, _ := r.Context().Value(principalKey{}).(tokenward.Principal)
	return p
}

func (c *Console) signInForm(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "signin", view{Title: "Sign in", Data: signInData{}})
}

type signInData struct{ Email string }

// signIn checks the form; a failure re-renders it with one message for every reason.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	account, address := strings.ToLower(strings.TrimSpace(email)), api.ClientAddress(r, c.cfg.TrustForwardedFor)
	// Over either budget, refuse before checking the password, so that guessing gains
	// nothing; the budgets count failures only.
	blockedAccount, waitAccount := c.cfg.SignInsPerAccount.Blocked(account)
	blockedAddress, waitAddress := c.cfg.SignInsPerAddress.Blocked(address)
	if blockedAccount || blockedAddress {
		c.tooManySignIns(w, r, email, max(waitAccount, waitAddress))
		return
	}
	ctx := tokenward.WithActor(r.Context(), tokenward.Actor{Source: address})
	secret, expires, err := c.service.SignIn(ctx, email, password)
	if errors.Is(err, tokenward.ErrBadSignIn) {
		c.cfg.SignInsPerAccount.Fail(account)
		c.cfg.SignInsPerAddress.Fail(address)
		c.logger.Info("console sign-in failed", "remote", r.RemoteAddr)
		c.render(w, r, http.StatusUnauthorized, "signin", view{Title: "Sign in", Error: sentence(tokenward.ErrBadSignIn.Message),
			Data: signInData{Email: email}})
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	setSessionCookie(w, r, secret, expires)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) tooManySignIns(w http.ResponseWriter, r *http.Request, email string, wait time.Duration) {
	err := &tokenward.Error{Code: tokenward.ETooMany, RetryAfter: wait,
		Message: fmt.Sprintf("too many failed sign-ins; try again in %s", wait.Round(time.Second))}
	api.SetRetryAfter(w, err)
	c.render(w, r, http.StatusTooManyRequests, "signin", view{Title: "Sign in", Error: sentence(err.Message), Data: signInData{Email: email}})
}

// signOut ends the session on the server, so that a copied cookie stops working too.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) {
	if secret := sessionSecret(r); secret != "" {
		if err := c.service.SignOut(r.Context(), secret); err != nil {
			c.logger.Error("console sign-out", "err", err)
		}
	}
	clearSessionCookie(w, r)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}

// home sends a signed-in person to their API Access page.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/console/profile/api-access", http.StatusSeeOther)
}
