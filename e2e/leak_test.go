package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// TestRevokeLeakedOnTwoInstances (issue 15, "Done means"): on both engines and two
// instances, 1,000 secrets posted by value to A (POST /api/v2/apitoken/revoke-leaked, no
// authentication) revoke exactly the live tokens among them, UUID and prefixed alike:
// refused on A at once and on B within PropagationBound of A's answer (measured token by
// token), each audited once as token.leaked. The rest of the 1,000, already revoked
// tokens, prefixed secrets of live tokens with one character changed, unknown secrets of
// both formats and text that is no secret, revoke nothing: the live tokens not posted, the
// ones whose altered secrets were, still work on both instances, and every altered
// secret is refused on both.
func TestRevokeLeakedOnTwoInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir, dsn := t.TempDir(), storetest.DSN(t, engine)
		// The checks below send hundreds of refused tokens from one address: no limit on
		// them, so that every answer is the verdict itself.
		a := binary.Start(t, dir, dsn, "--limit-invalid-tokens", "off")
		b := binary.Start(t, dir, dsn, "--limit-invalid-tokens", "off")
		admin := binary.RunOn(t, dir, dsn, "token", "create", "admin@localhost")
		if status := awaitStatus(t, a.URL+"/api/v2/apitoken", admin, 200); status != 200 {
			t.Fatalf("admin token on A: %d", status)
		}
		uuids, prefixed := seedLeakTokens(t, a.URL, admin)
		// Of each format: 125 leaked, 5 revoked before the report (posted too), 30 kept.
		leaked := slices.Concat(uuids[:125], prefixed[:125])
		revokedBefore := slices.Concat(uuids[125:130], prefixed[125:130])
		kept := slices.Concat(uuids[130:], prefixed[130:])
		for _, s := range revokedBefore {
			if status, c := call(t, "DELETE", a.URL+"/api/v2/apitoken/self", s, ""); status != 200 {
				t.Fatalf("revoke a token by itself: %d %v", status, c)
			}
		}
		altered := alteredSecrets(prefixed[130:], 4)
		posted := leakReport(slices.Concat(leaked, revokedBefore, altered[:100]))
		for _, s := range slices.Concat(leaked, kept) {
			if status := awaitStatus(t, b.URL+"/auth/verify", s, 200); status != 200 {
				t.Fatalf("a token before the report, on B: %d", status)
			}
		}

		body, _ := json.Marshal(map[string]any{"secrets": posted, "source": "https://gist.example/leaked"})
		start := time.Now()
		status, c := call(t, "POST", a.URL+"/api/v2/apitoken/revoke-leaked", "", string(body))
		answered := time.Now()
		if received, _ := c["response"].(map[string]any)["received"].(float64); status != 202 || int(received) != tokenward.MaxLeakedSecrets {
			t.Fatalf("revoke-leaked with %d secrets: %d %v, want 202 with received %d", len(posted), status, c, tokenward.MaxLeakedSecrets)
		}
		lags := awaitRefused(t, b.URL, leaked, answered)
		if worst := lags[len(lags)-1]; worst > PropagationBound {
			t.Errorf("the last leaked token refused by B %v after A answered, want within %v", worst, PropagationBound)
		}
		// A refuses them at once; nothing else was revoked.
		for _, s := range slices.Concat(leaked, revokedBefore) {
			if got := verifyStatus(t, a.URL, s); got != 401 {
				t.Errorf("a leaked or revoked token on A after the report: %d, want 401", got)
			}
		}
		for name, base := range map[string]string{"A": a.URL, "B": b.URL} {
			for _, s := range kept {
				if got := verifyStatus(t, base, s); got != 200 {
					t.Errorf("a live token not posted (or posted with a character changed) on %s: %d, want 200", name, got)
				}
			}
			for _, s := range altered {
				if got := verifyStatus(t, base, s); got != 401 {
					t.Errorf("a prefixed secret with one character changed on %s: %d, want 401", name, got)
				}
			}
		}
		status, c = call(t, "GET", b.URL+"/api/v2/audit?action=token.leaked&limit=1", admin, "")
		total, _ := c["response"].(map[string]any)["totalItems"].(float64)
		if status != 200 || int(total) != len(leaked) {
			t.Errorf("token.leaked in the audit trail: %d, %v events; want %d", status, total, len(leaked))
		}
		fmt.Printf("%s: %d secrets posted to A revoked the %d live ones in %v; B refused them %v (p50) to %v (max) after A's answer (bound %v)\n",
			engine, len(posted), len(leaked), answered.Sub(start).Round(time.Millisecond),
			lags[len(lags)/2].Round(10*time.Microsecond), lags[len(lags)-1].Round(10*time.Microsecond), PropagationBound)
	})
}

// seedLeakTokens generates, through the API of the instance at base, 320 tokens over 16
// service accounts: 160 UUID secrets, then, the policy's tokenFormat set to prefixed, 160
// prefixed ones.
func seedLeakTokens(t *testing.T, base, admin string) (uuids, prefixed []string) {
	t.Helper()
	const accounts = 16
	for i := range accounts {
		if i == accounts/2 {
			if status, c := call(t, "PUT", base+"/api/v2/apitoken/policy", admin, `{"tokenFormat":"prefixed"}`); status != 200 {
				t.Fatalf("PUT tokenFormat prefixed: %d %v", status, c)
			}
		}
		sa := fmt.Sprintf("sa::leak-%d", i)
		if status, c := call(t, "POST", base+"/api/v2/account/serviceaccount", admin, `{"identifier":"`+sa+`","active":true}`); status != 200 {
			t.Fatalf("create %s: %d %v", sa, status, c)
		}
		for range tokenward.MaxTokensPerAccount {
			status, c := call(t, "POST", base+"/api/v2/apitoken/serviceaccount/"+sa, admin, "")
			if status != 200 {
				t.Fatalf("generate for %s: %d %v", sa, status, c)
			}
			list := testkit.ResponseList(t, c)
			if s := list[len(list)-1]["tokenID"].(string); i < accounts/2 {
				uuids = append(uuids, s)
			} else {
				prefixed = append(prefixed, s)
			}
		}
	}
	if !regexp.MustCompile(`^` + tokenward.SecretPattern + `$`).MatchString(prefixed[0]) {
		t.Fatalf("a secret generated under tokenFormat prefixed is not prefixed: length %d", len(prefixed[0]))
	}
	return uuids, prefixed
}

// alteredSecrets returns, for each prefixed secret, n copies with one character after the
// prefix changed, a different one each time.
func alteredSecrets(secrets []string, n int) []string {
	var out []string
	for i, s := range secrets {
		for j := range n {
			at := len(tokenward.SecretPrefix) + (i*n+j)%(len(s)-len(tokenward.SecretPrefix))
			c := byte('a')
			if s[at] == 'a' {
				c = 'b'
			}
			out = append(out, s[:at]+string(c)+s[at+1:])
		}
	}
	return out
}

// leakReport returns MaxLeakedSecrets secrets in random order: those given, then fresh
// secrets of both formats no token has up to 700, then text that is no secret.
func leakReport(secrets []string) []string {
	posted := slices.Clone(secrets)
	for len(posted) < 700 {
		posted = append(posted, tokenward.NewSecret().Reveal(), tokenward.NewPrefixedSecret().Reveal())
	}
	for i := 0; len(posted) < tokenward.MaxLeakedSecrets; i++ {
		posted = append(posted, fmt.Sprintf("not a secret %d", i))
	}
	rand.Shuffle(len(posted), func(i, j int) { posted[i], posted[j] = posted[j], posted[i] })
	return posted
}

// verifyClient keeps enough connections open for awaitRefused's clients.
var verifyClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}

// verifyStatus asks the instance at base about secret with /auth/verify.
func verifyStatus(t *testing.T, base, secret string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/auth/verify", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := verifyClient.Do(req)
	if err != nil {
		t.Errorf("GET %s/auth/verify: %v", base, err)
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// awaitRefused asks the instance at base about each secret until it refuses it, for at
// most 5 s, and returns the lags from since to each first refusal, sorted. 25 clients share
// the secrets, each asking about its own over and over: a first refusal may wait for the
// instance to catch up with the database, which one client asking about every secret in
// turn would add up.
func awaitRefused(t *testing.T, base string, secrets []string, since time.Time) []time.Duration {
	t.Helper()
	var mu sync.Mutex
	var lags []time.Duration
	var wg sync.WaitGroup
	const clients = 25
	for w := range clients {
		wg.Go(func() {
			var pending []string
			for i := w; i < len(secrets); i += clients {
				pending = append(pending, secrets[i])
			}
			for len(pending) > 0 && time.Since(since) < 5*time.Second {
				var still []string
				for _, s := range pending {
					if verifyStatus(t, base, s) != 401 {
						still = append(still, s)
						continue
					}
					lag := time.Since(since)
					mu.Lock()
					lags = append(lags, lag)
					mu.Unlock()
				}
				pending = still
			}
			if len(pending) > 0 {
				t.Errorf("%s still accepts %d of the secrets 5 s on", base, len(pending))
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	slices.Sort(lags)
	return lags
}
