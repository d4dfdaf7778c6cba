package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestClaimDelivery has many dispatchers claim at once (none while the webhook is paused): each due delivery goes to exactly
// one of them; a claim whose lease ran out goes to another, and the first can no longer
// record over it; a delivered one is never claimed again.
func TestClaimDelivery(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		hook := tokenward.Webhook{ID: tokenward.NewWebhookID(), URL: "https://hooks.example.com/", Events: []string{"account.*"}, Active: true, Created: t0, Updated: t0}
		if err := db.CreateWebhook(ctx, hook, tokenward.NewWebhookSecret(), at(t0)); err != nil {
			t.Fatalf("CreateWebhook: %v", err)
		}
		const events = 12
		for i := range events {
			newAccount(t, db, "sa::c"+string(rune('a'+i)), tokenward.ServiceAccount)
		}
		now, lease := t0.Add(time.Second), time.Minute
		// A paused webhook's deliveries wait.
		hook.Active = false
		if err := db.UpdateWebhook(ctx, hook, at(t0)); err != nil {
			t.Fatalf("UpdateWebhook: %v", err)
		}
		if c, ok, err := db.ClaimDelivery(ctx, now, lease); ok || err != nil {
			t.Fatalf("claim of a paused webhook's delivery: %d, %v, %v; want none", c.ID, ok, err)
		}
		hook.Active = true
		if err := db.UpdateWebhook(ctx, hook, at(t0)); err != nil {
			t.Fatalf("UpdateWebhook: %v", err)
		}
		var mu sync.Mutex
		claimed := map[int64]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					c, ok, err := db.ClaimDelivery(ctx, now, lease)
					if err != nil {
						t.Errorf("ClaimDelivery: %v", err)
						return
					}
					if !ok {
						return
					}
					mu.Lock()
					claimed[c.ID]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != events {
			t.Errorf("%d deliveries claimed, want %d", len(claimed), events)
		}
		for id, n := range claimed {
			if n != 1 {
				t.Errorf("delivery %d claimed %d times within its lease, want once", id, n)
			}
		}

		checkLeaseTakeover(t, db, hook.ID, now.Add(lease), lease, events)
	})
}

// checkLeaseTakeover claims again at later, when every lease has ended: the delivery goes
// to a second dispatcher, the first one's late result is logged but changes nothing, and
// once delivered it never comes back.
func checkLeaseTakeover(t *testing.T, db *store.DB, hookID string, later time.Time, lease time.Duration, events int) {
	t.Helper()
	ctx := context.Background()
	// After the lease: claimed again, by a second dispatcher; the first one's late
	// result is logged but changes nothing.
	second, ok, err := db.ClaimDelivery(ctx, later, lease)
	if err != nil || !ok {
		t.Fatalf("claim after the lease: %v, %v; want a delivery", ok, err)
	}
	first := second
	first.Claim--
	if err := db.FinishDelivery(ctx, first, tokenward.DeliveryAttempt{At: later, Status: 200}, tokenward.DeliveryDelivered, later); err != nil {
		t.Fatalf("FinishDelivery (stale): %v", err)
	}
	if err := db.FinishDelivery(ctx, second, tokenward.DeliveryAttempt{At: later, Status: 500, Excerpt: "down"}, tokenward.DeliveryPending, later.Add(time.Second)); err != nil {
		t.Fatalf("FinishDelivery: %v", err)
	}
	d := deliveryOf(t, db, hookID, second.ID)
	if d.State != tokenward.DeliveryPending || !d.NextAttempt.Equal(later.Add(time.Second)) || len(d.Attempts) != 2 {
		t.Errorf("after a stale success and a current failure: %+v, want pending at %v with 2 attempts logged", d, later.Add(time.Second))
	}
	// The other deliveries, whose leases ended at later, come first; then this one.
	var third tokenward.DeliveryClaim
	for range events {
		c, ok, err := db.ClaimDelivery(ctx, later.Add(time.Second), lease)
		if err != nil || !ok {
			t.Fatalf("claim when due again: %v, %v; want delivery %d among the due", ok, err, second.ID)
		}
		if c.ID == second.ID {
			third = c
			break
		}
	}
	if third.ID != second.ID || third.Claim != second.Claim+1 {
		t.Fatalf("delivery %d never claimed again when due (claim %d)", second.ID, third.Claim)
	}
	if err := db.FinishDelivery(ctx, third, tokenward.DeliveryAttempt{At: later, Status: 204}, tokenward.DeliveryDelivered, later); err != nil {
		t.Fatalf("FinishDelivery: %v", err)
	}
	if d := deliveryOf(t, db, hookID, second.ID); d.State != tokenward.DeliveryDelivered {
		t.Errorf("state %s, want delivered", d.State)
	}
	for range events { // every other delivery once; never the delivered one
		c, ok, err := db.ClaimDelivery(ctx, later.Add(time.Hour), lease)
		if err != nil || (ok && c.ID == second.ID) {
			t.Fatalf("claim: delivery %d, %v, %v; the delivered delivery %d came back", c.ID, ok, err, second.ID)
		}
	}
}

func deliveryOf(t *testing.T, db *store.DB, hookID string, id int64) tokenward.Delivery {
	t.Helper()
	page, err := db.WebhookDeliveries(context.Background(), hookID, 0, 100)
	if err != nil {
		t.Fatalf("WebhookDeliveries: %v", err)
	}
	for _, d := range page.Items {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("no delivery %d", id)
	return tokenward.Delivery{}
}
