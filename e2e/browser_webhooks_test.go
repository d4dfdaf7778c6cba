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

	"github.com/tokenward/tokenward/internal/testkit"
)

// consoleReceiver is the webhook receiver of the console test: it refuses the first
// request (503), takes the others, and counts the ones whose signature verifies with the
// secret the console showed.
type consoleReceiver struct {
	mu                 sync.Mutex
	secret             string
	requests, verified int
	ids                map[string]int // requests by webhook-id
}

func (rc *consoleReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if wh, err := standardwebhooks.NewWebhook(rc.secret); err == nil && wh.Verify(body, r.Header) == nil {
		rc.verified++
	}
	rc.ids[r.Header.Get("webhook-id")]++
	if rc.requests == 1 {
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprint(w, "thanks")
}

// webhookConsole is the state the console test's steps share.
type webhookConsole struct {
	b        *browser
	srv      *testkit.Server
	dir, dsn string
	rc       *consoleReceiver
	hookURL  string // the receiver's
	page     string // the webhook's console page, once created
}

// TestConsoleWebhooksInABrowser checks, in Debian's Chromium against the real binary, the
// console's Webhooks pages: create (the signing secret shown once), the delivery log of an
// event the receiver refused once then took, Redeliver, a refused edit, an edit, delete.
func TestConsoleWebhooksInABrowser(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	srv := binary.Start(t, dir, dsn, "--webhook-backoff", "50ms", "--webhook-poll", "50ms")
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())[1]
	rc := &consoleReceiver{ids: map[string]int{}}
	hooks := httptest.NewServer(rc)
	defer hooks.Close()
	c := &webhookConsole{b: newBrowser(t, srv.URL), srv: srv, dir: dir, dsn: dsn, rc: rc, hookURL: hooks.URL + "/tokenward"}
	c.b.signIn("admin@localhost", password)
	t.Run("create shows the signing secret once", c.create)
	t.Run("the delivery log shows the refusal, the retry and Redeliver", c.deliveries)
	t.Run("a refused edit keeps what was typed; an edit saves", c.edit)
	t.Run("delete asks, then the webhook is gone", c.delete)
}

func (c *webhookConsole) setValue(b *browser, sel, v string) {
	b.t.Helper()
	value(b, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = %q`, sel, v)))
}

func (c *webhookConsole) create(t *testing.T) {
	b := c.b.in(t)
	b.click(`nav a[href="/console/accounts/webhooks"]`)
	b.waitURL("/console/accounts/webhooks")
	b.waitText("No webhooks yet")
	b.type_("#new-url", c.hookURL)
	c.setValue(b, "#new-events", "account.*")
	b.click(`form[action="/console/accounts/webhooks"] button.primary`)
	b.waitText("Signing secret of the webhook")
	secret := b.text("#new-secret")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown %q, want whsec_...", secret)
	}
	c.rc.mu.Lock()
	c.rc.secret = secret
	c.rc.mu.Unlock()
	b.shot("60-webhook-created")
	c.page = strings.TrimPrefix(b.location(), c.srv.URL)
	b.open(c.page)
	if b.count("#new-secret") != 0 {
		t.Errorf("the signing secret is shown again after a reload")
	}
}

// awaitLog reloads the webhook's page until its delivery log shows that many attempts
// and a delivered delivery: the dispatcher works on its own time.
func (c *webhookConsole) awaitLog(b *browser, attempts int) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b.open(c.page)
		if b.count("table.deliveries .attempt") >= attempts && strings.Contains(b.text("table.deliveries"), "delivered") {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("delivery log after %v, want %d attempts and delivered:\n%s", timeout, attempts, b.text("main"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c *webhookConsole) deliveries(t *testing.T) {
	b := c.b.in(t)
	if c.page == "" {
		t.Fatal("no webhook to deliver to: its creation failed")
	}
	if _, errOut, code := binary.Run(t, c.dir, "", "serviceaccount", "create", "sa::hooked", "--db", c.dsn); code != 0 {
		t.Fatalf("serviceaccount create: %s", errOut)
	}
	c.awaitLog(b, 2)
	log := b.text("table.deliveries")
	if !strings.Contains(log, "account.created") || !strings.Contains(log, "503") || !strings.Contains(log, "200") || !strings.Contains(log, "thanks") {
		t.Errorf("delivery log, want account.created refused with 503 then taken with 200 (thanks):\n%s", log)
	}
	b.shot("61-webhook-deliveries")
	b.click(`table.deliveries form[action$="/redeliver"] button`)
	b.waitText("will be sent again")
	c.awaitLog(b, 3)
	c.rc.mu.Lock()
	defer c.rc.mu.Unlock()
	if c.rc.requests != 3 || c.rc.verified != 3 || len(c.rc.ids) != 1 {
		t.Errorf("receiver: %d requests, %d verified, webhook-ids %v; want 3 verified requests of one event",
			c.rc.requests, c.rc.verified, c.rc.ids)
	}
}

func (c *webhookConsole) edit(t *testing.T) {
	b := c.b.in(t)
	b.open(c.page)
	c.setValue(b, "#edit-events", "token.everything")
	b.click(`form[action="` + c.page + `"] button.primary`)
	b.waitText(`"token.everything" is neither an event type`)
	b.poll(`!!document.querySelector("#edit-events")`)
	if got := value(b, chromedp.Evaluate[string](`document.querySelector("#edit-events").value`)); got != "token.everything" {
		t.Errorf("after a refused edit the events field holds %q, want what was typed", got)
	}
	c.setValue(b, "#edit-events", "token.revoked\ntoken.leaked")
	b.click(`#edit-events ~ label input[name=active]`)
	b.click(`form[action="` + c.page + `"] button.primary`)
	b.waitText("Webhook saved.")
	if head := b.text(".page-head"); !strings.Contains(head, "Paused") {
		t.Errorf("after unticking Active the page says %q, want Paused", head)
	}
	if got := value(b, chromedp.Evaluate[string](`document.querySelector("#edit-events").value`)); got != "token.revoked\ntoken.leaked" {
		t.Errorf("saved events %q", got)
	}
}

func (c *webhookConsole) delete(t *testing.T) {
	b := c.b.in(t)
	b.open(c.page)
	b.click(`.danger-zone button.danger`)
	b.confirm()
	b.waitText("Webhook deleted")
	b.waitText("No webhooks yet")
	b.open(c.page)
	b.waitText("Not found")
}
