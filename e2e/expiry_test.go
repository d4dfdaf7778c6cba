package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// TestExpiryOnTwoInstances: a token generated on instance A with a 3-second lifetime is
// accepted by A and B, and refused by both from its expiry instant on, with no propagation
// delay: each instance's index holds the expiry and compares it with the clock the two
// processes share. No retry, no polling: one request each, sent after the instant.
func TestExpiryOnTwoInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir := t.TempDir()
		dsn := filepath.Join(dir, "tokenward.db")
		if engine == store.Postgres {
			dsn = storetest.DSN(t, engine)
		}
		a, b := binary.Start(t, dir, dsn), binary.Start(t, dir, dsn)
		out, errOut, code := binary.Run(t, dir, "", "token", "create", "admin@localhost", "--db", dsn)
		if code != 0 {
			t.Fatalf("token create: exit %d, %s", code, errOut)
		}
		admin := strings.TrimSpace(out)

		status, c := call(t, "POST", a.URL+"/api/v2/apitoken", admin, `{"tokenName":"short","expiresInSeconds":3}`)
		if status != 200 {
			t.Fatalf("generate with a 3 s lifetime: %d %v", status, c)
		}
		list := testkit.ResponseList(t, c)
		short := list[len(list)-1]
		expiresAt, ok := short["expiresAt"].(float64)
		if !ok {
			t.Fatalf("the new token has no expiresAt: %v", short)
		}
		expires := time.UnixMilli(int64(expiresAt))
		secret := short["tokenID"].(string)
		for name, base := range map[string]string{"A": a.URL, "B": b.URL} {
			status, _ := call(t, "GET", base+"/auth/verify", secret, "")
			if sent := time.Now(); status != 200 && sent.Before(expires) {
				t.Errorf("instance %s before the expiry: %d, want 200", name, status)
			}
		}
		time.Sleep(time.Until(expires) + time.Millisecond)
		for name, base := range map[string]string{"A": a.URL, "B": b.URL} {
			if status, _ := call(t, "GET", base+"/auth/verify", secret, ""); status != 401 {
				t.Errorf("instance %s after the expiry instant: %d, want 401", name, status)
			}
		}
		fmt.Printf("%s: refused by both instances from its expiry instant (%s)\n", engine, expires.UTC().Format(time.RFC3339Nano))
	})
}
