package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// TestLastUsed checks that a token's use shows as lastUsed after the periodic flush, and
// that a graceful shutdown writes the uses not yet flushed.
func TestLastUsed(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir := t.TempDir()
		dsn := storetest.DSN(t, engine)
		srv := binary.Start(t, dir, dsn, "--usage-flush", "100ms")
		out, _, _ := binary.Run(t, dir, "", "token", "create", "admin@localhost", "--name", "a", "--db", dsn)
		first := strings.TrimSpace(out)
		out, _, _ = binary.Run(t, dir, "", "token", "create", "admin@localhost", "--name", "b", "--db", dsn)
		second := strings.TrimSpace(out)
		awaitStatus(t, srv.URL+"/api/v2/apitoken", first, 200)

		lastUsed := func(url, token, name string) any {
			_, c := call(t, "GET", url+"/api/v2/apitoken", token, "")
			for _, tok := range testkit.ResponseList(t, c) {
				if tok["tokenName"] == name {
					return tok["lastUsed"]
				}
			}
			t.Fatalf("no token named %s", name)
			return nil
		}
		deadline := time.Now().Add(2 * time.Second)
		for lastUsed(srv.URL, first, "a") == nil && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if lastUsed(srv.URL, first, "a") == nil {
			t.Errorf("lastUsed of a used token still null 2s after use with a 100ms flush")
		}
		if got := lastUsed(srv.URL, first, "b"); got != nil {
			t.Errorf("lastUsed of the unused token = %v, want null", got)
		}
		srv.Stop(t)

		// A flush interval longer than the test: only the shutdown can write the use.
		slow := binary.Start(t, dir, dsn, "--usage-flush", "1h")
		awaitStatus(t, slow.URL+"/auth/verify", second, 200)
		slow.Stop(t)
		again := binary.Start(t, dir, dsn)
		if got := lastUsed(again.URL, first, "b"); got == nil {
			t.Errorf("a use before a graceful shutdown was not written: lastUsed of b is null")
		}
	})
}
