package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// TestRevocationPropagation runs two instances on one PostgreSQL, revokes 200 tokens one
// by one on instance A and polls instance B with each until B rejects it. It prints the
// p50, p99 and maximum of revoke-to-rejected (from A's response to B's first 401) and fails
// when the maximum passes the documented bound.
func TestRevocationPropagation(t *testing.T) {
	dir := t.TempDir()
	dsn := storetest.DSN(t, store.Postgres)
	a, b := binary.Start(t, dir, dsn), binary.Start(t, dir, dsn)
	admin := binary.RunOn(t, dir, dsn, "token", "create", "admin@localhost")
	if status := awaitStatus(t, a.URL+"/api/v2/apitoken", admin, 200); status != 200 {
		t.Fatalf("admin token on A: %d", status)
	}

	const accounts, perAccount = 10, 20
	type token struct{ account, secret string }
	var tokens []token
	for i := range accounts {
		sa := fmt.Sprintf("sa::prop-%d", i)
		if status, c := call(t, "POST", a.URL+"/api/v2/account/serviceaccount", admin, `{"identifier":"`+sa+`"}`); status != 200 {
			t.Fatalf("create %s: %d %v", sa, status, c)
		}
		for range perAccount {
			status, c := call(t, "POST", a.URL+"/api/v2/apitoken/serviceaccount/"+sa, admin, "")
			if status != 200 {
				t.Fatalf("generate for %s: %d %v", sa, status, c)
			}
			list := testkit.ResponseList(t, c)
			tokens = append(tokens, token{sa, list[len(list)-1]["tokenID"].(string)})
		}
	}
	for _, tok := range tokens {
		if status := awaitStatus(t, b.URL+"/auth/verify", tok.secret, 200); status != 200 {
			t.Fatalf("a generated token never reached B: %d", status)
		}
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	verifyOnB := func(secret string) int {
		req, _ := http.NewRequest("GET", b.URL+"/auth/verify", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("verify on B: %v", err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	lags := make([]time.Duration, 0, len(tokens))
	for _, tok := range tokens {
		status, _ := call(t, "DELETE", a.URL+"/api/v2/apitoken/serviceaccount/"+tok.account+"/"+tok.secret, admin, "")
		if status != 200 {
			t.Fatalf("revoke on A: %d", status)
		}
		revoked := time.Now()
		for {
			if verifyOnB(tok.secret) == 401 {
				lags = append(lags, time.Since(revoked))
				break
			}
			if time.Since(revoked) > 5*time.Second {
				t.Fatalf("B still accepts a token revoked on A 5s ago")
			}
		}
	}
	slices.Sort(lags)
	p := func(q float64) time.Duration { return lags[int(q*float64(len(lags)-1))] }
	worst := lags[len(lags)-1]
	fmt.Printf("revocation propagation over %d tokens, two instances on PostgreSQL: p50 %v, p99 %v, max %v (bound %v)\n",
		len(lags), p(0.50).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), worst.Round(10*time.Microsecond), PropagationBound)
	if worst > PropagationBound {
		t.Errorf("worst revoke-to-rejected %v passes the documented bound %v", worst, PropagationBound)
	}
}
