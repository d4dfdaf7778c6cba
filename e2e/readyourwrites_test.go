package e2e

import (
	"strings"
	"testing"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestCommandLineTokenUsableAtOnce: the README's flow, `T=$(tokenward token create ...)`
// then a request with $T, works on the first try on every running instance: two servers
// over one database, tokens created by the command line (another process), each used on
// both servers once, never retried. (internal/auth's TestCreateThenUseEverywhere makes
// 1,000 tries per engine in-process.)
func TestCommandLineTokenUsableAtOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir := t.TempDir()
		dsn := storetest.DSN(t, engine)
		a := binary.Start(t, dir, dsn)
		b := binary.Start(t, dir, dsn) // after A, which creates the administrator
		servers := map[string]string{"A": a.URL, "B": b.URL}
		for i := range 10 {
			out, _, code := binary.Run(t, dir, "", "token", "create", "admin@localhost", "--db", dsn)
			if code != 0 {
				t.Fatalf("token create: exit %d", code)
			}
			for name, url := range servers {
				if status, _ := call(t, "GET", url+"/auth/verify", strings.TrimSpace(out), ""); status != 200 {
					t.Errorf("try %d: a token the command line created just before: first request to %s got %d, want 200", i, name, status)
				}
			}
		}
	})
}
