package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleLifecycleInABrowser checks, in Debian's Chromium against the real binary, the
// console's token lifecycle (issue 14 part 5): the expiry picker of Generate, the Expires
// columns, Rotate… with its grace period asked in the dialog, and the policy page.
func TestConsoleLifecycleInABrowser(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	srv := binary.Start(t, dir, dsn)
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())[1]
	b := newBrowser(t, srv.URL)
	b.signIn("admin@localhost", password)
	setValue := func(b *browser, sel, v string) {
		b.t.Helper()
		value(b, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = %q`, sel, v)))
	}

	t.Run("Generate with an expiry; Expires shows it", func(t *testing.T) {
		b := b.in(t)
		if got := value(b, chromedp.Evaluate[string](`document.querySelector("#new-expires").value`)); got != "never" {
			t.Errorf("default expiry without a policy = %q, want never", got)
		}
		b.type_("#new-name", "forever")
		b.click(`form.generate button`)
		b.waitText("you will not see it again")
		b.open("/console/profile/api-access")
		b.type_("#new-name", "month")
		setValue(b, "#new-expires", "30")
		b.click(`form.generate button`)
		b.waitText("you will not see it again")
		b.open("/console/profile/api-access")
		table := b.text("table.tokens")
		want := time.Now().UTC().Add(30 * 24 * time.Hour).Format("Jan 2, 2006")
		if !strings.Contains(strings.ToLower(b.text("table.tokens thead")), "expires") || !strings.Contains(table, "never") || !strings.Contains(table, want) {
			t.Errorf("token table shows no expiry (want never and %s):\n%s", want, table)
		}
		b.shot("40-lifecycle-expires")
	})

	t.Run("Rotate asks the grace period and shows the new secret once", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/profile/api-access")
		b.click(`details.menu summary`) // the oldest token: forever
		b.click(`form[action$="/rotate"] button`)
		b.poll(`!!document.querySelector("dialog.confirm[open] select#confirm-dialog-choice")`)
		if got := b.count(`dialog.confirm[open] select#confirm-dialog-choice option`); got != 3 {
			t.Errorf("grace choices in the dialog: %d, want 3", got)
		}
		setValue(b, "#confirm-dialog-choice", "1h")
		b.shot("41-lifecycle-rotate-dialog")
		b.confirm()
		b.waitText("keeps working for 1 hour")
		secret := b.text("#new-secret")
		if !secretText.MatchString(secret) {
			t.Fatalf("rotated secret %q", secret)
		}
		awaitStatus(t, srv.URL+"/api/v2/apitoken", secret, 200)
		b.open("/console/profile/api-access")
		if b.count("#new-secret") != 0 {
			t.Errorf("the rotated secret shown again")
		}
	})

	t.Run("Policy page: error, preview, save", func(t *testing.T) {
		b := b.in(t)
		b.click(`nav a[href="/console/accounts/token-policy"]`)
		b.waitURL("/console/accounts/token-policy")
		b.type_("#user-default", "30")
		b.type_("#user-max", "7")
		b.click(`button[value=save]`)
		b.waitText("above the maximum")
		setValue(b, "#user-default", "")
		b.click(`button[value=preview]`)
		b.waitText("2 existing tokens would expire sooner")
		b.shot("42-lifecycle-policy-preview")
		b.click(`button[value=save]`)
		b.waitText("Token policy saved. 2 existing tokens now expire sooner.")
		b.open("/console/profile/api-access")
		if n := b.count(`#new-expires option[value=never]`); n != 0 {
			t.Errorf("never offered under a maximum")
		}
		if got := value(b, chromedp.Evaluate[string](`document.querySelector("#new-expires").value`)); got != "7" {
			t.Errorf("default expiry under a 7-day maximum = %q, want 7", got)
		}
		if table := b.text("table.tokens"); strings.Contains(table, "never") {
			t.Errorf("a token still never expires under the maximum:\n%s", table)
		}
	})

	t.Run("service account: create with a token, rotate from the API Tokens table", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/service-accounts")
		b.type_("#sa-id", "ci")
		b.click(`input[name=token]`)
		b.type_("#sa-token-name", "main")
		setValue(b, "#sa-token-expires", "60")
		b.click(`form[action="/console/accounts/service-accounts"] button.primary`)
		b.waitText("you will not see it again")
		want := time.Now().UTC().Add(60 * 24 * time.Hour).Format("Jan 2, 2006")
		if table := b.text("table.tokens"); !strings.Contains(table, want) {
			t.Errorf("service-account token expiry, want %s:\n%s", want, table)
		}
		// Typing days in the custom field chooses "custom".
		b.type_("#new-name", "fortnight")
		b.type_("#new-days", "14")
		if got := value(b, chromedp.Evaluate[string](`document.querySelector("#new-expires").value`)); got != "custom" {
			t.Errorf("after typing days the picker is %q, want custom", got)
		}
		b.click(`form.generate button`)
		b.waitText("Your new token “fortnight”")
		if table := b.text("table.tokens"); !strings.Contains(table, time.Now().UTC().Add(14*24*time.Hour).Format("Jan 2, 2006")) {
			t.Errorf("custom 14 days not in the table:\n%s", table)
		}
		b.open("/console/accounts/api-tokens?account=sa::ci")
		if !strings.Contains(strings.ToLower(b.text("table.tokens thead")), "expires") || !strings.Contains(b.text("table.tokens tbody"), want) {
			t.Errorf("API Tokens table shows no expiry")
		}
		b.click(`details.menu summary`)
		b.click(`form[action$="/rotate"] button`)
		b.confirm() // the dialog's default: no grace period
		b.waitText("previous secret stopped working")
		if !secretText.MatchString(b.text("#new-secret")) {
			t.Errorf("no new secret after rotating from the table")
		}
		b.shot("43-lifecycle-org-rotate")
	})
}
