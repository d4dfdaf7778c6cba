package e2e

import (
	"io"
	"net/http"
	"testing"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// TestRestrictedTokensOnTwoInstances (issue 15, "Done means"): on both engines, with the
// built binary, a token generated on A bound to 127.0.0.1/32 passes from 127.0.0.1 and gets
// the invalid token's 401 from 127.0.0.2 (another loopback address), on A and on B, in the
// API and in forward auth; a token scoped to ingestion is refused (403) what its account
// has, user_management, on both instances, while the account's unscoped token is not.
func TestRestrictedTokensOnTwoInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir, dsn := t.TempDir(), storetest.DSN(t, engine)
		a, b := binary.Start(t, dir, dsn), binary.Start(t, dir, dsn)
		admin := binary.RunOn(t, dir, dsn, "token", "create", "admin@localhost")
		if status := awaitStatus(t, a.URL+"/api/v2/apitoken", admin, 200); status != 200 {
			t.Fatalf("admin token on A: %d", status)
		}
		generate := func(body string) string {
			t.Helper()
			status, c := call(t, "POST", a.URL+"/api/v2/apitoken", admin, body)
			if status != 200 {
				t.Fatalf("generate %s on A: %d %v", body, status, c)
			}
			list := testkit.ResponseList(t, c)
			return list[len(list)-1]["tokenID"].(string)
		}
		bound := generate(`{"tokenName":"bound","allowedCidrs":["127.0.0.1/32"]}`)
		scoped := generate(`{"tokenName":"scoped","permissions":["ingestion"]}`)
		instances := map[string]string{"A": a.URL, "B": b.URL}

		get := func(from, url, secret string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			res, err := clientFrom(t, from).Do(req)
			if err != nil {
				t.Fatalf("GET %s from %s: %v", url, from, err)
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(raw)
		}
		_, invalid := get("127.0.0.2", a.URL+"/api/v2/apitoken", "00000000-0000-4000-8000-000000000000")
		for name, base := range instances {
			for _, path := range []string{"/api/v2/apitoken", "/auth/verify"} {
				if status, raw := get("127.0.0.1", base+path, bound); status != 200 {
					t.Errorf("the bound token from 127.0.0.1 on %s: GET %s %d %s, want 200", name, path, status, raw)
				}
				status, raw := get("127.0.0.2", base+path, bound)
				if status != 401 {
					t.Errorf("the bound token from 127.0.0.2 on %s: GET %s %d, want 401", name, path, status)
				}
				if path == "/api/v2/apitoken" && raw != invalid {
					t.Errorf("the bound token from 127.0.0.2 on %s: %s, want the invalid token's answer", name, raw)
				}
			}

			for path, want := range map[string]int{
				"/auth/verify?permission=ingestion":       200,
				"/auth/verify?permission=user_management": 403,
				"/api/v2/account":                         403,
			} {
				if status, raw := get("127.0.0.1", base+path, scoped); status != want {
					t.Errorf("the token scoped to ingestion on %s: GET %s %d %s, want %d", name, path, status, raw, want)
				}
			}
			if status, raw := get("127.0.0.1", base+"/api/v2/account", admin); status != 200 {
				t.Errorf("the account's unscoped token on %s: GET /api/v2/account %d %s, want 200 (else the 403 proves nothing)", name, status, raw)
			}
		}
	})
}
