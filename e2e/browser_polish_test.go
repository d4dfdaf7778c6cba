package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// overflowing reports the document's width against the viewport's, names the elements
// that reach past it, and names the boxes that scroll sideways inside the page (a table in
// an overflow-x: auto wrapper that needs a scroll bar is cut off too). Text truncated on
// purpose, with an ellipsis, does not count.
const overflowing = `(() => {
  const w = document.documentElement.clientWidth, out = [], inner = [];
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (typeof el.className === "string" && el.className ? "." + el.className.trim().replace(/ +/g, ".") : "");
  for (const el of document.querySelectorAll("body *")) {
    if (!el.checkVisibility() || el.closest(".sr-only") || el.matches("input, textarea, select")) continue; // an input scrolls its own text
    const r = el.getBoundingClientRect(), style = getComputedStyle(el);
    if (r.width > 0 && r.right > w + 1) out.push(name(el));
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && style.overflowX !== "visible" && style.textOverflow !== "ellipsis") inner.push(name(el) + " " + el.scrollWidth + ">" + el.clientWidth);
  }
  return {scroll: document.documentElement.scrollWidth, client: w, culprits: out.slice(0, 6).join(" "), inner: inner.slice(0, 6).join(", ")};
})()`

type widths struct {
	Scroll   int    `json:"scroll"`
	Client   int    `json:"client"`
	Culprits string `json:"culprits"`
	Inner    string `json:"inner"`
}

// fits fails the test when the page open in b scrolls sideways, or a box of it does.
func fits(b *browser, path string, width int64) {
	b.t.Helper()
	got := value(b, chromedp.Evaluate[widths](overflowing))
	if got.Scroll > got.Client || got.Culprits != "" {
		b.t.Errorf("%s at %d px: scrollWidth %d, clientWidth %d; past the edge: %s", path, width, got.Scroll, got.Client, got.Culprits)
	}
	if got.Inner != "" {
		b.t.Errorf("%s at %d px: scrolls sideways inside the page (scrollWidth > clientWidth): %s", path, width, got.Inner)
	}
}

// polishSeed starts the binary with an organization to look at: jane, two service
// accounts, 24 tokens (more than a page of 10) with long names, and returns the server's
// address, the administrator's password and the database.
func polishSeed(t *testing.T) (url, password, dir, dsn string) {
	t.Helper()
	dir = t.TempDir()
	dsn = filepath.Join(dir, "tokenward.db")
	s := binary.Start(t, dir, dsn)
	password = regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(s.Stdout.String())[1]
	for _, cmd := range [][]string{
		{"user", "create", "jane@example.com", "--password-stdin"},
		{"serviceaccount", "create", "sa::deploy-bot", "--permission", "ingestion", "--description", "Deploys from CI"},
		{"serviceaccount", "create", "sa::a-service-account-with-a-rather-long-name", "--permission", "dashboard_management",
			"--description", "Exports every dashboard of every team to the archive, nightly, and checks the result"},
	} {
		if _, errOut, code := binary.Run(t, dir, "jane's long password\n", append(cmd, "--db", dsn)...); code != 0 {
			t.Fatalf("%v: %s", cmd, errOut)
		}
	}
	for i := range 24 {
		acct := []string{"sa::deploy-bot", "sa::a-service-account-with-a-rather-long-name", "jane@example.com"}[i%3]
		name := fmt.Sprintf("seeded %02d for the nightly export pipeline", i)
		// --force: jane holds no token_management, which the command line otherwise demands.
		if _, errOut, code := binary.Run(t, dir, "", "token", "create", acct, "--name", name, "--force", "--db", dsn); code != 0 {
			t.Fatalf("token create %s: %s", acct, errOut)
		}
	}
	time.Sleep(PropagationBound) // let the server's index take in the command line's tokens
	return s.URL, password, dir, dsn
}

// TestConsolePolishInABrowser checks, in Debian's Chromium against the real binary, the
// console defects of issue 16 part 4, one subtest each.
func TestConsolePolishInABrowser(t *testing.T) {
	base, password, _, _ := polishSeed(t)
	b := newBrowser(t, base)
	b.signIn("admin@localhost", password)

	// Every page an administrator can open, a role's and a group's among them.
	b.open("/console/accounts/roles")
	b.type_("#role-name", "Deployers")
	b.click(`input[name=permission][value=ingestion]`)
	b.click(`form[action="/console/accounts/roles"] button.primary`)
	b.waitText("Role created")
	role := strings.TrimPrefix(b.location(), base)
	b.open("/console/accounts/groups")
	b.type_("#group-name", "Ops")
	b.click(`form[action="/console/accounts/groups"] button.primary`)
	b.waitText("Group created")
	group := strings.TrimPrefix(b.location(), base)
	b.open("/console/accounts/webhooks")
	b.type_("#new-url", "http://127.0.0.1:9/a-receiver-that-listens-nowhere-with-a-long-path/tokenward/events")
	b.click(`form[action="/console/accounts/webhooks"] button.primary`)
	b.waitText("Signing secret of the webhook")
	webhook := strings.TrimPrefix(b.location(), base)
	pages := []string{
		"/console/profile/api-access",
		"/console/accounts/users",
		"/console/accounts/users/jane@example.com",
		"/console/accounts/service-accounts",
		"/console/accounts/service-accounts/sa::deploy-bot",
		"/console/accounts/service-accounts/sa::a-service-account-with-a-rather-long-name",
		"/console/accounts/roles", role,
		"/console/accounts/groups", group,
		"/console/accounts/api-tokens",
		"/console/accounts/api-tokens?size=10&page=2",
		"/console/accounts/audit",
		"/console/accounts/token-policy",
		"/console/accounts/webhooks", webhook,
		"/console/accounts/api-tokens/revoke-matching?type=SERVICE_ACCOUNT",
		"/console/confirm?to=/console/accounts/service-accounts/sa::deploy-bot/revoke-all&return=/console/accounts/service-accounts/sa::deploy-bot",
		"/console/no-such-page",
	}

	t.Run("no horizontal scroll at 1024, 1366 and 1920 px", func(t *testing.T) {
		b := b.in(t)
		defer b.do(chromedp.EmulateViewport(1360, 900))
		for _, width := range []int64{1024, 1366, 1920} {
			b.do(chromedp.EmulateViewport(width, 900))
			for _, path := range pages {
				b.open(path)
				fits(b, path, width)
			}
			b.open("/console/accounts/api-tokens")
			b.shot(fmt.Sprintf("30-api-tokens-%d", width))
			b.open("/console/accounts/service-accounts/sa::deploy-bot")
			b.shot(fmt.Sprintf("31-service-account-%d", width))
		}
	})

	t.Run("Post/Redirect/Get: reload after a form is safe", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/profile/api-access")
		b.type_("#new-name", "reload me")
		b.click(`form.generate button`)
		b.waitText("you will not see it again")
		secret := b.text("#new-secret")
		if got := b.location(); got != base+"/console/profile/api-access" {
			t.Errorf("after Generate the address is %s, want the API Access page", got)
		}
		if strings.Contains(b.location(), secret) {
			t.Errorf("the address holds the secret")
		}
		b.do(chromedp.Reload())
		b.waitText("Your tokens")
		if got := b.text("main"); strings.Contains(got, "Not found") || strings.Contains(got, secret) {
			t.Errorf("reload after Generate shows %q, want the page without the secret", got)
		}
		// A service account's Generate, and creating one with its first token.
		b.open("/console/accounts/service-accounts/sa::deploy-bot")
		b.type_("#new-name", "main")
		b.click(`form.generate button`)
		b.waitText("you will not see it again")
		b.waitURL("/console/accounts/service-accounts/sa::deploy-bot")
		b.do(chromedp.Reload())
		b.waitText("Direct permissions")
		if n := b.count("#new-secret"); n != 0 {
			t.Errorf("reload shows the service account's new secret again")
		}
		b.open("/console/accounts/service-accounts")
		b.type_("#sa-id", "reporting")
		b.click(`input[name=token]`)
		b.click(`form[action="/console/accounts/service-accounts"] button.primary`)
		b.waitText("you will not see it again")
		b.waitURL("/console/accounts/service-accounts/sa::reporting")
		b.do(chromedp.Reload())
		b.waitText("Direct permissions")
		if n := b.count("#new-secret"); n != 0 || strings.Contains(b.text("main"), "Service account created") {
			t.Errorf("reload shows the new service account's secret or notice again")
		}
		// A refusal shows on the page the form was on, and the address stays there.
		b.open("/console/accounts/service-accounts")
		b.type_("#sa-id", "deploy-bot")
		b.click(`form[action="/console/accounts/service-accounts"] button.primary`)
		b.poll(`!!document.querySelector("main .error")`)
		if got := b.location(); got != base+"/console/accounts/service-accounts" {
			t.Errorf("after a refused create the address is %s, want the list it was posted from", got)
		}
		b.do(chromedp.Reload())
		b.waitText("Create a service account")
		if got := b.text("main"); strings.Contains(got, "Not found") {
			t.Errorf("reload after a refusal shows %q", got)
		}
	})

	t.Run("notices by one-time flash, never in the address", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/api-tokens?type=SERVICE_ACCOUNT")
		b.click(`details.save summary`)
		b.type_("#save-name", "Service tokens")
		b.click(`details.save button`)
		b.waitText(`Search "Service tokens" saved.`)
		// Share copies the address: it must reproduce the view, not the notice.
		shared := b.location()
		if strings.Contains(shared, "notice") || strings.Contains(shared, "saved.") || !strings.Contains(shared, "type=SERVICE_ACCOUNT") {
			t.Errorf("after Save the address (what Share copies) is %s, want the view without the notice", shared)
		}
		b.do(chromedp.Reload())
		b.waitText("Saved Searches")
		if n := b.count("main .notice"); n != 0 {
			t.Errorf("the notice shows again on reload")
		}
		b.open(strings.TrimPrefix(shared, base))
		if n := b.count("main .notice"); n != 0 {
			t.Errorf("the shared link shows a notice")
		}
	})

	t.Run("service accounts' token rows have the per-row menu: Edit and Revoke", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/service-accounts/sa::deploy-bot")
		rows := b.count("table.tokens tbody tr")
		if n := b.count("table.tokens tbody tr td.actions details.menu summary"); n == 0 || n != rows {
			t.Fatalf("%d of %d token rows have a menu", n, rows)
		}
		if n := b.count(`table.tokens tbody tr details.menu:not([open])`); n != rows {
			t.Errorf("menus open before they are clicked")
		}
		b.click(`table.tokens tbody tr details.menu summary`)
		menu := b.text(`details.menu[open] .menu-body`)
		if !strings.Contains(menu, "Edit name") || !strings.Contains(menu, "Revoke") {
			t.Errorf("the open menu reads %q, want Edit and Revoke", menu)
		}
		b.shot("32-service-account-row-menu")
		value(b, chromedp.Evaluate[chromedp.Void](`document.querySelector("details.menu[open] .inline-rename input").value = ""`))
		b.type_(`details.menu[open] .inline-rename input`, "renamed from the menu")
		b.click(`details.menu[open] .inline-rename button`)
		b.waitText("Token saved")
		if got := b.text("table.tokens tbody"); !strings.Contains(got, "renamed from the menu") {
			t.Errorf("the table after renaming from the menu reads %q", got)
		}
		// A click elsewhere closes an open menu.
		b.click(`table.tokens tbody tr details.menu summary`)
		b.click(`h1`)
		if n := b.count(`details.menu[open]`); n != 0 {
			t.Errorf("a click outside left the menu open")
		}
	})

	t.Run("invite: a one-time set-password link for a new user", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/users")
		b.type_("#u-email", "bob@example.com")
		b.click(`form[action="/console/accounts/users"] button.primary`)
		b.waitText("Set-password link for bob@example.com")
		link := b.text("#invite-link")
		if !strings.HasPrefix(link, base+"/console/set-password/") || strings.Contains(b.location(), "set-password") {
			t.Fatalf("the shown link is %q at %s, want a set-password link shown, not in the address", link, b.location())
		}
		b.shot("33-user-invited")
		b.do(chromedp.Reload())
		b.waitText("New set-password link")
		if n := b.count("#invite-link"); n != 0 {
			t.Errorf("the link shows again on reload")
		}
		b.click(`form.signout button`)
		b.waitURL("/console/signin")
		for _, width := range []int64{1024, 1366, 1920} { // the signed-out pages fit too
			b.do(chromedp.EmulateViewport(width, 900))
			b.open("/console/signin")
			fits(b, "/console/signin", width)
			b.open(strings.TrimPrefix(link, base))
			fits(b, "/console/set-password/…", width)
		}
		b.do(chromedp.EmulateViewport(1360, 900))
		b.open(strings.TrimPrefix(link, base))
		b.waitText("Choose your password")
		if got := b.text("main"); !strings.Contains(got, "bob@example.com") {
			t.Errorf("the set-password page reads %q, want bob's email", got)
		}
		b.shot("34-set-password")
		b.type_("#password", "bob's long password")
		b.type_("#confirm", "bob's long password")
		b.click(`main button[type=submit]`)
		b.waitURL("/console/profile/api-access")
		b.waitText("Password set")
		if got := b.text(".who"); got != "bob@example.com" {
			t.Errorf("signed in as %q after setting the password, want bob", got)
		}
		b.click(`form.signout button`)
		b.waitURL("/console/signin")
		b.open(strings.TrimPrefix(link, base))
		if got := b.text("main"); !strings.Contains(got, "not valid") {
			t.Errorf("the link used once reads %q, want it refused", got)
		}
		b.signIn("admin@localhost", password)
		b.open("/console/accounts/audit?target=bob@example.com")
		if got := b.text("main"); !strings.Contains(got, "invite.create") || !strings.Contains(got, "password.set") {
			t.Errorf("the audit trail of bob lacks the invitation or the password it set: %q", got)
		}
	})

	t.Run("dates on one line", func(t *testing.T) {
		b := b.in(t)
		defer b.do(chromedp.EmulateViewport(1360, 900))
		for _, width := range []int64{1024, 1366} {
			b.do(chromedp.EmulateViewport(width, 900))
			for _, path := range []string{"/console/accounts/api-tokens", "/console/accounts/service-accounts/sa::deploy-bot",
				"/console/profile/api-access", "/console/accounts/audit", "/console/accounts/users"} {
				b.open(path)
				if b.count("td time") == 0 {
					t.Errorf("%s shows no dates in its table", path)
				}
				wrapped := value(b, chromedp.Evaluate[int](`[...document.querySelectorAll("td time")].filter(el =>
					el.getBoundingClientRect().height > parseFloat(getComputedStyle(el).lineHeight) * 1.5).length`))
				if wrapped != 0 {
					t.Errorf("%s at %d px: %d dates wrap to a second line", path, width, wrapped)
				}
			}
		}
	})

	t.Run("page numbers and the total above the org table", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/api-tokens?size=10")
		above := value(b, chromedp.Evaluate[bool](`document.querySelector("nav.pager.top").getBoundingClientRect().bottom <= document.querySelector("table.tokens").getBoundingClientRect().top`))
		if !above {
			t.Errorf("the pager with the total is not above the table")
		}
		var total, last int
		if _, err := fmt.Sscanf(b.text(".range"), "1 - 10 of %d", &total); err != nil {
			t.Fatalf("range reads %q", b.text(".range"))
		}
		last = (total + 9) / 10
		top := b.text("nav.pager.top")
		if !strings.Contains(top, fmt.Sprintf("%d tokens", total)) || !strings.Contains(top, fmt.Sprintf("page 1 of %d", last)) {
			t.Errorf("above the table: %q, want the total %d and page 1 of %d", top, total, last)
		}
		if n := b.count("nav.pager.top a.page"); n != last {
			t.Errorf("%d page numbers above the table, want %d", n, last)
		}
		b.click(fmt.Sprintf(`nav.pager.top a.page[aria-label="Page %d"]`, last))
		b.waitURL(fmt.Sprintf("page=%d", last))
		b.waitText(fmt.Sprintf("page %d of %d", last, last))
		if got := b.text(`nav.pager.top a[aria-current="page"]`); got != fmt.Sprint(last) {
			t.Errorf("current page marked %q, want %d", got, last)
		}
		b.shot("35-api-tokens-pages")
	})

	t.Run("audit entries and token tables show the same token label", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/audit?action=token.generate")
		type label struct {
			Text  string `json:"text"`
			Title string `json:"title"`
			Cell  string `json:"cell"`
		}
		const labels = `[...document.querySelectorAll("table code.masked")].map(c => ({text: c.innerText, title: c.title, cell: (c.closest("td") || c).innerText}))`
		b.poll(`document.querySelectorAll("table code.masked").length > 0`)
		inAudit := value(b, chromedp.Evaluate[[]label](labels))
		if len(inAudit) == 0 {
			t.Fatalf("the audit trail shows no token label")
		}
		if got := b.text("main table tbody"); strings.Contains(got, "tw_") {
			t.Errorf("the audit trail still shows public ids as text: %q", got)
		}
		b.open("/console/accounts/api-tokens?size=100")
		b.poll(`document.querySelectorAll("table code.masked").length > 0`)
		inTable := map[string]string{}
		for _, l := range value(b, chromedp.Evaluate[[]label](labels)) {
			inTable[l.Title] = l.Text
		}
		matched := 0
		for _, l := range inAudit {
			if !strings.HasPrefix(l.Title, "Public id tw_") || !strings.HasPrefix(l.Text, "••••") {
				t.Errorf("audit label %q titled %q, want ••••hint titled with the public id", l.Text, l.Title)
			}
			if text, ok := inTable[l.Title]; ok {
				matched++
				if text != l.Text {
					t.Errorf("token %s: %q in the audit trail, %q in the table", l.Title, l.Text, text)
				}
			}
		}
		if matched == 0 {
			t.Errorf("no audit entry's token label matches a table row")
		}
		if !strings.Contains(inAudit[0].Cell, " of ") {
			t.Errorf("the audit target reads %q, want the label, the name and the owner", inAudit[0].Cell)
		}
	})

	t.Run("a styled confirmation dialog, and a confirmation page without JavaScript", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/profile/api-access")
		value(b, chromedp.Evaluate[chromedp.Void](`window.nativeConfirms = 0; window.confirm = () => { window.nativeConfirms++; return true; }`))
		rows := b.count("table.tokens tbody tr")
		b.click(`table.tokens details.menu summary`)
		b.click(`details.menu[open] form[action$="/revoke"] button`)
		b.poll(`!!document.querySelector("dialog.confirm[open]")`)
		if got := b.text("dialog.confirm[open]"); !strings.Contains(got, "Revoke token ••••") || !strings.Contains(got, "Cancel") {
			t.Errorf("the dialog reads %q, want the token's question and Cancel", got)
		}
		b.shot("36-confirm-dialog")
		b.do(chromedp.Click(chromedp.CSS(`dialog.confirm[open] button.cancel`)))
		time.Sleep(300 * time.Millisecond)
		if n := b.count("table.tokens tbody tr"); n != rows || b.count("dialog.confirm[open]") != 0 {
			t.Errorf("Cancel: %d rows (want %d), dialog open: %d", n, rows, b.count("dialog.confirm[open]"))
		}
		b.click(`table.tokens details.menu summary`)
		b.click(`details.menu[open] form[action$="/revoke"] button`)
		b.confirm()
		b.waitText("Token revoked")
		if n := value(b, chromedp.Evaluate[int](`window.nativeConfirms || 0`)); n != 0 {
			t.Errorf("the native confirm() was called %d times", n)
		}

		// Without JavaScript: the button opens a page that asks, whose button does it.
		scripts := func(disabled bool) {
			if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: disabled}); err != nil {
				t.Fatalf("turn JavaScript off (%v): %v", disabled, err)
			}
		}
		scripts(true)
		defer scripts(false)
		b.open("/console/accounts/service-accounts/sa::reporting")
		b.do(chromedp.Click(chromedp.CSS(`form[action$="/delete"] button`)))
		b.waitURL("/console/confirm")
		b.waitText("Delete sa::reporting?")
		b.shot("37-confirm-page")
		if got := b.text("main"); !strings.Contains(got, "Cancel") || !strings.Contains(got, "Delete service account") {
			t.Errorf("the confirmation page reads %q", got)
		}
		b.do(chromedp.Click(chromedp.CSS(`main form button[type=submit]`)))
		b.waitURL("/console/accounts/service-accounts")
		b.waitText("sa::reporting deleted")
	})
}
