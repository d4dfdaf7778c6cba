// Package web serves the console: server-rendered pages (html/template) with their assets
// embedded in the binary. It authenticates people with a session cookie and calls the same
// tokenward.Service as the REST API, so both follow the same rules.
package web

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/tokenward/tokenward"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Console is the web console's handler.
type Console struct {
	service *tokenward.Service
	org     string
	logger  *slog.Logger
	pages   *template.Template
	mux     *http.ServeMux
	// csrf rejects cross-origin state-changing requests (by Sec-Fetch-Site, or Origin
	// against Host), so that another site cannot act with a signed-in user's cookie.
	csrf *http.CrossOriginProtection
}

// New returns the console over service for the organization org.
func New(service *tokenward.Service, org string, logger *slog.Logger) *Console {
	c := &Console{
		service: service, org: org, logger: logger,
		pages: template.Must(template.New("").Funcs(template.FuncMap{
			"date": func(t time.Time) string {
				if t.IsZero() {
					return "never"
				}
				return t.UTC().Format("2006-01-02 15:04 UTC")
			},
		}).ParseFS(templateFiles, "templates/*.html")),
		mux:  http.NewServeMux(),
		csrf: http.NewCrossOriginProtection(),
	}
	c.routes()
	return c
}

// routes registers every console route.
func (c *Console) routes() {
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/", http.FileServerFS(staticFiles)))
	c.mux.HandleFunc("GET /console/signin", c.signInForm)
	c.mux.HandleFunc("POST /console/signin", c.signIn)
	c.mux.HandleFunc("POST /console/signout", c.signOut)
	c.mux.HandleFunc("GET /console/{$}", c.signedIn(c.home))
}

// ServeHTTP serves a console request with the console's security headers and cross-origin
// protection on every state-changing request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if err := c.csrf.Check(r); err != nil {
		c.renderError(w, r, http.StatusForbidden, "This request came from another site and was refused. Reload the page and try again.")
		return
	}
	c.mux.ServeHTTP(w, r)
}

// page is what every template gets.
type page struct {
	Title   string
	Org     string
	Account string // the signed-in account, if any
	Error   string
	Email   string // sign-in form: the email typed, kept on failure
	Perms   []tokenward.Permission
	Since   time.Time
}

func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	p.Org = c.org
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := c.pages.ExecuteTemplate(w, name, p); err != nil {
		c.logger.Error("render console page", "page", name, "err", err)
	}
}

func (c *Console) renderError(w http.ResponseWriter, r *http.Request, status int, message string) {
	c.render(w, status, "error.html", page{Title: http.StatusText(status), Error: message})
}
