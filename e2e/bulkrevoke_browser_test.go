package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/cmd/tokenward-bench/seed"
	"github.com/tokenward/tokenward/internal/store"
)

// openStore opens the database of a stopped server, closed when the test ends or by the
// returned function.
func openStore(t *testing.T, dsn string) (*store.DB, func()) {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db, func() { db.Close() }
}

// verifies reports whether a secret passes forward auth, within the propagation bound.
func verifies(t *testing.T, base string, secret tokenward.Secret, want bool) {
	t.Helper()
	status := map[bool]int{true: 200, false: 401}[want]
	if got := awaitStatus(t, base+"/auth/verify", secret.Reveal(), status); got != status {
		t.Errorf("forward auth of seeded secret %s: %d, want %d", secret.Hint(), got, status)
	}
}

// seedBulk starts the binary on a new database once, for its first administrator, and
// fills the database with accounts service accounts of tokens tokens each (their secrets
// are seed.Secret(0), ...); it returns the administrator's password.
func seedBulk(t *testing.T, dir, dsn string, accounts, tokens int) string {
	t.Helper()
	first := binary.Start(t, dir, dsn)
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(first.Stdout.String())[1]
	first.Stop(t)
	db, closeDB := openStore(t, dsn)
	defer closeDB()
	if err := seed.Fill(context.Background(), db, seed.Spec{Accounts: accounts, TokensPerAccount: tokens, ServiceShare: 1, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return password
}

// sleepingJob creates, in the database of a stopped server, a job revoking the 5 tokens of
// a new sa::slow, held by a runner that never works on it (a lease of an hour), and
// returns its id: it runs once the test lets it go.
func sleepingJob(t *testing.T, db *store.DB) string {
	t.Helper()
	ctx := context.Background()
	svc := tokenward.NewService(tokenward.Config{Store: db})
	op := tokenward.NewOperator(svc)
	if _, err := op.CreateServiceAccount(ctx, "sa::slow", tokenward.NewPermissionSet(), ""); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, _, err := op.GenerateToken(ctx, "sa::slow", fmt.Sprint("slow ", i)); err != nil {
			t.Fatal(err)
		}
	}
	admin := tokenward.Principal{Account: "admin@localhost", Permissions: tokenward.NewPermissionSet(tokenward.UserManagement), Source: "test"}
	job, err := svc.StartRevokeJob(ctx, admin, tokenward.RevokeRequest{Account: "sa::slow"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimRevokeJob(ctx, "asleep", time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	return job.ID
}

// TestBulkRevokeInABrowser drives bulk revocation in Debian's Chromium against the real
// binary on a seeded organization of 16 service accounts with 10 tokens each: selected
// rows, every token of an account, every match of a search (more than 100, so the number
// must be typed), and a job page that follows a running job to its end by itself.
func TestBulkRevokeInABrowser(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	password := seedBulk(t, dir, dsn, 16, 10)
	srv := binary.Start(t, dir, dsn)
	b := newBrowser(t, srv.URL)
	b.signIn("admin@localhost", password)

	t.Run("selected rows", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/api-tokens?account=sa::seed-2")
		b.click(`th.select input[data-select-all]`)
		if n := b.count(`input[name=token]:checked`); n != 10 {
			t.Errorf("select all checked %d rows, want the page's 10", n)
		}
		b.click(`th.select input[data-select-all]`)
		b.open("/console/accounts/api-tokens?account=sa::seed-0")
		b.click(`input[name=token][value="tw_seed000000000000"]`)
		b.click(`input[name=token][value="tw_seed000000000001"]`)
		b.click(`#bulk-selected button[type=submit]`)
		b.confirm()
		b.waitURL("/console/accounts/jobs/")
		b.waitText("Done: 2 tokens revoked")
		b.shot("60-bulk-selected-done")
		verifies(t, srv.URL, seed.Secret(0), false)
		verifies(t, srv.URL, seed.Secret(1), false)
		verifies(t, srv.URL, seed.Secret(2), true)
	})

	t.Run("every token of an account", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/service-accounts/sa::seed-1")
		b.click(`form.revoke-all button[type=submit]`)
		b.confirm()
		b.waitURL("/console/accounts/jobs/")
		b.waitText("Done: 10 tokens revoked")
		for n := 10; n < 20; n++ {
			verifies(t, srv.URL, seed.Secret(n), false)
		}
	})

	t.Run("every match, more than 100, typed", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/api-tokens?type=SERVICE_ACCOUNT")
		b.waitText("148 tokens")
		b.click(`a[href^="/console/accounts/api-tokens/revoke-matching"]`)
		b.waitText("Revoke all 148 matching tokens?")
		if n := b.count(`table.sample tbody tr`); n != 10 {
			t.Errorf("the confirmation shows %d sample rows, want 10", n)
		}
		b.shot("61-bulk-confirm-typed")
		b.type_(`#confirm-count`, "147")
		b.click(`#revoke-matching button[type=submit]`)
		b.waitText("Type the number of tokens, 148, to confirm")
		verifies(t, srv.URL, seed.Secret(20), true)
		b.type_(`#confirm-count`, "148")
		b.click(`#revoke-matching button[type=submit]`)
		b.waitURL("/console/accounts/jobs/")
		b.waitText("Done: 148 tokens revoked")
		for _, n := range []int{2, 20, 99, 159} {
			verifies(t, srv.URL, seed.Secret(n), false)
		}
	})

	t.Run("the job page follows a running job", func(t *testing.T) {
		// A job held by a runner that will not work on it (a lease of an hour) runs only
		// once the test lets it go: until then the page shows it running.
		srv.Stop(t)
		db, closeDB := openStore(t, dsn)
		defer closeDB()
		job := sleepingJob(t, db)
		srv = binary.Start(t, dir, dsn)
		b := newBrowser(t, srv.URL).in(t)
		b.signIn("admin@localhost", password)
		path := "/console/accounts/jobs/" + job
		b.open(path)
		b.waitText("Revoking…")
		if got := b.text(".job-count"); !strings.HasPrefix(got, "0 of 5") {
			t.Errorf("a job nobody ran yet shows %q, want 0 of 5", got)
		}
		noscript := value(b, chromedp.Evaluate[string](`document.querySelector("#job-progress noscript").textContent`))
		if !strings.Contains(noscript, `http-equiv="refresh"`) {
			t.Errorf("without JavaScript the running job's page does not reload itself: noscript holds %q", noscript)
		}
		b.shot("62-bulk-job-running")
		if err := db.ReleaseRevokeJob(context.Background(), job, "asleep"); err != nil {
			t.Fatal(err)
		}
		b.waitText("Done: 5 tokens revoked")
		if loc := b.location(); !strings.HasSuffix(loc, path) {
			t.Errorf("the page moved to %s, want it to stay at %s", loc, path)
		}
		b.shot("63-bulk-job-done")
	})
}
