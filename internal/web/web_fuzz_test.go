package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
	"github.com/tokenward/tokenward/internal/web"
)

// fuzzConsole is one server with the console over SQLite for a whole fuzz target, and a
// browser signed in to it as an administrator. State accumulates between iterations; the
// session and the fixtures are recreated when an iteration ends or deletes them.
type fuzzConsole struct {
	srv     *httptest.Server
	base    *url.URL
	db      *store.DB
	service *tokenward.Service
	logs    *testkit.Buffer // the warnings and errors logged since the last reset
	browser *http.Client

	me            string // the signed-in administrator
	cookieName    string
	sessionSecret string

	// Fixtures that inputs name with placeholders, so that the fuzzer reaches the handlers'
	// success paths: testkit's (@saved is a saved search of me), and @own (a token of me),
	// @role, @group and @everyone (the built-in group's id).
	fixtures                   *testkit.FuzzFixtures
	own, role, group, everyone string
}

func newFuzzConsole(f *testing.F) *fuzzConsole {
	f.Helper()
	db := storetest.Open(f, store.SQLite)
	service := tokenward.NewService(tokenward.Config{Store: db})
	logs := &testkit.Buffer{Limit: 64 << 10}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := api.New(service, api.Config{Org: "acme", Logger: logger, Console: web.New(service, web.Config{Org: "acme", Logger: logger})})
	srv := httptest.NewServer(h)
	f.Cleanup(srv.Close)
	base, err := url.Parse(srv.URL)
	if err != nil {
		f.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	browser := srv.Client()
	browser.Jar = jar
	browser.Timeout = 10 * time.Second
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &fuzzConsole{srv: srv, base: base, db: db, service: service, logs: logs, browser: browser,
		fixtures: &testkit.FuzzFixtures{Service: service, SavedQuery: `{"fixture":"type=SERVICE_ACCOUNT"}`}}

	// Sign in once through the form: the one password hash of the whole target.
	c.me = "fuzz-console@example.com"
	if _, err := tokenward.NewOperator(service).CreateUser(context.Background(), c.me,
		tokenward.NewPermissionSet(tokenward.UserManagement, tokenward.TokenManagement), password); err != nil {
		f.Fatal(err)
	}
	form := url.Values{"email": {c.me}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/console/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := browser.Do(req)
	if err != nil {
		f.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		f.Fatalf("sign-in: %d, want 303", res.StatusCode)
	}
	for _, ck := range jar.Cookies(base) {
		if strings.Contains(ck.Name, "session") {
			c.cookieName, c.sessionSecret = ck.Name, ck.Value
		}
	}
	if c.sessionSecret == "" {
		f.Fatalf("sign-in set no session cookie")
	}
	c.ensureFixtures(f)
	return c
}

// ensureSession makes the browser's session that of a live administrator. When an
// iteration signed out, or deleted or demoted the account, it signs in a new administrator
// by writing a session to the database: signing in through the form would hash a password.
func (c *fuzzConsole) ensureSession(t testing.TB) tokenward.Principal {
	t.Helper()
	ctx := context.Background()
	p, err := c.service.SessionPrincipal(ctx, c.sessionSecret)
	if err == nil && p.Permissions.Has(tokenward.UserManagement) && p.Permissions.Has(tokenward.TokenManagement) {
		return p
	}
	c.me = fmt.Sprintf("fuzz-console-%d@example.com", c.fixtures.Fresh())
	a, err := tokenward.NewOperator(c.service).CreateUser(ctx, c.me, tokenward.NewPermissionSet(tokenward.UserManagement, tokenward.TokenManagement), "")
	if err != nil {
		t.Fatalf("create administrator %s: %v", c.me, err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	c.sessionSecret = rand.Text()
	s := tokenward.Session{AccountID: a.ID, Created: now, LastSeen: now, Expires: now.Add(tokenward.DefaultSessionMax)}
	if err := c.db.CreateSession(ctx, s, sha256.Sum256([]byte(c.sessionSecret)), tokenward.AuditEvent{At: now, Source: "127.0.0.1"}); err != nil {
		t.Fatalf("create a session of %s: %v", c.me, err)
	}
	c.browser.Jar.SetCookies(c.base, []*http.Cookie{{Name: c.cookieName, Value: c.sessionSecret, Path: "/"}})
	p, err = c.service.SessionPrincipal(ctx, c.sessionSecret)
	if err != nil {
		t.Fatalf("the new session of %s does not work: %v", c.me, err)
	}
	c.own, c.fixtures.Saved = "", "" // those belonged to the previous administrator
	return p
}

// ensureFixtures recreates the placeholders' fixtures that earlier requests removed.
func (c *fuzzConsole) ensureFixtures(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	p := c.ensureSession(t)
	c.fixtures.Ensure(t, p)
	if _, err := c.service.Role(ctx, p, c.role); c.role == "" || err != nil {
		r, err := c.service.CreateRole(ctx, p, tokenward.RoleWrite{Name: ptr(fmt.Sprintf("fuzz-role-%d", c.fixtures.Fresh()))})
		if err != nil {
			t.Fatalf("create role: %v", err)
		}
		c.role = r.ID
	}
	if _, err := c.service.Group(ctx, p, c.group); c.group == "" || err != nil {
		g, err := c.service.CreateGroup(ctx, p, tokenward.GroupWrite{Name: ptr(fmt.Sprintf("fuzz-group-%d", c.fixtures.Fresh()))})
		if err != nil {
			t.Fatalf("create group: %v", err)
		}
		c.group = g.ID
	}
	if c.everyone == "" {
		groups, err := c.service.SearchGroups(ctx, p, tokenward.SearchRequest{Query: []tokenward.SearchCondition{
			{Key: "name", Value: tokenward.EveryoneGroupName, MatchingMethod: tokenward.MatchExact}}})
		if err != nil || len(groups.Items) != 1 {
			t.Fatalf("find the Everyone group: %v, %v", groups.Items, err)
		}
		c.everyone = groups.Items[0].ID
	}
	if c.own == "" || !c.ownTokenLive(ctx, p) {
		_, tok, err := tokenward.NewOperator(c.service).GenerateToken(ctx, c.me, "own")
		if err != nil { // full: the fuzzer generated the rest; revoke one to make room
			tokens, _ := c.service.OwnTokens(ctx, p)
			if len(tokens) > 0 {
				c.service.RevokeOwnToken(ctx, p, tokens[0].ID)
			}
			_, tok, err = tokenward.NewOperator(c.service).GenerateToken(ctx, c.me, "own")
		}
		if err != nil {
			t.Fatalf("token for %s: %v", c.me, err)
		}
		c.own = tok.ID
	}
}

func (c *fuzzConsole) ownTokenLive(ctx context.Context, p tokenward.Principal) bool {
	tokens, err := c.service.OwnTokens(ctx, p)
	if err != nil {
		return false
	}
	for _, tok := range tokens {
		if tok.ID == c.own {
			return true
		}
	}
	return false
}

// substitute replaces the placeholders in s with the fixtures' identifiers.
func (c *fuzzConsole) substitute(s string) string {
	return c.fixtures.Substitute(s, "@own", c.own, "@me", c.me, "@role", c.role, "@group", c.group, "@everyone", c.everyone)
}

// fuzzConsoleRoutes are the console's POST routes (web.go's routes()) and one it lacks;
// routes added since come last, so that the stored corpus's route numbers keep naming the
// routes they were found on. {token} stands for the last segment when it is an operation
// (add, remove) too.
var fuzzConsoleRoutes = []string{
	"/console/profile/tokens",
	"/console/profile/tokens/{id}/rename",
	"/console/profile/tokens/{id}/revoke",
	"/console/accounts/service-accounts",
	"/console/accounts/service-accounts/{id}",
	"/console/accounts/service-accounts/{id}/active",
	"/console/accounts/service-accounts/{id}/delete",
	"/console/accounts/service-accounts/{id}/tokens",
	"/console/accounts/service-accounts/{id}/tokens/{token}/rename",
	"/console/accounts/service-accounts/{id}/tokens/{token}/revoke",
	"/console/accounts/users",
	"/console/accounts/users/{id}",
	"/console/accounts/users/{id}/delete",
	"/console/accounts/api-tokens/revoke",
	"/console/accounts/api-tokens/saved",
	"/console/accounts/api-tokens/saved/{id}/rename",
	"/console/accounts/api-tokens/saved/{id}/delete",
	"/console/signout",
	"/console/{id}",
	"/console/accounts/roles",
	"/console/accounts/roles/{id}",
	"/console/accounts/roles/{id}/assignees/{token}",
	"/console/accounts/roles/{id}/delete",
	"/console/accounts/groups",
	"/console/accounts/groups/{id}",
	"/console/accounts/groups/{id}/members/{token}",
	"/console/accounts/groups/{id}/roles/{token}",
	"/console/accounts/groups/{id}/delete",
	"/console/accounts/users/{id}/roles/{token}",
	"/console/accounts/users/{id}/groups/{token}",
	"/console/accounts/service-accounts/{id}/roles/{token}",
	"/console/accounts/service-accounts/{id}/groups/{token}",
	"/console/accounts/users/{id}/invite",
	"/console/set-password/{id}",
	"/console/profile/tokens/{id}/rotate",
	"/console/accounts/service-accounts/{id}/tokens/{token}/rotate",
	"/console/accounts/api-tokens/rotate",
	"/console/accounts/token-policy",
}

// fuzzRoute returns the index of a route in fuzzConsoleRoutes, for the seeds.
func fuzzRoute(pattern string) byte {
	for i, r := range fuzzConsoleRoutes {
		if r == pattern {
			return byte(i)
		}
	}
	panic("no route " + pattern)
}

// checkLocation fails t unless loc, a redirect's target, stays in the console of this site.
func (c *fuzzConsole) checkLocation(t *testing.T, what, loc string) {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		// A browser resolves what Go cannot parse; judge it by its text alone.
		u = &url.URL{Path: loc}
	}
	resolved := c.base.ResolveReference(u)
	// Browsers read '\' as '/' in an http URL: "/\evil.example" is "//evil.example".
	slashed := strings.ReplaceAll(loc, `\`, "/")
	switch {
	case u.Scheme != "" || u.Host != "" || strings.HasPrefix(slashed, "//") || resolved.Host != c.base.Host:
		t.Fatalf("%s: open redirect to %q", what, loc)
	case !strings.HasPrefix(loc, "/console/") || strings.HasPrefix(slashed, "/console//"):
		t.Fatalf("%s: redirect to %q, outside the console", what, loc)
	}
}

func FuzzConsoleForms(f *testing.F) {
	type seed struct {
		route     string
		id, token string
		body      string
	}
	seeds := []seed{
		{"/console/profile/tokens", "", "", "name=laptop"},
		{"/console/profile/tokens", "", "", ""},
		{"/console/profile/tokens", "", "", "name=" + strings.Repeat("x", 129)},
		{"/console/profile/tokens", "", "", "name=%00"},
		{"/console/profile/tokens", "", "", "name=%ZZ"},
		{"/console/profile/tokens", "", "", "name=a&name=b;c"},
		{"/console/profile/tokens/{id}/rename", "@own", "", "name=renamed"},
		{"/console/profile/tokens/{id}/rename", "tw_aaaaaaaaaaaaaaaa", "", "name=renamed"},
		{"/console/profile/tokens/{id}/rename", "", "", "name=x"},
		{"/console/profile/tokens/{id}/rename", "..", "", "name=x"},
		{"/console/profile/tokens/{id}/revoke", "@own", "", ""},
		{"/console/profile/tokens/{id}/revoke", "00000000-0000-4000-8000-000000000000", "", ""},
		{"/console/accounts/service-accounts", "", "", "identifier=sa::ci&description=CI+bot&permission=ingestion&token=on&token_name=first"},
		{"/console/accounts/service-accounts", "", "", "identifier=ci2&permission=token_management"},
		{"/console/accounts/service-accounts", "", "", "identifier=bad+name&permission=nope"},
		{"/console/accounts/service-accounts", "", "", "identifier=" + strings.Repeat("a", 70)},
		{"/console/accounts/service-accounts/{id}", "@sa", "", "description=updated&permission=events_management&permission=ingestion"},
		{"/console/accounts/service-accounts/{id}", "sa::nobody", "", "description=x"},
		{"/console/accounts/service-accounts/{id}", "@sa", "", "description=%3Cscript%3Ealert(1)%3C%2Fscript%3E"},
		{"/console/accounts/service-accounts", "", "", "identifier=%3Cscript%3Ealert(1)%3C%2Fscript%3E"},
		{"/console/accounts/service-accounts/{id}/active", "@sa", "", "active=false"},
		{"/console/accounts/service-accounts/{id}/active", "@sa", "", "active=true"},
		{"/console/accounts/service-accounts/{id}/delete", "@sa", "", ""},
		{"/console/accounts/service-accounts/{id}/delete", "@user", "", ""},
		{"/console/accounts/service-accounts/{id}/tokens", "@sa", "", "name=deploy"},
		{"/console/accounts/service-accounts/{id}/tokens/{token}/rename", "@sa", "@token", "name=renamed"},
		{"/console/accounts/service-accounts/{id}/tokens/{token}/rename", "SA::FUZZ", "@token", "name=renamed"},
		{"/console/accounts/service-accounts/{id}/tokens/{token}/revoke", "@sa", "@token", ""},
		{"/console/accounts/users", "", "", "email=new%40example.com&permission=ingestion"},
		{"/console/accounts/users", "", "", "email=not+an+email"},
		{"/console/accounts/users/{id}", "@user", "", "permission=ingestion&permission=alerts_management"},
		{"/console/accounts/users/{id}", "@me", "", ""},
		{"/console/accounts/users/{id}/delete", "@user", "", ""},
		{"/console/accounts/users/{id}/delete", "@me", "", ""},
		{"/console/accounts/api-tokens/revoke", "", "", "token=@token&return=%2Fconsole%2Faccounts%2Fapi-tokens%3Ftype%3DSERVICE_ACCOUNT"},
		{"/console/accounts/api-tokens/revoke", "", "", "token=@token&return=https%3A%2F%2Fevil.example"},
		{"/console/accounts/api-tokens/revoke", "", "", "token=@token&return=%2F%2Fevil.example"},
		{"/console/accounts/api-tokens/revoke", "", "", "token=@token&return=%2Fconsole%2Faccounts%2Fapi-tokens.evil.example"},
		{"/console/accounts/api-tokens/revoke", "", "", "token=@token&return=/console/accounts/api-tokens?x=1#frag"},
		{"/console/accounts/api-tokens/revoke", "", "", "token=nope&return=https://evil.example"},
		{"/console/accounts/api-tokens/revoke", "", "", "token=@token&return=/console/accounts/api-tokens/../api-tokens?q=x"},
		{"/console/accounts/api-tokens/revoke", "", "", "token=@token&return=/console/accounts/api-tokens/./x/..%5Cy"},
		{"/console/accounts/api-tokens/saved", "", "", "name=mine&query=type%3DSERVICE_ACCOUNT%26sort%3Dname"},
		{"/console/accounts/api-tokens/saved", "", "", "name=mine&query=%23%2F%2Fevil.example"},
		{"/console/accounts/api-tokens/saved", "", "", "name=+&query=x"},
		{"/console/accounts/api-tokens/saved/{id}/rename", "@saved", "", "name=renamed&return=https://evil.example"},
		{"/console/accounts/api-tokens/saved/{id}/rename", "@saved", "", "name=renamed&return=//evil.example"},
		{"/console/accounts/api-tokens/saved/{id}/rename", "@saved", "", "name=renamed&return=/console/accounts/api-tokens?q=x"},
		{"/console/accounts/api-tokens/saved/{id}/delete", "@saved", "", "return=https://evil.example"},
		{"/console/accounts/api-tokens/saved/{id}/delete", "@saved", "", "return=//evil.example"},
		{"/console/accounts/api-tokens/saved/{id}/delete", "nope", "", "return=%2Fconsole%2Faccounts%2Fapi-tokens"},
		{"/console/signout", "", "", ""},
		{"/console/{id}", "nope", "", "x=1"},
		{"/console/{id}", "static", "", ""},
		{"/console/accounts/users/{id}", "é\x00\xff", "", "permission=%C3%A9&permission=%FF"},
		{"/console/accounts/service-accounts", "", "", "identifier=sa::x&description=" + strings.Repeat("d", 3000)},
		{"/console/accounts/roles", "", "", "name=Deployers&description=ship&permission=ingestion&permission=events_management"},
		{"/console/accounts/roles", "", "", "name=%3Cscript%3Ealert(1)%3C%2Fscript%3E&description=%3Cscript%3Ealert(1)%3C%2Fscript%3E"},
		{"/console/accounts/roles", "", "", "name=+&permission=nope"},
		{"/console/accounts/roles", "", "", "name=" + strings.Repeat("r", 129)},
		{"/console/accounts/roles/{id}", "@role", "", "name=renamed&permission=alerts_management"},
		{"/console/accounts/roles/{id}", "nope", "", "name=x"},
		{"/console/accounts/roles/{id}/assignees/{token}", "@role", "add", "assignee=@user&assignee=@sa&assignee=@group"},
		{"/console/accounts/roles/{id}/assignees/{token}", "@role", "remove", "assignee=@user"},
		{"/console/accounts/roles/{id}/assignees/{token}", "@role", "add", "assignee=nobody"},
		{"/console/accounts/roles/{id}/assignees/{token}", "@role", "sideways", "assignee=@user"},
		{"/console/accounts/roles/{id}/delete", "@role", "", ""},
		{"/console/accounts/groups", "", "", "name=Ops&description=on+call&role=@role"},
		{"/console/accounts/groups", "", "", "name=Ghosts&role=00000000-0000-4000-8000-000000000000"},
		{"/console/accounts/groups/{id}", "@group", "", "name=renamed&description=%3Cscript%3Ealert(1)%3C%2Fscript%3E"},
		{"/console/accounts/groups/{id}", "@everyone", "", "name=All"},
		{"/console/accounts/groups/{id}/members/{token}", "@group", "add", "member=@user&member=@sa"},
		{"/console/accounts/groups/{id}/members/{token}", "@everyone", "add", "member=@user"},
		{"/console/accounts/groups/{id}/members/{token}", "@group", "remove", "member=@me"},
		{"/console/accounts/groups/{id}/roles/{token}", "@group", "add", "role=@role"},
		{"/console/accounts/groups/{id}/roles/{token}", "@everyone", "remove", "role=@role"},
		{"/console/accounts/groups/{id}/delete", "@group", "", ""},
		{"/console/accounts/groups/{id}/delete", "@everyone", "", ""},
		{"/console/accounts/users/{id}/roles/{token}", "@user", "add", "role=@role"},
		{"/console/accounts/users/{id}/groups/{token}", "@user", "add", "group=@group&group=@everyone"},
		{"/console/accounts/users/{id}/groups/{token}", "@sa", "add", "group=@group"},
		{"/console/accounts/service-accounts/{id}/roles/{token}", "@sa", "add", "role=@role"},
		{"/console/accounts/service-accounts/{id}/groups/{token}", "@sa", "remove", "group=@group"},
		{"/console/accounts/service-accounts/{id}/groups/{token}", "@sa", "add", ""},
		{"/console/accounts/users/{id}/invite", "@user", "", ""},
		{"/console/accounts/users/{id}/invite", "@sa", "", ""},
		{"/console/set-password/{id}", "AAAAAAAAAAAAAAAAAAAAAAAAAA", "", "password=long+enough+password&confirm=long+enough+password"},
	}
	for _, s := range seeds {
		f.Add(fuzzRoute(s.route), s.id, s.token, []byte(s.body))
	}
	c := newFuzzConsole(f)
	f.Fuzz(func(t *testing.T, route byte, id, token string, body []byte) {
		if len(body) > 4<<10 || len(id) > 512 || len(token) > 512 {
			t.Skip("too large for a fuzz iteration")
		}
		pattern := fuzzConsoleRoutes[int(route)%len(fuzzConsoleRoutes)]
		if strings.ContainsRune(id, '@') || strings.ContainsRune(token, '@') || bytes.ContainsRune(body, '@') {
			c.ensureFixtures(t)
		}
		c.ensureSession(t)
		target := strings.NewReplacer("{id}", url.PathEscape(c.substitute(id)),
			"{token}", url.PathEscape(c.substitute(token))).Replace(pattern)
		form := c.substitute(string(body))
		req, err := http.NewRequest(http.MethodPost, c.srv.URL+target, strings.NewReader(form))
		if err != nil {
			t.Fatalf("request for %q: %v", target, err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		c.logs.Reset()
		res, err := c.browser.Do(req)
		if err != nil {
			t.Fatalf("POST %s with %q: no valid HTTP response: %v", target, form, err)
		}
		page, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatalf("POST %s: reading the body: %v", target, err)
		}
		what := fmt.Sprintf("POST %s with %q", target, form)
		t.Logf("%s: %d %s", what, res.StatusCode, res.Header.Get("Location"))
		if res.StatusCode >= 500 {
			t.Fatalf("%s: %d\nserver log:\n%s\npage:\n%s", what, res.StatusCode, c.logs.String(), page)
		}
		if escaped := req.URL.EscapedPath(); testkit.CleanPath(escaped) != escaped {
			// net/http's ServeMux redirects an unclean path to the clean one.
			if res.StatusCode != http.StatusTemporaryRedirect && res.StatusCode != http.StatusMovedPermanently {
				t.Fatalf("%s: %d for an unclean path, want a redirect", what, res.StatusCode)
			}
			c.checkLocation(t, what, res.Header.Get("Location"))
			return
		}
		if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d without the console's security headers: %v", what, res.StatusCode, res.Header)
		}
		if res.StatusCode == http.StatusSeeOther {
			c.checkLocation(t, what, res.Header.Get("Location"))
			return
		}
		if res.StatusCode >= 300 && res.StatusCode < 400 {
			t.Fatalf("%s: %d to %q, want 303 for a form", what, res.StatusCode, res.Header.Get("Location"))
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("%s: %d with Content-Type %q, want an HTML page", what, res.StatusCode, ct)
		}
		if bytes.Contains(bytes.ToLower(page), []byte("<script>alert")) {
			t.Fatalf("%s: %d page carries the input's markup unescaped:\n%s", what, res.StatusCode, page)
		}
		if !bytes.Contains(page, []byte("</html>")) {
			t.Fatalf("%s: %d with an incomplete page:\n%s", what, res.StatusCode, page)
		}
	})
}
