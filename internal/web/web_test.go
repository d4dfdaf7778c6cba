package web_test

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
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

type env struct {
	t       *testing.T
	srv     *httptest.Server
	service *tokenward.Service
	clock   *testkit.Clock
	db      *store.DB
}

const password = "correct horse battery staple"

// home is the page a signed-in person lands on.
const home = "/console/profile/api-access"

func newEnv(t *testing.T, engine store.Engine, tls bool) *env {
	t.Helper()
	return newEnvWith(t, engine, tls, web.Config{}, tokenward.Config{})
}

// newEnvWith is newEnv with the console's configuration and the service's (its store and
// clock are the env's; its sessions last 30 minutes idle and 8 hours at most unless set).
func newEnvWith(t *testing.T, engine store.Engine, tls bool, cfg web.Config, svc tokenward.Config) *env {
	t.Helper()
	db := storetest.Open(t, engine)
	c := testkit.NewClock()
	svc.Store, svc.Now = db, c.Now
	svc.SessionIdle, svc.SessionMax = cmp.Or(svc.SessionIdle, 30*time.Minute), cmp.Or(svc.SessionMax, 8*time.Hour)
	service := tokenward.NewService(svc)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Org, cfg.Logger = "acme", logger
	h := api.New(service, api.Config{Org: "acme", Logger: logger, Console: web.New(service, cfg)})
	srv := httptest.NewUnstartedServer(h)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	if _, err := tokenward.NewOperator(service).CreateUser(context.Background(), "jane@example.com",
		tokenward.NewPermissionSet(tokenward.TokenManagement, tokenward.UserManagement), password); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, service: service, clock: c, db: db}
}

// browser returns a client with its own cookie jar that does not follow redirects, so
// that each response can be checked. The jar expires cookies by the service's clock, as a
// browser would by the same wall clock as the server. It is a copy of the server's client:
// srv.Client() returns the same client every time, so setting its jar would give every
// browser of a test the last one's cookies.
func (e *env) browser() *http.Client {
	c := *e.srv.Client()
	c.Jar = testkit.NewJar(e.clock.Now)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

type result struct {
	status int
	header http.Header
	body   string
}

func (e *env) send(c *http.Client, method, path string, form url.Values, headers ...string) result {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return result{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (e *env) signIn(c *http.Client, email, pw string) result {
	return e.send(c, "POST", "/console/signin", url.Values{"email": {email}, "password": {pw}})
}

func TestSignInAndOut(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		b := e.browser()

		if r := e.send(b, "GET", "/console/", nil); r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/signin" {
			t.Errorf("console without a session: %d to %q, want 303 to /console/signin", r.status, r.header.Get("Location"))
		}
		form := e.send(b, "GET", "/console/signin", nil)
		if form.status != 200 || !strings.Contains(form.body, `name="password"`) || !strings.Contains(form.body, `<label for="email">`) {
			t.Errorf("sign-in form: %d, want 200 with labelled email and password fields", form.status)
		}
		csp := form.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("Content-Security-Policy = %q, want no inline scripts and no framing", csp)
		}

		// Wrong password and unknown email get the same answer.
		wrong := e.signIn(b, "jane@example.com", "wrong password!")
		unknown := e.signIn(b, "nobody@example.com", "wrong password!")
		if wrong.status != 401 || unknown.status != 401 || !strings.Contains(wrong.body, "Wrong email or password") {
			t.Errorf("failed sign-ins: %d and %d, want 401 with \"Wrong email or password\"", wrong.status, unknown.status)
		}
		if strings.ReplaceAll(wrong.body, "jane@example.com", "X") != strings.ReplaceAll(unknown.body, "nobody@example.com", "X") {
			t.Errorf("wrong password and unknown email render differently")
		}
		if wrong.header.Get("Set-Cookie") != "" {
			t.Errorf("a failed sign-in set a cookie: %q", wrong.header.Get("Set-Cookie"))
		}

		ok := e.signIn(b, " Jane@Example.com ", password)
		if ok.status != http.StatusSeeOther || ok.header.Get("Location") != "/console/" {
			t.Fatalf("sign-in: %d to %q, want 303 to /console/", ok.status, ok.header.Get("Location"))
		}
		cookie := ok.header.Get("Set-Cookie")
		for _, attr := range []string{"tokenward_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(cookie, attr) {
				t.Errorf("session cookie %q lacks %s", cookie, attr)
			}
		}
		if strings.Contains(cookie, "Secure") || strings.Contains(cookie, "__Host-") {
			t.Errorf("session cookie over plain HTTP %q has Secure or __Host-, which a browser would drop", cookie)
		}
		if r := e.send(b, "GET", "/console/", nil); r.status != http.StatusSeeOther || r.header.Get("Location") != home {
			t.Errorf("console root when signed in: %d to %q, want 303 to %s", r.status, r.header.Get("Location"), home)
		}
		page := e.send(b, "GET", home, nil)
		if page.status != 200 || !strings.Contains(page.body, "Signed in as jane@example.com") || !strings.Contains(page.body, "API Access") {
			t.Errorf("API Access page: %d, want 200 naming jane:\n%s", page.status, page.body)
		}
		if page.header.Get("Cache-Control") != "no-store" {
			t.Errorf("console page Cache-Control = %q, want no-store", page.header.Get("Cache-Control"))
		}

		// Sign-out ends the session on the server: a copy of the cookie stops working.
		copied := e.browser()
		copied.Jar.SetCookies(mustURL(e.srv.URL), b.Jar.Cookies(mustURL(e.srv.URL)))
		out := e.send(b, "POST", "/console/signout", url.Values{})
		if out.status != http.StatusSeeOther || !strings.Contains(out.header.Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("sign-out: %d, Set-Cookie %q; want 303 clearing the cookie", out.status, out.header.Get("Set-Cookie"))
		}
		if r := e.send(copied, "GET", home, nil); r.status != http.StatusSeeOther {
			t.Errorf("copied cookie after sign-out: %d, want 303 to sign in", r.status)
		}
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestSessionExpiry(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		tests := []struct {
			name  string
			steps []time.Duration // time passed before each request
			want  []int           // status of each GET /console/
		}{
			{"active within idle", []time.Duration{10 * time.Minute, 25 * time.Minute, 25 * time.Minute}, []int{200, 200, 200}},
			{"idle too long", []time.Duration{29 * time.Minute, 30 * time.Minute}, []int{200, 303}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b := e.browser()
				if r := e.signIn(b, "jane@example.com", password); r.status != http.StatusSeeOther {
					t.Fatalf("sign-in: %d", r.status)
				}
				for i, want := range tc.want {
					e.clock.Advance(tc.steps[i])
					if r := e.send(b, "GET", home, nil); r.status != want {
						t.Errorf("request %d: %d, want %d", i+1, r.status, want)
					}
				}
			})
		}
		// The absolute end: keep the session busy every 20 minutes for 8 hours.
		b := e.browser()
		e.signIn(b, "jane@example.com", password)
		var last int
		for elapsed := time.Duration(0); elapsed < 8*time.Hour; elapsed += 20 * time.Minute {
			e.clock.Advance(20 * time.Minute)
			last = e.send(b, "GET", home, nil).status
			if elapsed+20*time.Minute < 8*time.Hour && last != 200 {
				t.Fatalf("busy session ended after %v, want it to last 8h", elapsed+20*time.Minute)
			}
		}
		if last != http.StatusSeeOther {
			t.Errorf("busy session at 8h: %d, want 303 (absolute expiry)", last)
		}
	})
}

func TestSessionsEndWithTheAccount(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		ctx := context.Background()
		if _, err := tokenward.NewOperator(e.service).CreateUser(ctx, "bob@example.com", 0, password); err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		e.signIn(b, "bob@example.com", password)
		if r := e.send(b, "GET", home, nil); r.status != 200 {
			t.Fatalf("bob signed in: %d", r.status)
		}
		if err := tokenward.NewOperator(e.service).SetPassword(ctx, "bob@example.com", "another long password"); err != nil {
			t.Fatal(err)
		}
		if r := e.send(b, "GET", home, nil); r.status != http.StatusSeeOther {
			t.Errorf("after a password change: %d, want 303 (sessions ended)", r.status)
		}
		if r := e.signIn(b, "bob@example.com", password); r.status != 401 {
			t.Errorf("old password after the change: %d, want 401", r.status)
		}
		e.signIn(b, "bob@example.com", "another long password")
		if r := e.send(b, "GET", home, nil); r.status != 200 {
			t.Fatalf("bob with his new password: %d", r.status)
		}
		// Deleting the account ends its sessions.
		secret, _, err := tokenward.NewOperator(e.service).GenerateToken(ctx, "jane@example.com", "admin")
		if err != nil {
			t.Fatal(err)
		}
		admin, err := e.service.Authenticate(ctx, secret.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.service.DeleteAccounts(ctx, admin, []string{"bob@example.com"}, false); err != nil {
			t.Fatal(err)
		}
		if r := e.send(b, "GET", home, nil); r.status != http.StatusSeeOther {
			t.Errorf("after deleting the account: %d, want 303 (sessions ended)", r.status)
		}
	})
}

func TestCrossOriginRequestsRefused(t *testing.T) {
	e := newEnv(t, store.SQLite, false)
	b := e.browser()
	e.signIn(b, "jane@example.com", password)
	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{"cross-site fetch metadata", []string{"Sec-Fetch-Site: cross-site"}, 403},
		{"foreign Origin", []string{"Origin: https://evil.example"}, 403},
		{"same-origin fetch metadata", []string{"Sec-Fetch-Site: same-origin"}, http.StatusSeeOther},
		{"no browser headers (a script)", nil, http.StatusSeeOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.send(b, "POST", "/console/signout", url.Values{}, tc.headers...)
			if r.status != tc.want {
				t.Errorf("sign-out with %v: %d, want %d", tc.headers, r.status, tc.want)
			}
			if tc.want == 403 {
				if page := e.send(b, "GET", home, nil); page.status != 200 {
					t.Errorf("the refused sign-out ended the session anyway: %d", page.status)
				}
			} else {
				e.signIn(b, "jane@example.com", password)
			}
		})
	}
	// A cross-site sign-in attempt (login CSRF) is refused too.
	if r := e.send(e.browser(), "POST", "/console/signin", url.Values{"email": {"jane@example.com"}, "password": {password}},
		"Sec-Fetch-Site: cross-site"); r.status != 403 {
		t.Errorf("cross-site sign-in: %d, want 403", r.status)
	}
}

func TestSecureCookieUnderTLS(t *testing.T) {
	e := newEnv(t, store.SQLite, true)
	b := e.browser()
	r := e.signIn(b, "jane@example.com", password)
	cookie := r.header.Get("Set-Cookie")
	if !strings.HasPrefix(cookie, "__Host-tokenward_session=") || !strings.Contains(cookie, "Secure") || strings.Contains(cookie, "Domain=") {
		t.Errorf("session cookie under TLS = %q, want __Host- prefix, Secure, no Domain", cookie)
	}
	if page := e.send(b, "GET", home, nil); page.status != 200 {
		t.Errorf("console under TLS: %d, want 200", page.status)
	}
}
