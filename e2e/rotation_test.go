package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// TestRotationOnTwoInstances (issue 14, "Done means"): on both engines and two instances,
// a service account holds the cap's 20 tokens; one of them is rotated on A with a 2-second
// grace period. The new secret works at once on A and on B (one request each, no retry);
// the old one works on both until its grace end and not after: no request sent from that
// instant on is accepted by either (asked in a tight loop). The token keeps its public id
// and the account its 20 tokens, with the 21st refused on both instances before and after:
// rotation takes no slot of the cap and frees none.
//
// Both refuse it within RefusalBound of the grace end, as an expired token: the audit
// entry its use after the grace end writes (token.reused_after_rotation) is written in
// the background, not before the 401.
func TestRotationOnTwoInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir, dsn := t.TempDir(), storetest.DSN(t, engine)
		a, b := binary.Start(t, dir, dsn), binary.Start(t, dir, dsn)
		admin := binary.RunOn(t, dir, dsn, "token", "create", "admin@localhost")
		for _, s := range []*testkit.Server{a, b} {
			if status := awaitStatus(t, s.URL+"/api/v2/apitoken", admin, 200); status != 200 {
				t.Fatalf("admin token: %d", status)
			}
		}
		const sa = "sa::rotated"
		if status, c := call(t, "POST", a.URL+"/api/v2/account/serviceaccount", admin, `{"identifier":"`+sa+`","active":true}`); status != 200 {
			t.Fatalf("create %s: %d %v", sa, status, c)
		}
		var secrets []string
		for range 20 {
			status, c := call(t, "POST", a.URL+"/api/v2/apitoken/serviceaccount/"+sa, admin, `{"tokenName":"t"}`)
			if status != 200 {
				t.Fatalf("generate for %s: %d %v", sa, status, c)
			}
			list := testkit.ResponseList(t, c)
			secrets = append(secrets, list[len(list)-1]["tokenID"].(string))
		}
		// publicIDs lists the account's tokens on an instance, by public id.
		publicIDs := func(base string) []string {
			t.Helper()
			status, c := call(t, "GET", base+"/api/v2/apitoken/serviceaccount/"+sa, admin, "")
			if status != 200 {
				t.Fatalf("tokens of %s: %d %v", sa, status, c)
			}
			var ids []string
			for _, tok := range testkit.ResponseList(t, c) {
				ids = append(ids, tok["tokenID"].(string))
			}
			slices.Sort(ids)
			return ids
		}
		atCap := func(step string) {
			t.Helper()
			for name, base := range map[string]string{"A": a.URL, "B": b.URL} {
				if status, c := call(t, "POST", base+"/api/v2/apitoken/serviceaccount/"+sa, admin, ""); status != 400 {
					t.Errorf("%s: a 21st token on %s: %d %v, want 400 (the cap)", step, name, status, c)
				}
			}
		}
		before := publicIDs(a.URL)
		if len(before) != 20 {
			t.Fatalf("%s holds %d tokens, want 20", sa, len(before))
		}
		atCap("before rotation")
		old := secrets[0]
		if status := awaitStatus(t, b.URL+"/auth/verify", old, 200); status != 200 {
			t.Fatalf("the token on B before rotation: %d", status)
		}

		status, c := call(t, "POST", a.URL+"/api/v2/apitoken/serviceaccount/"+sa+"/"+old+"/rotate", admin, `{"gracePeriodSeconds":2}`)
		if status != 200 {
			t.Fatalf("rotate at the cap: %d %v, want 200", status, c)
		}
		rotatedAt := time.Now()
		list := testkit.ResponseList(t, c)
		rotated := list[len(list)-1]
		fresh, _ := rotated["tokenID"].(string)
		graceEnds, ok := rotated["gracePeriodEndsAt"].(float64)
		if len(list) != 20 || fresh == "" || fresh == old || !ok {
			t.Fatalf("rotation answered %d tokens, the last %v; want 20, the rotated one last with a new secret and gracePeriodEndsAt", len(list), rotated)
		}
		graceEnd := time.UnixMilli(int64(graceEnds))
		if d := graceEnd.Sub(rotatedAt); d > 2*time.Second || d < time.Second {
			t.Fatalf("gracePeriodEndsAt is %v after the answer, want 2 s after the rotation", d)
		}
		// The new secret from the start, on the rotating instance and the other.
		for name, base := range map[string]string{"A": a.URL, "B": b.URL} {
			if status, _ := call(t, "GET", base+"/api/v2/apitoken/serviceaccount/"+sa, fresh, ""); status != 403 {
				t.Errorf("the new secret on %s at once: %d, want 403 (authenticated, a service account without user_management)", name, status)
			}
			if status, _ := call(t, "GET", base+"/auth/verify", fresh, ""); status != 200 {
				t.Errorf("the new secret on %s at once: /auth/verify %d, want 200", name, status)
			}
		}
		for name, base := range map[string]string{"A": a.URL, "B": b.URL} {
			if after := publicIDs(base); !slices.Equal(after, before) {
				t.Errorf("the tokens on %s after rotation: %v, want the same 20 public ids %v", name, after, before)
			}
		}
		atCap("during the grace period")

		// The old secret until its grace end, on both, and not after.
		lags := refusedOnEach(t, map[string]string{"A": a.URL, "B": b.URL}, old, graceEnd, RefusalBound)
		for name, base := range map[string]string{"A": a.URL, "B": b.URL} {
			if status, _ := call(t, "GET", base+"/auth/verify", fresh, ""); status != 200 {
				t.Errorf("the new secret on %s after the grace end: %d, want 200", name, status)
			}
			if after := publicIDs(base); !slices.Equal(after, before) {
				t.Errorf("the tokens on %s after the grace end: %v, want the same 20 public ids", name, after)
			}
		}
		atCap("after the grace end")
		fmt.Printf("%s: rotated at the cap (20 tokens before and after); the old secret refused after its grace end by A after %v, by B after %v (bound %v)\n",
			engine, lags["A"], lags["B"], RefusalBound)
	})
}
