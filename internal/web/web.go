// Package web serves the console: server-rendered pages (html/template) with their assets,
// htmx among them, embedded in the binary. It authenticates people with a session cookie
// and calls the same tokenward.Service as the REST API, so both follow the same rules.
package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

//go:embed templates
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Config is what the console needs besides the service.
type Config struct {
	Org    string
	Logger *slog.Logger
	// TrustForwardedFor counts failures against X-Forwarded-For (edge.ClientAddress).
	TrustForwardedFor bool
}

// Console is the web console's handler.
type Console struct {
	service *tokenward.Service
	org     string
	logger  *slog.Logger
	cfg     Config
	pages   map[string]*template.Template
	mux     *http.ServeMux
	// csrf rejects cross-origin state-changing requests (by Sec-Fetch-Site, or Origin
	// against Host), so that another site cannot act with a signed-in user's cookie.
	csrf *http.CrossOriginProtection
	// table lists every route behind a session, for Routes.
	table []edge.Route
}

// New returns the console over service.
func New(service *tokenward.Service, cfg Config) *Console {
	c := &Console{service: service, org: cfg.Org, logger: cfg.Logger, cfg: cfg, pages: parsePages(), mux: http.NewServeMux(),
		csrf: http.NewCrossOriginProtection()}
	c.routes()
	return c
}

// routes registers every console route; this function and those it calls are the one
// place that lists them, each with the permission it needs.
func (c *Console) routes() {
	c.public("GET /console/static/", files(http.StripPrefix("/console/", http.FileServerFS(staticFiles))))
	c.public("GET /console/signin", c.signInForm)
	c.public("POST /console/signin", c.signIn)
	c.public("POST /console/signout", c.signOut)
	c.public("GET /console/set-password/{code}", c.setPasswordForm)
	c.public("POST /console/set-password/{code}", c.setPassword)
	c.route("GET /console/{$}", signedIn, c.home)

	// My profile → API Access.
	c.route("GET /console/profile/api-access", signedIn, c.apiAccess)
	c.route("POST /console/profile/tokens", signedIn, c.generateOwnToken)
	c.route("POST /console/profile/tokens/{id}/rename", signedIn, c.renameOwnToken)
	c.route("POST /console/profile/tokens/{id}/revoke", signedIn, c.revokeOwnToken)
	c.route("POST /console/profile/tokens/{id}/rotate", signedIn, c.rotateOwnToken)

	// Accounts: every route of these needs the Accounts permission (user_management).
	c.accountRoutes()
	c.roleAndGroupRoutes()
	c.orgTokenRoutes()
	c.route("GET /console/accounts/audit", tokenward.UserManagement, c.auditTrail)
	c.webhookRoutes()
	c.route("GET /console/accounts/token-policy", tokenward.UserManagement, c.tokenPolicy)
	c.route("POST /console/accounts/token-policy", tokenward.UserManagement, c.setTokenPolicy)

	// The question a form that cannot be undone asks, for browsers without JavaScript
	// (confirm.go); the form it posts checks its own permission.
	c.route("GET /console/confirm", signedIn, c.confirmPage)

	c.mux.HandleFunc("/console/", c.session(signedIn, func(http.ResponseWriter, *http.Request, tokenward.Principal) error {
		return errNoPage
	}))
}

// accountRoutes registers Accounts → Service Accounts and Accounts → Users.
func (c *Console) accountRoutes() {
	c.route("GET /console/accounts/service-accounts", tokenward.UserManagement, c.serviceAccounts)
	c.route("POST /console/accounts/service-accounts", tokenward.UserManagement, c.createServiceAccount)
	c.route("GET /console/accounts/service-accounts/{id}", tokenward.UserManagement, c.serviceAccount)
	c.route("POST /console/accounts/service-accounts/{id}", tokenward.UserManagement, c.updateServiceAccount)
	c.route("POST /console/accounts/service-accounts/{id}/active", tokenward.UserManagement, c.setServiceAccountActive)
	c.route("POST /console/accounts/service-accounts/{id}/delete", tokenward.UserManagement, c.deleteAccount)
	c.route("POST /console/accounts/service-accounts/{id}/tokens", tokenward.UserManagement, c.generateServiceAccountToken)
	c.route("POST /console/accounts/service-accounts/{id}/tokens/{token}/rename", tokenward.UserManagement, c.renameServiceAccountToken)
	c.route("POST /console/accounts/service-accounts/{id}/tokens/{token}/revoke", tokenward.UserManagement, c.revokeServiceAccountToken)
	c.route("POST /console/accounts/service-accounts/{id}/tokens/{token}/rotate", tokenward.UserManagement, c.rotateServiceAccountToken)
	c.route("POST /console/accounts/service-accounts/{id}/revoke-all", tokenward.UserManagement, c.revokeAccountTokens(tokenward.ServiceAccount))
	c.route("POST /console/accounts/service-accounts/{id}/roles/{op}", tokenward.UserManagement, c.changeAccountRoles)
	c.route("POST /console/accounts/service-accounts/{id}/groups/{op}", tokenward.UserManagement, c.changeAccountGroups)

	c.route("GET /console/accounts/users", tokenward.UserManagement, c.users)
	c.route("POST /console/accounts/users", tokenward.UserManagement, c.createUser)
	c.route("GET /console/accounts/users/{id}", tokenward.UserManagement, c.user)
	c.route("POST /console/accounts/users/{id}", tokenward.UserManagement, c.updateUser)
	c.route("POST /console/accounts/users/{id}/delete", tokenward.UserManagement, c.deleteAccount)
	c.route("POST /console/accounts/users/{id}/invite", tokenward.UserManagement, c.inviteUser)
	c.route("POST /console/accounts/users/{id}/revoke-all", tokenward.UserManagement, c.revokeAccountTokens(tokenward.UserAccount))
	c.route("POST /console/accounts/users/{id}/roles/{op}", tokenward.UserManagement, c.changeAccountRoles)
	c.route("POST /console/accounts/users/{id}/groups/{op}", tokenward.UserManagement, c.changeAccountGroups)
}

// roleAndGroupRoutes registers Accounts → Roles and Accounts → Groups. {op} is add or remove.
func (c *Console) roleAndGroupRoutes() {
	c.route("GET /console/accounts/roles", tokenward.UserManagement, c.roles)
	c.route("POST /console/accounts/roles", tokenward.UserManagement, c.createRole)
	c.route("GET /console/accounts/roles/{id}", tokenward.UserManagement, c.role)
	c.route("POST /console/accounts/roles/{id}", tokenward.UserManagement, c.updateRole)
	c.route("POST /console/accounts/roles/{id}/assignees/{op}", tokenward.UserManagement, c.changeRoleAssignees)
	c.route("POST /console/accounts/roles/{id}/delete", tokenward.UserManagement, c.deleteRole)

	c.route("GET /console/accounts/groups", tokenward.UserManagement, c.groups)
	c.route("POST /console/accounts/groups", tokenward.UserManagement, c.createGroup)
	c.route("GET /console/accounts/groups/{id}", tokenward.UserManagement, c.group)
	c.route("POST /console/accounts/groups/{id}", tokenward.UserManagement, c.updateGroup)
	c.route("POST /console/accounts/groups/{id}/members/{op}", tokenward.UserManagement, c.changeGroupMembers)
	c.route("POST /console/accounts/groups/{id}/roles/{op}", tokenward.UserManagement, c.changeGroupRoles)
	c.route("POST /console/accounts/groups/{id}/delete", tokenward.UserManagement, c.deleteGroup)
}

// orgTokenRoutes registers Accounts → API Tokens: the organization's tokens, their bulk
// revocation (§14: the selected rows, every match of the search; the job's page) and
// saved searches.
func (c *Console) orgTokenRoutes() {
	c.route("GET /console/accounts/api-tokens", tokenward.UserManagement, c.orgTokens)
	c.route("POST /console/accounts/api-tokens/revoke", tokenward.UserManagement, c.revokeOrgToken)
	c.route("POST /console/accounts/api-tokens/rotate", tokenward.UserManagement, c.rotateOrgToken)
	c.route("POST /console/accounts/api-tokens/revoke-selected", tokenward.UserManagement, c.revokeSelected)
	c.route("GET /console/accounts/api-tokens/revoke-matching", tokenward.UserManagement, c.revokeMatchingPage)
	c.route("POST /console/accounts/api-tokens/revoke-matching", tokenward.UserManagement, c.revokeMatching)
	c.route("GET /console/accounts/jobs/{id}", tokenward.UserManagement, c.job)
	c.route("POST /console/accounts/api-tokens/saved", tokenward.UserManagement, c.saveSearch)
	c.route("POST /console/accounts/api-tokens/saved/{id}/rename", tokenward.UserManagement, c.renameSavedSearch)
	c.route("POST /console/accounts/api-tokens/saved/{id}/delete", tokenward.UserManagement, c.deleteSavedSearch)
}

// webhookRoutes registers the Webhooks pages (reference §13).
func (c *Console) webhookRoutes() {
	c.route("GET /console/accounts/webhooks", tokenward.UserManagement, c.webhooks)
	c.route("POST /console/accounts/webhooks", tokenward.UserManagement, c.createWebhook)
	c.route("GET /console/accounts/webhooks/{id}", tokenward.UserManagement, c.webhook)
	c.route("POST /console/accounts/webhooks/{id}", tokenward.UserManagement, c.updateWebhook)
	c.route("POST /console/accounts/webhooks/{id}/delete", tokenward.UserManagement, c.deleteWebhook)
	c.route("POST /console/accounts/webhooks/{id}/deliveries/{d}/redeliver", tokenward.UserManagement, c.redeliver)
}

// files serves the console's static files but never a directory listing: what the
// console ships is nobody's business but the pages that use it.
func files(h http.Handler) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if strings.HasSuffix(r.URL.Path, "/") {
			return errNoPage
		}
		h.ServeHTTP(w, r)
		return nil
	}
}

// ServeHTTP serves a console request with the console's security headers and cross-origin
// protection on every state-changing request.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if err := c.csrf.Check(r); err != nil {
		c.render(w, r, http.StatusForbidden, "error", view{Title: "Request refused",
			Error: "This request came from another site and was refused. Reload the page and try again."})
		return
	}
	if err := c.checkText(w, r); err != nil {
		c.fail(w, r, err)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// checkText applies the API's text rules (edge.CheckRequestText) to the console's path,
// query and forms, before any handler reads them. The sign-in form is the exception: it
// takes any text, so that such an attempt is still counted and audited (signin.go).
func (c *Console) checkText(w http.ResponseWriter, r *http.Request) error {
	if err := edge.CheckRequestText(r); err != nil {
		return err
	}
	if r.Method != http.MethodPost || r.URL.Path == "/console/signin" {
		return nil
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	return edge.CheckValues("form field", r.PostForm)
}

// view is what every page template gets; Data holds the page's own values.
type view struct {
	Title   string
	Org     string
	Nav     string // the active navigation entry
	Me      tokenward.Principal
	IsAdmin bool
	Error   string
	Notice  string
	// Shown is what the page shows once: the flashes a form's redirect left for it.
	Shown shown
	Data  any
	Now   time.Time // the service's clock as the page is rendered, for relative times ("ago")
}

var funcs = template.FuncMap{
	// date is an instant as every page shows it, in a <time> that never wraps (a row of a
	// table stays one line high).
	"date": func(t time.Time) template.HTML {
		if t.IsZero() {
			return ""
		}
		t = t.UTC()
		return template.HTML(`<time datetime="` + t.Format(time.RFC3339) + `">` + t.Format("Jan 2, 2006 15:04 UTC") + `</time>`)
	},
	"masked":  func(hint string) string { return "••••" + hint },
	"ago":     ago,
	"cut":     cut,
	"visible": tokenward.Visible,
	"has": func(set any, p tokenward.Permission) bool {
		s, _ := set.(tokenward.PermissionSet) // a literal 0 in a template is an int: no permissions
		return s.Has(p)
	},
	"permName":      permissionName,
	"networks":      networksText, // restrict.go
	"networksField": networksField,
	"scope":         scopeText,
	"add":           func(a, b int) int { return a + b },
	"plural":        plural,
	"accountLink":   accountLink,
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

// parsePages parses each page with the layout it fills.
func parsePages() map[string]*template.Template {
	pages := map[string]*template.Template{}
	names, err := fs.Glob(templateFiles, "templates/pages/*.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		t := template.Must(template.New("").Funcs(funcs).ParseFS(templateFiles, "templates/layout/*.html", name))
		key := strings.TrimSuffix(strings.TrimPrefix(name, "templates/pages/"), ".html")
		pages[key] = t
	}
	return pages
}

// render writes a page. A request from htmx that targets a part of the page gets that
// part alone (the template named by HX-Target when the page defines it).
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	v.Org = c.org
	if v.Me.AccountID == 0 {
		v.Me = principal(r)
	}
	v.IsAdmin = v.Me.Permissions.Has(tokenward.UserManagement)
	v.Now = c.service.Now()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // pages may show a new secret, once
	t := c.pages[page]
	name := "layout"
	if target := r.Header.Get("HX-Target"); target != "" && r.Header.Get("HX-Request") == "true" && t.Lookup(target) != nil {
		name = target
	}
	// A waiting flash belongs to the next whole page shown, not to a fragment or an error.
	if name == "layout" && v.Notice == "" && r.Method == http.MethodGet && status == http.StatusOK {
		v.Shown = c.takeFlash(w, r)
	}
	// A page in answer to a form is a refusal shown where the form was (every success
	// redirects): htmx leaves the address on that page, so that a reload reloads it
	// rather than posting again.
	if r.Method == http.MethodPost && r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Push-Url", "false")
	}
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, name, v); err != nil {
		c.logger.Error("render console page", "page", page, "err", err)
	}
}

// plural counts things in words: "1 account", "2 accounts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// permissionName is the console's name of a permission.
func permissionName(p tokenward.Permission) string {
	if n, ok := permissionLabels[p]; ok {
		return n
	}
	return string(p)
}

var permissionLabels = map[tokenward.Permission]string{
	tokenward.TokenManagement: "API Tokens", tokenward.UserManagement: "Accounts", tokenward.Ingestion: "Direct Data Ingestion",
	tokenward.DashboardManagement: "Dashboards", tokenward.AlertsManagement: "Alerts", tokenward.EventsManagement: "Events",
	tokenward.LogManagement: "Logs", tokenward.DerivedMetricsManagement: "Derived Metrics", tokenward.HostTagManagement: "Source Tags",
	tokenward.AgentManagement: "Proxies", tokenward.EmbeddedCharts: "Embedded Charts", tokenward.MetricsManagement: "Metrics",
	tokenward.ExternalLinksManagement: "External Links", tokenward.ApplicationManagement: "Applications",
	tokenward.BatchQueryPriority: "Batch Query Priority", tokenward.SAMLSSOManagement: "SAML IdP Admin",
	tokenward.MonitoredApplicationServiceManagement: "Monitored Applications",
}

// formPermissions reads the permission checkboxes of a form.
func formPermissions(r *http.Request) (tokenward.PermissionSet, error) {
	var set tokenward.PermissionSet
	for _, name := range r.PostForm["permission"] {
		p, err := tokenward.ParsePermission(name)
		if err != nil {
			return 0, err
		}
		set |= tokenward.NewPermissionSet(p)
	}
	return set, nil
}

// formPermissionsOn reads the permission checkboxes of a form: a form that cannot be
// read fails outright, a permission that does not exist on the page back builds.
func formPermissionsOn(w http.ResponseWriter, r *http.Request, back func() (view, error)) (tokenward.PermissionSet, error) {
	if err := parseForm(w, r); err != nil {
		return 0, err
	}
	perms, err := formPermissions(r)
	return perms, onPage(err, back)
}

// parseForm reads a form body of at most 64 KiB.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return tokenward.Errorf(tokenward.EInvalid, "the form could not be read")
	}
	return nil
}

func jsonMarshal(v any) ([]byte, error)   { return json.Marshal(v) }
func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
