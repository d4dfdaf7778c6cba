package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// cookie is a cookie of the console: its name on plain HTTP and under TLS, where a prefix
// has the browser insist on Secure.
type cookie struct{ plain, secure string }

// name is the cookie's name on the request's connection.
func (c cookie) name(r *http.Request) string {
	if r.TLS != nil {
		return c.secure
	}
	return c.plain
}

// value returns the secret the request's cookie carries, or "".
func (c cookie) value(r *http.Request) string {
	if ck, err := r.Cookie(c.name(r)); err == nil {
		return ck.Value
	}
	return ""
}

// The session cookie. Under TLS the __Host- prefix makes the browser insist on Secure,
// Path=/ and no Domain, so that no other host or path can plant or read it.
var sessionCookie = cookie{plain: "tokenward_session", secure: "__Host-tokenward_session"}

// sessionSecret returns the session secret the request's cookie carries, or "".
func sessionSecret(r *http.Request) string { return sessionCookie.value(r) }

func setSessionCookie(w http.ResponseWriter, r *http.Request, secret string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie.name(r), Value: secret, Path: "/", Expires: expires,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

func clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie.name(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
}

type principalKey struct{}

// signedIn is the permission of pages any signed-in person may see (their own API Access).
const signedIn tokenward.Permission = ""

// Routes returns every route and the permission it needs, in registration order.
func (c *Console) Routes() []edge.Route { return slices.Clone(c.table) }

// route registers a page behind a live session and the permission it needs (signedIn for
// none), on the route's own line. The check comes before the form is read, so that a
// refusal says nothing about the request; the service checks again, as for every caller.
func (c *Console) route(pattern string, needs tokenward.Permission, h edge.Handler) {
	c.table = append(c.table, edge.Route{Pattern: pattern, Needs: needs})
	c.mux.HandleFunc(pattern, c.session(needs, h))
}

// public registers a route that needs no session: the sign-in form and static files.
// Their failures are answered as every page's are (fail).
func (c *Console) public(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
	c.table = append(c.table, edge.Route{Pattern: pattern, Public: true})
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			c.fail(w, r, err)
		}
	})
}

// session runs h for the person a live session speaks for, once they hold needs: without
// a session the browser goes to the sign-in form. Whatever fails, the session, the
// permission or h, is answered here and nowhere else (fail).
func (c *Console) session(needs tokenward.Permission, h edge.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := c.service.SessionPrincipal(r.Context(), sessionSecret(r))
		if errors.Is(err, tokenward.ErrNoSession) {
			clearSessionCookie(w, r)
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		if err == nil {
			p.Source = edge.ClientAddress(r, c.cfg.TrustForwardedFor)
			// The pages rendered for this request, error pages included, show who is signed in.
			r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
			if needs != signedIn {
				err = tokenward.RequireFor(p, needs)
			}
		}
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			c.fail(w, r, err)
		}
	}
}

func principal(r *http.Request) tokenward.Principal {
	p, _ := r.Context().Value(principalKey{}).(tokenward.Principal)
	return p
}

func (c *Console) signInForm(w http.ResponseWriter, r *http.Request) error {
	c.render(w, r, http.StatusOK, "signin", view{Title: "Sign in", Data: signInData{}})
	return nil
}

type signInData struct{ Email string }

// signIn checks the form; a failure re-renders it with one message for every reason. The
// service applies the sign-in budgets and the cap on checks running at once (signin.go).
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	attempt := tokenward.SignInAttempt{Email: email, Password: password,
		Address: edge.ClientAddress(r, c.cfg.TrustForwardedFor), Device: deviceSecret(r)}
	res, err := c.service.SignIn(r.Context(), attempt)
	shown := signInData{Email: strings.ToValidUTF8(email, "\uFFFD")}
	switch tokenward.ErrorCode(err) {
	case "":
	case tokenward.EUnauthorized:
		c.logger.Info("console sign-in failed", "remote", r.RemoteAddr)
		c.render(w, r, http.StatusUnauthorized, "signin", view{Title: "Sign in", Error: sentence(tokenward.ErrBadSignIn.Message), Data: shown})
		return nil
	case tokenward.ETooMany, tokenward.EUnavailable:
		c.logger.Info("console sign-in refused before its check", "remote", r.RemoteAddr, "reason", tokenward.ErrorCode(err))
		edge.SetRetryAfter(w, err)
		c.render(w, r, edge.Status(err), "signin", view{Title: "Sign in", Error: sentence(tokenward.ErrorMessage(err)), Data: shown})
		return nil
	default:
		return err
	}
	setSessionCookie(w, r, res.Session, res.Expires)
	http.SetCookie(w, &http.Cookie{Name: deviceCookie.name(r), Value: res.Device, Path: "/console/signin",
		MaxAge: int(res.DeviceLifetime / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
	return nil
}

// The device cookie marks a browser that signed in before: its failed sign-ins spend a
// budget of its own, so that strangers guessing an account's password cannot lock its
// owner out. Only the sign-in form reads it.
var deviceCookie = cookie{plain: "tokenward_device", secure: "__Secure-tokenward_device"}

func deviceSecret(r *http.Request) string { return deviceCookie.value(r) }

// signOut ends the session on the server, so that a copied cookie stops working too.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request) error {
	if secret := sessionSecret(r); secret != "" {
		if err := c.service.SignOut(r.Context(), secret); err != nil {
			c.logger.Error("console sign-out", "err", err)
		}
	}
	clearSessionCookie(w, r)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
	return nil
}

// home sends a signed-in person to their API Access page.
func (c *Console) home(w http.ResponseWriter, r *http.Request, _ tokenward.Principal) error {
	http.Redirect(w, r, "/console/profile/api-access", http.StatusSeeOther)
	return nil
}
