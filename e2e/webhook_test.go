package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// receiver is a webhook endpoint that fails its first 3 deliveries, then holds every
// request it gets open (never answering) until the test kills the instance sending them,
// then acknowledges everything. It verifies each request's signature.
type receiver struct {
	mu        sync.Mutex
	secret    string
	requests  int
	succeed   bool              // after the kill
	held      int               // requests held open, never answered
	acks      map[string]int    // 2xx answers by webhook-id
	bodies    map[string][]byte // by webhook-id: the body of each request must be the same
	problems  []string
	heldFirst chan struct{} // closed when the first request is held
}

func newReceiver() *receiver {
	return &receiver{acks: map[string]int{}, bodies: map[string][]byte{}, heldFirst: make(chan struct{})}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	rc.requests++
	n := rc.requests
	wh, whErr := standardwebhooks.NewWebhook(rc.secret)
	if err != nil || whErr != nil {
		rc.problems = append(rc.problems, fmt.Sprintf("request %d: body %v, secret %v", n, err, whErr))
	} else if err := wh.Verify(body, r.Header); err != nil {
		rc.problems = append(rc.problems, fmt.Sprintf("request %d (%s): signature does not verify: %v", n, id, err))
	}
	if prev, ok := rc.bodies[id]; ok && string(prev) != string(body) {
		rc.problems = append(rc.problems, fmt.Sprintf("webhook-id %s sent with two bodies", id))
	}
	rc.bodies[id] = body
	switch {
	case n <= 3:
		rc.mu.Unlock()
		http.Error(w, "not yet", http.StatusInternalServerError)
	case !rc.succeed:
		rc.held++
		if rc.held == 1 {
			close(rc.heldFirst)
		}
		rc.mu.Unlock()
		<-r.Context().Done() // the sender's connection closes when it is killed
	default:
		rc.acks[id]++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

// TestWebhookDeliveryAcrossInstances runs the binary on each engine: instance A delivers
// events to a receiver that fails 3 deliveries, then holds the rest open; A is killed
// (SIGKILL) while holding them; two instances then share the database and make more
// events. Every event of the outbox must arrive, signed (verified with the Standard
// Webhooks library, against the real clock), with the outbox's payload byte for byte, and
// be acknowledged exactly once: a delivery is retried, with the same webhook-id, only
// until acknowledged.
func TestWebhookDeliveryAcrossInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir := t.TempDir()
		dsn := storetest.DSN(t, engine)
		// The lease outlasts any answer (the timeout) by far, so that only a killed
		// instance's deliveries are taken over.
		flags := []string{"--webhook-backoff", "50ms", "--webhook-poll", "50ms", "--webhook-timeout", "10s", "--webhook-lease", "12s"}
		rc := newReceiver()
		hooks := httptest.NewServer(rc)
		defer hooks.Close()

		a := binary.Start(t, dir, dsn, flags...)
		admin := binary.RunOn(t, dir, dsn, "token", "create", "admin@localhost")
		if status := awaitStatus(t, a.URL+"/api/v2/apitoken", admin, 200); status != 200 {
			t.Fatalf("admin token on A: %d", status)
		}
		db, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		events, err := db.Events(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		before := len(events)
		status, c := call(t, "POST", a.URL+"/api/v2/webhook", admin, `{"url":"`+hooks.URL+`/hook","events":["token.*","account.*"]}`)
		if status != 200 {
			t.Fatalf("create webhook: %d %v", status, c)
		}
		hook := c["response"].(map[string]any)
		rc.mu.Lock()
		rc.secret = hook["secret"].(string)
		rc.mu.Unlock()
		hookID := hook["id"].(string)

		makeEvents(t, a.URL, admin, "sa::before-kill")
		select {
		case <-rc.heldFirst:
		case <-time.After(60 * time.Second):
			t.Fatalf("no delivery reached the receiver after its 3 failures")
		}
		// A has 4 workers: a request can be held while another worker still records a
		// 500. Killing A before it recorded them would lose the very log this test checks.
		awaitAttempts(t, a.URL, admin, hookID, http.StatusInternalServerError, 3, 30*time.Second)
		a.Cmd.Process.Signal(syscall.SIGKILL)
		<-a.Done
		rc.mu.Lock()
		rc.succeed = true
		rc.mu.Unlock()

		// The instance restarted and a second one: both deliver, and both make events.
		servers := []*testkit.Server{binary.Start(t, dir, dsn, flags...), binary.Start(t, dir, dsn, flags...)}
		for i, s := range servers {
			if status := awaitStatus(t, s.URL+"/api/v2/apitoken", admin, 200); status != 200 {
				t.Fatalf("admin token on instance %d: %d", i, status)
			}
			makeEvents(t, s.URL, admin, fmt.Sprintf("sa::after-kill-%d", i))
		}
		awaitDelivered(t, servers[0].URL, admin, hookID, 120*time.Second)
		checkDeliveries(t, rc, db, before)
	})
}

// makeEvents makes 5 events through the API: an account created, two tokens generated,
// one renamed, one revoked.
func makeEvents(t *testing.T, url, admin, sa string) {
	t.Helper()
	if status, c := call(t, "POST", url+"/api/v2/account/serviceaccount", admin, `{"identifier":"`+sa+`"}`); status != 200 {
		t.Fatalf("create %s: %d %v", sa, status, c)
	}
	var ids []string
	for range 2 {
		status, c := call(t, "POST", url+"/api/v2/apitoken/serviceaccount/"+sa, admin, `{"tokenName":"t"}`)
		if status != 200 {
			t.Fatalf("generate for %s: %d %v", sa, status, c)
		}
		list := testkit.ResponseList(t, c)
		ids = append(ids, list[len(list)-1]["tokenID"].(string))
	}
	if status, c := call(t, "PUT", url+"/api/v2/apitoken/serviceaccount/"+sa+"/"+ids[0], admin, `{"tokenName":"renamed"}`); status != 200 {
		t.Fatalf("rename: %d %v", status, c)
	}
	if status, c := call(t, "DELETE", url+"/api/v2/apitoken/serviceaccount/"+sa+"/"+ids[1], admin, ""); status != 200 {
		t.Fatalf("revoke: %d %v", status, c)
	}
}

// awaitAttempts waits until the webhook's delivery log shows n attempts answered status.
func awaitAttempts(t *testing.T, url, admin, hookID string, status, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, c := call(t, "GET", url+"/api/v2/webhook/"+hookID+"/deliveries?limit=1000", admin, "")
		items, _ := c["response"].(map[string]any)["items"].([]any)
		seen := 0
		for _, it := range items {
			for _, a := range it.(map[string]any)["attempts"].([]any) {
				if a.(map[string]any)["statusCode"].(float64) == float64(status) {
					seen++
				}
			}
		}
		if seen >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the delivery log shows %d attempts answered %d after %v, want %d", seen, status, within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitDelivered waits until every delivery of the webhook is delivered (no pending one,
// none failed), as its delivery log says.
func awaitDelivered(t *testing.T, url, admin, hookID string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		_, c := call(t, "GET", url+"/api/v2/webhook/"+hookID+"/deliveries?limit=1000", admin, "")
		items, _ := c["response"].(map[string]any)["items"].([]any)
		states := map[string]int{}
		retried := false
		for _, it := range items {
			d := it.(map[string]any)
			states[d["state"].(string)]++
			for _, a := range d["attempts"].([]any) {
				if a.(map[string]any)["statusCode"].(float64) == 500 {
					retried = true
				}
			}
		}
		if states["delivered"] == len(items) && len(items) == 15 {
			if !retried {
				t.Errorf("no delivery's log shows the receiver's 500 answers")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries after %v: %v of %d, want all 15 delivered", within, states, len(items))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkDeliveries compares what the receiver got with the outbox.
func checkDeliveries(t *testing.T, rc *receiver, db *store.DB, before int) {
	t.Helper()
	events, err := db.Events(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	events = events[before:] // the ones before the webhook existed
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, p := range rc.problems {
		t.Error(p)
	}
	var want []string
	types := map[string]int{}
	for _, raw := range events {
		var e struct{ ID, Type string }
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e.ID)
		types[e.Type]++
		checkDocumentedEvent(t, raw)
		if got, ok := rc.bodies[e.ID]; !ok {
			t.Errorf("event %s (%s) never arrived", e.ID, e.Type)
		} else if string(got) != string(raw) {
			t.Errorf("event %s arrived as %s, want the outbox's %s", e.ID, got, raw)
		}
		if rc.acks[e.ID] != 1 {
			t.Errorf("event %s (%s) acknowledged %d times, want exactly once", e.ID, e.Type, rc.acks[e.ID])
		}
	}
	if len(want) != 15 {
		t.Errorf("%d events to deliver in the outbox, want 15 (3 × 5)", len(want))
	}
	// makeEvents's five, three times.
	if wantTypes := map[string]int{"account.created": 3, "token.generated": 6, "token.renamed": 3, "token.revoked": 3}; !maps.Equal(types, wantTypes) {
		t.Errorf("event types %v, want %v", types, wantTypes)
	}
	var got []string
	for id := range rc.bodies {
		got = append(got, id)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the receiver got webhook-ids %v, want the outbox's %v", got, want)
	}
	if rc.held == 0 {
		t.Errorf("no request was held open when the instance was killed; the test proved nothing about a crash")
	}
	t.Logf("%d requests for %d events: 3 failed, %d cut off by the kill", rc.requests, len(want), rc.held)
}

// checkDocumentedEvent checks an event's payload against reference §13: the keys id, type,
// occurredAt, actor, token and account, detail, a documented type, epoch milliseconds,
// and a token object with id, name, account, accountType and expiresAt.
func checkDocumentedEvent(t *testing.T, raw []byte) {
	t.Helper()
	var e map[string]json.RawMessage
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("event %s: %v", raw, err)
	}
	if got, want := slices.Sorted(maps.Keys(e)), []string{"account", "actor", "detail", "id", "occurredAt", "token", "type"}; !slices.Equal(got, want) {
		t.Errorf("event %s: keys %v, want %v", raw, got, want)
	}
	var typ string
	var at int64
	if json.Unmarshal(e["type"], &typ) != nil || !slices.Contains(documentedEvents, typ) {
		t.Errorf("event %s: type %s, not one of reference §13's", raw, e["type"])
	}
	if err := json.Unmarshal(e["occurredAt"], &at); err != nil || time.Since(time.UnixMilli(at)).Abs() > time.Hour {
		t.Errorf("event %s: occurredAt %s, want epoch milliseconds of about now", raw, e["occurredAt"])
	}
	if !strings.HasPrefix(typ, "token.") {
		return
	}
	var tok map[string]json.RawMessage
	if err := json.Unmarshal(e["token"], &tok); err != nil || tok == nil {
		t.Errorf("event %s: token %s, want an object", raw, e["token"])
		return
	}
	if got, want := slices.Sorted(maps.Keys(tok)), []string{"account", "accountType", "expiresAt", "id", "name"}; !slices.Equal(got, want) {
		t.Errorf("event %s: token keys %v, want %v", raw, got, want)
	}
}

// documentedEvents are the event types of reference §13.
var documentedEvents = []string{"token.generated", "token.renamed", "token.rotated", "token.revoked", "token.expiring",
	"token.expired", "token.idle_disabled", "token.reused_after_rotation", "token.leaked",
	"token.used_outside_allowed_networks", "account.created", "account.deleted", "account.permissions_changed"}
