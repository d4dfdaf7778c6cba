package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// browser is a headless Debian Chromium driven by chromedp against a running tokenward.
type browser struct {
	t       *testing.T
	ctx     context.Context // the browser's context; each step derives a timeout from it
	base    string
	shots   string // where screenshots go
	counter int
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed under CI=true: .ci/run installs Debian's chromium")
		}
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1360, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Accept every confirmation dialog (revoke, delete): the tests confirm on purpose.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	shots := os.Getenv("TOKENWARD_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, ctx: ctx, base: base, shots: shots}
}

// timeout bounds one browser step.
const timeout = 20 * time.Second

func (b *browser) fatal(err error) {
	b.t.Helper()
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	b.t.Fatalf("browser at %s: %v", loc, err)
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatal(err)
	}
}

func value[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fatal(err)
	}
	return v
}

// open loads a console path and waits for its main area.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
}

// click clicks the first element sel matches, once the page is idle: loaded, and with
// no htmx request in flight (htmx drops a second request from an element still busy).
func (b *browser) click(sel string) {
	b.t.Helper()
	b.poll(`document.readyState === "complete" && !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling")`)
	b.do(chromedp.Click(chromedp.CSS(sel)))
}

// confirm says yes in the console's confirmation dialog, which a revoke or delete opens.
func (b *browser) confirm() {
	b.t.Helper()
	b.poll(`!!document.querySelector("dialog.confirm[open]")`)
	b.do(chromedp.Click(chromedp.CSS(`dialog.confirm[open] button.confirm`)))
}

func (b *browser) type_(sel, text string) {
	b.t.Helper()
	b.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

// poll waits until expr is true. It evaluates it again and again rather than with one
// in-page poll, so that a navigation in between (a form post) does not end the wait.
func (b *browser) poll(expr string) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	b.fatal(fmt.Errorf("waited %v for %s (last error: %v)", timeout, expr, lastErr))
}

// in returns the browser for use in subtest t, so that failures stop the subtest.
func (b *browser) in(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

// waitURL waits until the address contains s (htmx navigation pushes it).
func (b *browser) waitURL(s string) {
	b.t.Helper()
	b.poll(fmt.Sprintf(`location.href.includes(%q)`, s))
}

// waitText waits until the main area contains s.
func (b *browser) waitText(s string) {
	b.t.Helper()
	b.poll(fmt.Sprintf(`!!document.querySelector("main") && document.querySelector("main").innerText.includes(%q)`, s))
}

// text returns the rendered text of the first element sel matches, once there is one. It
// reads it by script rather than by chromedp's node ids, which a navigation that has just
// finished can leave stale ("No node with given id found").
func (b *browser) text(sel string) string {
	b.t.Helper()
	b.poll(fmt.Sprintf(`!!document.querySelector(%q)`, sel))
	return strings.TrimSpace(value(b, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).innerText`, sel))))
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return value(b, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

func (b *browser) location() string {
	b.t.Helper()
	return value(b, chromedp.Location())
}

// shot saves a full-page screenshot named after what it shows.
func (b *browser) shot(name string) {
	b.t.Helper()
	png := value(b, chromedp.FullScreenshot(100))
	b.counter++
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) signIn(email, password string) {
	b.t.Helper()
	b.open("/console/signin")
	b.type_("#email", email)
	b.type_("#password", password)
	b.click(`main button[type=submit]`)
	b.waitURL("/console/profile/api-access")
	b.waitText("API Access")
}

var secretText = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestConsoleInABrowser drives every console flow in Debian's Chromium against the real
// binary, checking what a person sees and what the API then does, and saves screenshots.
func TestConsoleInABrowser(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	srv := binary.Start(t, dir, dsn)
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())[1]
	for _, cmd := range [][]string{
		{"user", "create", "jane@example.com", "--password-stdin"},
		{"serviceaccount", "create", "sa::deploy-bot", "--permission", "ingestion", "--description", "Deploys from CI"},
		{"serviceaccount", "create", "sa::grafana", "--permission", "dashboard_management"},
	} {
		if _, errOut, code := binary.Run(t, dir, "jane's long password\n", append(cmd, "--db", dsn)...); code != 0 {
			t.Fatalf("%v: %s", cmd, errOut)
		}
	}
	for _, acct := range []string{"sa::deploy-bot", "sa::deploy-bot", "sa::grafana", "jane@example.com"} {
		// --force: jane holds no token_management, which the command line otherwise demands.
		if _, errOut, code := binary.Run(t, dir, "", "token", "create", acct, "--name", "seeded", "--force", "--db", dsn); code != 0 {
			t.Fatalf("token create %s: %s", acct, errOut)
		}
	}
	b := newBrowser(t, srv.URL)
	time.Sleep(PropagationBound) // let the server's index take in the command line's tokens

	t.Run("sign in and API Access", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/signin")
		b.shot("01-sign-in")
		b.signIn("admin@localhost", password)
		if got := b.text(".quota"); !strings.Contains(got, "20 remaining") {
			t.Errorf("quota = %q, want 20 remaining", got)
		}
		b.shot("02-api-access-empty")
	})

	var secret string
	t.Run("generate shows the secret once, and it works", func(t *testing.T) {
		b := b.in(t)
		b.type_("#new-name", "laptop")
		b.click(`form.generate button`)
		b.waitText("you will not see it again")
		secret = b.text("#new-secret")
		if !secretText.MatchString(secret) {
			t.Fatalf("shown secret %q is not a token", secret)
		}
		b.shot("03-api-access-new-token")
		if status, _ := call(t, "GET", srv.URL+"/api/v2/apitoken", secret, ""); status != 200 {
			t.Errorf("the generated token: %d, want 200", status)
		}
		b.open("/console/profile/api-access")
		if html := value(b, chromedp.OuterHTML(chromedp.CSS("main"))); strings.Contains(html, secret) {
			t.Errorf("the secret is shown again after reloading the page")
		}
		if got := b.text(".quota"); !strings.Contains(got, "19 remaining") {
			t.Errorf("quota = %q, want 19 remaining", got)
		}
	})

	t.Run("rename inline and revoke", func(t *testing.T) {
		b := b.in(t)
		b.click(`details.menu summary`) // Edit and Revoke are in the row's menu
		value(b, chromedp.Evaluate[chromedp.Void](`document.querySelector(".inline-rename input").value = ""`))
		b.type_(`.inline-rename input`, "work laptop")
		b.click(`.inline-rename button`)
		b.waitText("Token saved")
		if got := value(b, chromedp.Value(chromedp.CSS(`.inline-rename input`))); got != "work laptop" {
			t.Errorf("name after rename = %q", got)
		}
		b.click(`details.menu summary`)
		b.click(`form[action$="/revoke"] button`)
		b.confirm()
		b.waitText("Token revoked")
		if status, _ := call(t, "GET", srv.URL+"/api/v2/apitoken", secret, ""); status != 401 {
			t.Errorf("a token revoked in the console: %d, want 401", status)
		}
		if n := b.count("tbody tr"); n != 0 {
			t.Errorf("%d tokens listed after revoking the only one", n)
		}
	})

	t.Run("the 20-token limit", func(t *testing.T) {
		b := b.in(t)
		for i := range 20 {
			b.click(`form.generate button`)
			b.poll(fmt.Sprintf(`!!document.querySelector(".quota") && document.querySelector(".quota").innerText.includes("· %d remaining")`, 19-i))
		}
		b.open("/console/profile/api-access")
		if got := b.text(".quota"); !strings.Contains(got, "0 remaining") {
			t.Errorf("quota = %q, want 0 remaining", got)
		}
		disabled := value(b, chromedp.Evaluate[bool](`document.querySelector("main button.primary").disabled`))
		if !disabled || !strings.Contains(b.text("main"), "Revoke one to generate another") {
			t.Errorf("at 20 tokens Generate is not disabled with its reason")
		}
		b.shot("04-api-access-limit")
	})

	t.Run("service accounts", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/service-accounts")
		b.shot("05-service-accounts")
		b.type_("#sa-id", "nightly-backup")
		b.type_("#sa-desc", "Nightly backups")
		b.click(`input[name=permission][value=ingestion]`)
		b.click(`input[name=token]`)
		b.type_("#sa-token-name", "main")
		b.click(`form[action="/console/accounts/service-accounts"] button.primary`)
		b.waitText("you will not see it again")
		saSecret := b.text("#new-secret")
		b.shot("06-service-account-created")
		if status, _ := call(t, "GET", srv.URL+"/auth/verify?permission=ingestion", saSecret, ""); status != 200 {
			t.Errorf("the new service account's token: %d, want 200", status)
		}
		b.click(`form[action$="/active"] button`)
		b.confirm()
		b.waitText("deactivated")
		if status, _ := call(t, "GET", srv.URL+"/auth/verify", saSecret, ""); status != 401 {
			t.Errorf("token of a deactivated service account: %d, want 401", status)
		}
		b.click(`form[action$="/active"] button`)
		b.waitText("its tokens work again")
		if status, _ := call(t, "GET", srv.URL+"/auth/verify", saSecret, ""); status != 200 {
			t.Errorf("token after activating again: %d, want 200", status)
		}
	})

	t.Run("users", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/users")
		b.shot("07-users")
		b.open("/console/accounts/users/jane@example.com")
		b.click(`input[name=permission][value=token_management]`)
		b.click(`form[action="/console/accounts/users/jane@example.com"] button`)
		b.waitText("Permissions updated")
	})

	t.Run("API Tokens: filter, sort, search, save, share, revoke", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/api-tokens")
		// 20 of the admin, 4 made by the command line, 1 of sa::nightly-backup.
		if got := b.text(".range"); got != "1 - 25 of 25" {
			t.Errorf("range = %q, want 1 - 25 of 25", got)
		}
		b.shot("08-api-tokens")
		// Filter by account type: the URL reflects it and only service accounts remain.
		b.click(`input[name=type][value=SERVICE_ACCOUNT]`)
		b.waitURL("type=SERVICE_ACCOUNT")
		b.waitText("1 - 4 of 4") // deploy-bot's 2, grafana's 1, nightly-backup's 1
		// Sort by name, then search a term that becomes a chip.
		b.click(`th a[href*="sort=name"]`)
		b.waitURL("sort=name")
		b.type_("#tq", "deploy")
		b.click(`form.searchbar button`)
		b.waitURL("q=deploy")
		b.waitText("1 - 2 of 2")
		if chips := b.text(".chips"); !strings.Contains(chips, "deploy") || !strings.Contains(chips, "Service account") {
			t.Errorf("chips = %q, want the term and the type", chips)
		}
		b.shot("09-api-tokens-filtered")
		view := b.location()
		// Save the view, then open it from the saved list after clearing.
		b.click(`details.save summary`)
		b.type_("#save-name", "Deploy bots")
		b.click(`details.save button`)
		b.waitText("saved")
		b.open("/console/accounts/api-tokens")
		b.click(`.saved a`)
		b.waitURL("saved=")
		b.waitText("1 - 2 of 2")
		// Share: the copied link is the address, which reproduces the view in a fresh load.
		b.open(strings.TrimPrefix(view, srv.URL))
		if got := b.text(".range"); got != "1 - 2 of 2" {
			t.Errorf("shared link shows %q, want 1 - 2 of 2", got)
		}
		// Revoke from the table.
		b.click(`details.menu summary`)
		b.click(`details.menu button`)
		b.confirm()
		b.waitText("revoked")
		b.waitText("1 - 1 of 1")
		b.shot("10-api-tokens-revoked")
	})

	t.Run("audit trail", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/audit?action=token.")
		if got := b.text("main"); !strings.Contains(got, "token.revoke") || !strings.Contains(got, "token.generate") {
			t.Errorf("audit page lacks the token events")
		}
		b.shot("13-audit-trail")
	})

	t.Run("a user without Accounts sees no Accounts pages", func(t *testing.T) {
		b := b.in(t)
		b.click(`form.signout button`)
		b.waitURL("/console/signin")
		b.signIn("jane@example.com", "jane's long password")
		if n := b.count(`nav a[href^="/console/accounts"]`); n != 0 {
			t.Errorf("jane sees %d Accounts links, want 0", n)
		}
		b.open("/console/accounts/api-tokens")
		if got := b.text("main"); !strings.Contains(got, "Accounts") || !strings.Contains(got, "permission") {
			t.Errorf("jane on the API Tokens page sees %q, want a refusal naming the Accounts permission", got)
		}
		b.shot("11-not-allowed")
		b.open("/console/profile/api-access")
		if n := b.count(`form.generate`); n != 1 {
			t.Errorf("jane (API Tokens granted in the console) cannot generate")
		}
	})

	t.Run("narrow screen", func(t *testing.T) {
		b := b.in(t)
		b.do(chromedp.EmulateViewport(390, 844))
		b.open("/console/profile/api-access")
		b.shot("12-api-access-narrow")
	})
}
