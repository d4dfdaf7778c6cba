package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleExpiryInABrowser checks, in Debian's Chromium against the real binary, the
// expiry views of issue 14: the notice of the caller's own tokens expiring within 30 days
// on API Access, and the API Tokens table's "By Expiry" filter and sortable Expires
// column.
func TestConsoleExpiryInABrowser(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	srv := binary.Start(t, dir, dsn)
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())[1]
	b := newBrowser(t, srv.URL)
	b.signIn("admin@localhost", password)
	generate := func(name, days string) {
		b.t.Helper()
		b.open("/console/profile/api-access")
		b.type_("#new-name", name)
		value(b, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector("#new-expires").value = %q`, map[bool]string{true: "never", false: "custom"}[days == ""])))
		if days != "" {
			b.type_("#new-days", days)
		}
		b.click(`form.generate button`)
		b.waitText("you will not see it again")
	}
	generate("soon", "3")
	generate("later", "20")
	generate("far", "90")
	generate("forever", "")

	t.Run("API Access lists the tokens expiring within 30 days", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/profile/api-access")
		notice := b.text("#expiring")
		if !strings.Contains(notice, "Tokens expiring soon") || !inOrder(notice, "soon", "in 3 days", "later", "in 20 days") ||
			strings.Contains(notice, "far") || strings.Contains(notice, "forever") {
			t.Errorf("the expiry notice reads %q, want soon (in 3 days) then later (in 20 days), nothing else", notice)
		}
		if b.count(`#expiring time[datetime]`) != 2 {
			t.Errorf("the notice gives %d dates, want 2", b.count(`#expiring time[datetime]`))
		}
		b.shot("50-expiry-notice")
	})

	t.Run("API Tokens: Expires within 7 days, then sorted by Expires", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/api-tokens")
		b.click(`input[name=expiry][value=expires7]`)
		b.waitURL("expiry=expires7")
		b.poll(`document.querySelectorAll("table.tokens tbody tr").length === 1`)
		if rows := b.text("table.tokens tbody"); !strings.Contains(rows, "soon") {
			t.Errorf("Expires within 7 days shows %q, want soon", rows)
		}
		if chips := b.text(`ul.chips`); !strings.Contains(chips, "Expires within 7 days") {
			t.Errorf("no chip for the filter: %q", chips)
		}
		b.shot("51-expiry-filter")
		b.click(`ul.chips a[aria-label="Remove expiry filter"]`)
		b.poll(`!location.href.includes("expiry=")`)
		b.click(`th a[href*="sort=expiresAt"]`)
		b.waitURL("sort=expiresAt")
		b.poll(`document.querySelector("th[aria-sort=ascending]") !== null`)
		if rows := b.text("table.tokens tbody"); !inOrder(rows, "soon", "later", "far", "forever") {
			t.Errorf("sorted by Expires, soonest first: %q", rows)
		}
		b.click(`th a[href*="sort=expiresAt"]`)
		b.poll(`document.querySelector("th[aria-sort=descending]") !== null`)
		if rows := b.text("table.tokens tbody"); !inOrder(rows, "forever", "far", "later", "soon") {
			t.Errorf("sorted by Expires, latest first: %q", rows)
		}
		b.shot("52-expiry-sorted")
	})
}

// inOrder reports whether every one of words appears in s, in that order.
func inOrder(s string, words ...string) bool {
	at := 0
	for _, w := range words {
		i := strings.Index(s[at:], w)
		if i < 0 {
			return false
		}
		at += i + len(w)
	}
	return true
}
