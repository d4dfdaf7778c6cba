package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestConsoleWebhooksInABrowser checks, in Debian's Chromium against the real binary, the
// console's Webhooks pages: create (the signing secret shown once), the delivery log of an
// event the receiver refused once then took, Redeliver, a refused edit, an edit, delete.
func TestConsoleWebhooksInABrowser(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	srv := binary.Start(t, dir, dsn, "--webhook-backoff", "50ms", "--webhook-poll", "50ms")
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())[1]

	var mu sync.Mutex
	var secret string
	var verified, requests int
	ids := map[string]int{}
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		requests++
		if wh, err := standardwebhooks.NewWebhook(secret); err == nil && wh.Verify(body, r.Header) == nil {
			verified++
		}
		ids[r.Header.Get("webhook-id")]++
		if requests == 1 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "thanks")
	}))
	defer hooks.Close()

	b := newBrowser(t, srv.URL)
	b.signIn("admin@localhost", password)
	setValue := func(b *browser, sel, v string) {
		b.t.Helper()
		value(b, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = %q`, sel, v)))
	}

	t.Run("create shows the signing secret once", func(t *testing.T) {
		b := b.in(t)
		b.click(`nav a[href="/console/accounts/webhooks"]`)
		b.waitURL("/console/accounts/webhooks")
		b.waitText("No webhooks yet")
		b.type_("#new-url", hooks.URL+"/tokenward")
		setValue(b, "#new-events", "account.*")
		b.click(`form[action="/console/accounts/webhooks"] button.primary`)
		b.waitText("Signing secret of the webhook")
		got := b.text("#new-secret")
		if !strings.HasPrefix(got, "whsec_") {
			t.Fatalf("secret shown %q, want whsec_...", got)
		}
		mu.Lock()
		secret = got
		mu.Unlock()
		b.shot("60-webhook-created")
		b.open(strings.TrimPrefix(b.location(), srv.URL))
		if b.count("#new-secret") != 0 {
			t.Errorf("the signing secret is shown again after a reload")
		}
	})
	hookPage := strings.TrimPrefix(b.location(), srv.URL)

	t.Run("the delivery log shows the refusal, the retry and Redeliver", func(t *testing.T) {
		b := b.in(t)
		if _, errOut, code := binary.Run(t, dir, "", "serviceaccount", "create", "sa::hooked", "--db", dsn); code != 0 {
			t.Fatalf("serviceaccount create: %s", errOut)
		}
		// The dispatcher works on its own time: reload until the log shows the attempts.
		awaitLog := func(attempts int) {
			t.Helper()
			deadline := time.Now().Add(timeout)
			for {
				b.open(hookPage)
				if b.count("table.deliveries .attempt") >= attempts && strings.Contains(b.text("table.deliveries"), "delivered") {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("delivery log after %v, want %d attempts and delivered:\n%s", timeout, attempts, b.text("main"))
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		awaitLog(2)
		log := b.text("table.deliveries")
		if !strings.Contains(log, "account.created") || !strings.Contains(log, "503") || !strings.Contains(log, "200") || !strings.Contains(log, "thanks") {
			t.Errorf("delivery log, want account.created refused with 503 then taken with 200 (thanks):\n%s", log)
		}
		b.shot("61-webhook-deliveries")
		b.click(`table.deliveries form[action$="/redeliver"] button`)
		b.waitText("will be sent again")
		awaitLog(3)
		mu.Lock()
		defer mu.Unlock()
		if requests != 3 || verified != 3 || len(ids) != 1 {
			t.Errorf("receiver: %d requests, %d verified, webhook-ids %v; want 3 verified requests of one event", requests, verified, ids)
		}
	})

	t.Run("a refused edit keeps what was typed; an edit saves", func(t *testing.T) {
		b := b.in(t)
		b.open(hookPage)
		if b.count("#edit-events") != 1 {
			t.Fatalf("webhook page:\n%s", b.text("main"))
		}
		setValue(b, "#edit-events", "token.everything")
		b.click(`form[action="` + hookPage + `"] button.primary`)
		b.waitText(`"token.everything" is neither an event type`)
		b.poll(`document.readyState === "complete" && !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling")`)
		if b.count("#edit-events") != 1 {
			t.Fatalf("refused edit page (%s):\n%s", b.location(), b.text("main"))
		}
		if got := value(b, chromedp.Evaluate[string](`document.querySelector("#edit-events").value`)); got != "token.everything" {
			t.Errorf("after a refused edit the events field holds %q, want what was typed", got)
		}
		setValue(b, "#edit-events", "token.revoked\ntoken.leaked")
		b.click(`#edit-events ~ label input[name=active]`)
		b.click(`form[action="` + hookPage + `"] button.primary`)
		b.waitText("Webhook saved.")
		if head := b.text(".page-head"); !strings.Contains(head, "Paused") {
			t.Errorf("after unticking Active the page says %q, want Paused", head)
		}
		if got := value(b, chromedp.Evaluate[string](`document.querySelector("#edit-events").value`)); got != "token.revoked\ntoken.leaked" {
			t.Errorf("saved events %q", got)
		}
	})

	t.Run("delete asks, then the webhook is gone", func(t *testing.T) {
		b := b.in(t)
		b.open(hookPage)
		b.click(`.danger-zone button.danger`)
		b.confirm()
		b.waitText("Webhook deleted")
		b.waitText("No webhooks yet")
		b.open(hookPage)
		b.waitText("Not found")
	})
}
