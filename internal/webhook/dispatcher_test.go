package webhook_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/webhook"
)

// TestDispatcher runs the dispatcher against a real database and real receivers, with the
// real clock: a receiver that takes the event gets it signed, with the event's id as
// webhook-id; one that always fails has its answers logged and, once the delivery's day is
// over, the delivery fails; one that cannot be reached has the error logged without the
// URL, which may carry a credential.
func TestDispatcher(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + closed.Addr().String() + "/hooks/credential-in-the-path"
	closed.Close()
	tests := []struct {
		name     string
		status   int           // the receiver's answer; 0: use unreachable
		age      time.Duration // how long ago the event happened
		state    string
		attempts int
		logged   string // in the last attempt's excerpt or error
	}{
		{"taken", http.StatusNoContent, 0, tokenward.DeliveryDelivered, 1, ""},
		{"refused past its day", http.StatusBadGateway, tokenward.DeliveryWindow, tokenward.DeliveryFailed, 1, "upstream down"},
		{"unreachable", 0, 0, tokenward.DeliveryPending, 2, "connection refused"},
	}
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				db := storetest.Open(t, engine)
				age := tc.age
				s := tokenward.NewService(tokenward.Config{Store: db, Now: func() time.Time { return time.Now().Add(-age) }})
				rc := &receiver{status: tc.status}
				srv := httptest.NewServer(rc)
				defer srv.Close()
				url := srv.URL
				if tc.status == 0 {
					url = unreachable
				}
				admin := tokenward.Principal{Account: "admin@example.com", Permissions: tokenward.NewPermissionSet(tokenward.UserManagement)}
				hook, sec, err := s.CreateWebhook(ctx, admin, tokenward.Webhook{URL: url, Events: []string{"account.created"}, Active: true})
				if err != nil {
					t.Fatal(err)
				}
				rc.mu.Lock()
				rc.secret = sec
				rc.mu.Unlock()
				if _, err := tokenward.NewOperator(s).CreateServiceAccount(ctx, "sa::hooked", tokenward.PermissionSet(0), ""); err != nil {
					t.Fatal(err)
				}
				run, stop := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() {
					webhook.New(db, webhook.Config{Backoff: time.Millisecond, Poll: 10 * time.Millisecond, Workers: 2}).Run(run)
					close(done)
				}()
				d := awaitDelivery(t, s, admin, hook.ID, tc.state, tc.attempts)
				stop()
				<-done
				last := d.Attempts[len(d.Attempts)-1]
				if !strings.Contains(last.Excerpt+last.Error, tc.logged) || strings.Contains(last.Error, "credential") {
					t.Errorf("last attempt %+v, want %q logged and no URL", last, tc.logged)
				}
				rc.mu.Lock()
				defer rc.mu.Unlock()
				for _, p := range rc.problems {
					t.Error(p)
				}
			})
		}
	})
}

// receiver answers every delivery with status, after checking its signature and that
// its webhook-id is the event's id.
type receiver struct {
	status   int
	mu       sync.Mutex
	secret   string
	problems []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	wh, _ := standardwebhooks.NewWebhook(rc.secret)
	if err := wh.Verify(body, r.Header); err != nil {
		rc.problems = append(rc.problems, "signature: "+err.Error())
	}
	if id := r.Header.Get("webhook-id"); !strings.Contains(string(body), `"id":"`+id+`"`) {
		rc.problems = append(rc.problems, "webhook-id "+id+" is not the event's id: "+string(body))
	}
	w.WriteHeader(rc.status)
	io.WriteString(w, "upstream down")
}

// awaitDelivery waits until the webhook's one delivery is in state with at least that
// many attempts, and returns it.
func awaitDelivery(t *testing.T, s *tokenward.Service, admin tokenward.Principal, hookID, state string, attempts int) tokenward.Delivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		page, err := s.WebhookDeliveries(context.Background(), admin, hookID, 0, 10)
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("deliveries: %+v, %v; want one", page.Items, err)
		}
		d := page.Items[0]
		if d.State == state && len(d.Attempts) >= attempts {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s with %d attempts after 30s, want %s with %d", d.State, len(d.Attempts), state, attempts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
