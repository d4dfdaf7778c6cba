package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestServeSweepsOnTwoInstances: two instances of serve, each sweeping every 100 ms on one
// database, record a 2-second token's 1-day notice and its expiry once each, by the
// lifecycle sweep, and nothing more however many sweeps follow.
func TestServeSweepsOnTwoInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir := t.TempDir()
		dsn := filepath.Join(dir, "tokenward.db")
		if engine == store.Postgres {
			dsn = storetest.DSN(t, engine)
		}
		a, b := binary.Start(t, dir, dsn, "--lifecycle-sweep", "100ms"), binary.Start(t, dir, dsn, "--lifecycle-sweep", "100ms")
		admin := binary.RunOn(t, dir, dsn, "token", "create", "admin@localhost")
		if status, c := call(t, "POST", a.URL+"/api/v2/apitoken", admin, `{"tokenName":"short","expiresInSeconds":2}`); status != 200 {
			t.Fatalf("generate with a 2 s lifetime: %d %v", status, c)
		}
		events := func() []string {
			_, c := call(t, "GET", b.URL+"/api/v2/audit?action=token.&limit=100", admin, "")
			items, _ := c["response"].(map[string]any)["items"].([]any)
			var out []string
			for _, it := range items {
				e := it.(map[string]any)
				if action := e["action"].(string); action == "token.expiring" || action == "token.expired" {
					out = append(out, action+" by "+e["actor"].(string)+": "+strings.SplitN(e["detail"].(string), ";", 2)[0])
				}
			}
			return out
		}
		// Wait for the expiry notice, then for many more sweeps of both instances.
		deadline := time.Now().Add(20 * time.Second)
		for len(events()) < 2 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second)
		got := strings.Join(events(), "\n")
		want := "token.expired by tokenward: expired at\ntoken.expiring by tokenward: daysLeft: 1"
		if !strings.HasPrefix(got, "token.expired by tokenward: expired at") || !strings.HasSuffix(got, "token.expiring by tokenward: daysLeft: 1") || strings.Count(got, "\n") != 1 {
			t.Errorf("the sweeps recorded (newest first):\n%s\nwant:\n%s ...", got, want)
		}
	})
}
