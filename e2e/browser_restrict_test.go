package e2e

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// statusFrom is the status of GET url with a bearer token, sent from the loopback address
// local (any of 127.0.0.0/8 on Linux), and the X-Tokenward-Permissions header it got.
func statusFrom(t *testing.T, local, url, token string) (int, string) {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", url, local, err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("X-Tokenward-Permissions")
}

// TestConsoleRestrictionsInABrowser checks, in Debian's Chromium against the real binary,
// token restrictions in the console (reference §14): the Generate form's allowed networks
// and its permission picker (collapsed on all of the account's), the table's columns, the
// edit dialog's networks field, and what the API then does with the token.
func TestConsoleRestrictionsInABrowser(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	srv := binary.Start(t, dir, dsn)
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())[1]
	b := newBrowser(t, srv.URL)
	b.signIn("admin@localhost", password)

	if b.count(`details.scope-picker[open]`) != 0 || b.count(`input[name=scope][value=all]:checked`) != 1 {
		t.Errorf("the permission picker is not collapsed on all of the account's permissions")
	}
	if got := b.text(`details.scope-picker summary`); !strings.Contains(got, "All of the account's permissions") {
		t.Errorf("picker summary = %q", got)
	}

	// A bad network is refused with its name, and nothing is generated.
	b.type_("#new-name", "typo")
	b.type_("#new-cidrs", "10.0.0.300/8")
	b.click(`form.generate button.primary`)
	b.waitText(`"10.0.0.300/8" is not a CIDR`)

	b.open("/console/profile/api-access")
	b.type_("#new-name", "ci")
	b.type_("#new-cidrs", "127.0.0.1, 10.1.2.3/8")
	b.click(`details.scope-picker summary`)
	b.click(`input[name=scope][value=subset]`)
	b.click(`input[name=permission][value=ingestion]`)
	b.click(`form.generate button.primary`)
	b.waitText("you will not see it again")
	secret := b.text("#new-secret")
	b.shot("70-restrict-generated")

	b.open("/console/profile/api-access")
	head, row := strings.ToLower(b.text("table.tokens thead")), b.text("table.tokens tbody tr")
	if !strings.Contains(head, "allowed networks") || !strings.Contains(head, "permissions") ||
		!strings.Contains(row, "10.0.0.0/8, 127.0.0.1/32") || !strings.Contains(row, "ingestion") {
		t.Errorf("token table does not show the restrictions:\n%s\n%s", head, row)
	}
	if strings.Contains(row, "typo") {
		t.Errorf("the refused generation left a token: %s", row)
	}
	verify := srv.URL + "/auth/verify"
	if status, perms := statusFrom(t, "127.0.0.1", verify, secret); status != http.StatusOK || perms != "ingestion" {
		t.Errorf("forward auth from 127.0.0.1 = %d, permissions %q; want 200, ingestion", status, perms)
	}
	if status, _ := statusFrom(t, "127.0.0.2", verify, secret); status != http.StatusUnauthorized {
		t.Errorf("forward auth from 127.0.0.2 = %d; want 401", status)
	}

	b.open("/console/accounts/api-tokens")
	if org := b.text("table.tokens"); !strings.Contains(org, "Networks: 10.0.0.0/8, 127.0.0.1/32 · Permissions: ingestion") {
		t.Errorf("the org table does not show the token's restrictions:\n%s", org)
	}

	// The edit dialog moves it to 127.0.0.2.
	b.open("/console/profile/api-access")
	b.click(`details.menu summary`)
	sel := `input[name=allowed_cidrs][id^="cidrs-"]`
	if got := value(b, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).value`, sel))); got != "10.0.0.0/8, 127.0.0.1/32" {
		t.Errorf("edit dialog networks = %q; want the token's", got)
	}
	value(b, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = "127.0.0.2"`, sel)))
	b.click(`form.inline-rename button`)
	b.waitText("Token saved")
	if row := b.text("table.tokens tbody tr"); !strings.Contains(row, "127.0.0.2/32") || !strings.Contains(row, "ci") {
		t.Errorf("after the edit the row shows %q; want 127.0.0.2/32, name kept", row)
	}
	if status, _ := statusFrom(t, "127.0.0.2", verify, secret); status != http.StatusOK {
		t.Errorf("after the edit, forward auth from 127.0.0.2 = %d; want 200", status)
	}
	if status, _ := statusFrom(t, "127.0.0.1", verify, secret); status != http.StatusUnauthorized {
		t.Errorf("after the edit, forward auth from 127.0.0.1 = %d; want 401", status)
	}
	b.shot("71-restrict-edited")
}
