package e2e

import (
	"database/sql"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tokenward/tokenward/cmd/tokenward-bench/seed"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// Bulk revocation at scale: 5,000 service accounts with 20 tokens each.
const (
	bulkAccounts = 5000
	bulkTokens   = bulkAccounts * 20
	// bulkKillAt is how many tokens the job has handled when the server is killed: half
	// (issue 15, "Done means": "survives a SIGKILL halfway").
	bulkKillAt = bulkTokens / 2
)

// jobProgress returns a bulk revocation job's state and the tokens it has handled.
func jobProgress(t *testing.T, base, admin, id string) (string, int, int) {
	t.Helper()
	status, c := call(t, "GET", base+"/api/v2/job/"+id, admin, "")
	if status != 200 {
		t.Fatalf("GET job: %d %v", status, c)
	}
	j := c["response"].(map[string]any)
	return j["state"].(string), int(j["done"].(float64)), int(j["failed"].(float64))
}

// TestBulkRevoke100kSurvivesSIGKILL: with the built binary, a bulk revocation of 100,000
// matching tokens shows its progress, survives a SIGKILL halfway through (the
// restarted server takes the job over once the dead one's lease lapses) and revokes each
// token exactly once: 100,000 revocation events, one per token, and no live token left. It
// prints the figures.
func TestBulkRevoke100kSurvivesSIGKILL(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir, dsn := t.TempDir(), storetest.DSN(t, engine)
		flags := []string{"--revoke-job-lease", "2s"}
		seeding := time.Now()
		seedBulk(t, dir, dsn, bulkAccounts, 20)
		seeded := time.Since(seeding)
		out, errOut, code := binary.Run(t, dir, "", "token", "create", "admin@localhost", "--name", "bulk", "--db", dsn)
		if code != 0 {
			t.Fatalf("token create: %s", errOut)
		}
		admin := strings.TrimSpace(out)
		srv := binary.Start(t, dir, dsn, flags...)

		started := time.Now()
		status, c := call(t, "POST", srv.URL+"/api/v2/apitoken/customertokens/revoke-bulk", admin,
			fmt.Sprintf(`{"query": {"query": [{"key": "accountType", "value": "SERVICE_ACCOUNT", "matchingMethod": "EXACT"}]}, "expectedCount": %d}`, bulkTokens))
		if status != 202 {
			t.Fatalf("revoke-bulk: %d %v", status, c)
		}
		resp := c["response"].(map[string]any)
		id, total := resp["jobId"].(string), int(resp["total"].(float64))
		if total != bulkTokens {
			t.Fatalf("job total %d, want %d", total, bulkTokens)
		}
		created := time.Since(started)
		var seen []int
		if state, done, _ := followJob(t, srv.URL, admin, id, &seen, func(state string, done int) bool {
			return state != "running" || done >= bulkKillAt
		}); state != "running" {
			t.Fatalf("the job ended (%s, %d done) before the kill at %d: the machine is faster than this test expects; raise bulkTokens", state, done, bulkKillAt)
		}
		killSIGKILL(t, srv)
		beforeKill := time.Since(started)
		atKill, _ := countRevocations(t, engine, dsn, id)
		if atKill >= bulkTokens || atKill < bulkKillAt {
			t.Fatalf("%d tokens revoked when killed, want between %d and %d", atKill, bulkKillAt, bulkTokens)
		}

		restarted := time.Now()
		srv = binary.Start(t, dir, dsn, flags...)
		deadline := time.Now().Add(5 * time.Minute)
		if state, done, failed := followJob(t, srv.URL, admin, id, &seen, func(state string, _ int) bool {
			return state != "running" || time.Now().After(deadline)
		}); state != "done" || done != bulkTokens || failed != 0 {
			t.Fatalf("after the restart the job is %s with %d done and %d failed, want done with %d", state, done, failed, bulkTokens)
		}
		afterRestart := time.Since(restarted)
		if len(seen) < 4 {
			t.Errorf("progress seen: %v; want several steps between 0 and %d", seen, bulkTokens)
		}
		events, live := countRevocations(t, engine, dsn, id)
		if live != 0 {
			t.Errorf("%d service-account tokens still live, want none", live)
		}
		if events != bulkTokens {
			t.Errorf("%d revocation events, want %d", events, bulkTokens)
		}
		for _, n := range []int{0, bulkKillAt, bulkTokens - 1} {
			verifies(t, srv.URL, seed.Secret(n), false)
		}
		fmt.Printf("bulk revoke on %s: %d tokens; seeded in %v, job created in %v, killed after %v at %d revoked, finished %v after the restart (lease 2s); %d progress readings\n",
			engine, bulkTokens, seeded.Round(time.Millisecond), created.Round(time.Millisecond), beforeKill.Round(time.Millisecond),
			atKill, afterRestart.Round(time.Millisecond), len(seen))
	})
}

// followJob polls a job until stop says so, noting each new number of tokens handled in
// seen, and returns its last state, done and failed.
func followJob(t *testing.T, base, admin, id string, seen *[]int, stop func(state string, done int) bool) (string, int, int) {
	t.Helper()
	for {
		state, done, failed := jobProgress(t, base, admin, id)
		if n := len(*seen); n == 0 || (*seen)[n-1] != done {
			*seen = append(*seen, done)
		}
		if stop(state, done) {
			return state, done, failed
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// killSIGKILL kills the server with SIGKILL and waits for it to be gone.
func killSIGKILL(t *testing.T, srv *testkit.Server) {
	t.Helper()
	if err := srv.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Done:
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not die within 20s of SIGKILL")
	}
}

// countRevocations reads the database directly: it fails the test unless every token.revoke
// event names a different token and each names the job, and returns how many there are and
// how many service-account tokens are still live.
func countRevocations(t *testing.T, engine store.Engine, dsn, job string) (events, live int) {
	t.Helper()
	driver, source := "pgx", dsn
	if engine == store.SQLite {
		driver, source = "sqlite", "file:"+dsn+"?mode=ro&_pragma=busy_timeout(10000)"
	}
	conn, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var distinct, ofJob, revoked int
	if err := conn.QueryRow(`SELECT count(*), count(DISTINCT target), count(CASE WHEN detail = $1 THEN 1 END) FROM audit_events WHERE action = 'token.revoke'`,
		"bulk revocation "+job).Scan(&events, &distinct, &ofJob); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(`SELECT count(CASE WHEN revoked_at IS NULL THEN 1 END), count(CASE WHEN revoked_at IS NOT NULL THEN 1 END) FROM tokens WHERE account_kind = 'service'`).
		Scan(&live, &revoked); err != nil {
		t.Fatal(err)
	}
	if distinct != events || ofJob != events || revoked != events {
		t.Errorf("%d revocation events for %d distinct tokens, %d naming the job, %d tokens revoked: want one event per token, each naming the job", events, distinct, ofJob, revoked)
	}
	return events, live
}

// TestBulkRevokeTakenOverByALiveInstance: two instances serve one database; the one
// running a job of 20,000 tokens is killed a quarter of the way, and the other, still
// running, takes the job over once the lease lapses and finishes it: each token revoked
// once, and refused on the surviving instance.
func TestBulkRevokeTakenOverByALiveInstance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir, dsn := t.TempDir(), storetest.DSN(t, engine)
		const tokens = 20_000
		flags := []string{"--revoke-job-lease", "2s"}
		seedBulk(t, dir, dsn, tokens/10, 10)
		out, errOut, code := binary.Run(t, dir, "", "token", "create", "admin@localhost", "--name", "bulk", "--db", dsn)
		if code != 0 {
			t.Fatalf("token create: %s", errOut)
		}
		admin := strings.TrimSpace(out)
		first, second := binary.Start(t, dir, dsn, flags...), binary.Start(t, dir, dsn, flags...)
		status, c := call(t, "POST", first.URL+"/api/v2/apitoken/customertokens/revoke-bulk", admin,
			fmt.Sprintf(`{"query": [{"key": "account", "value": "sa::seed-", "matchingMethod": "STARTSWITH"}], "expectedCount": %d}`, tokens))
		if status != 202 {
			t.Fatalf("revoke-bulk: %d %v", status, c)
		}
		id := c["response"].(map[string]any)["jobId"].(string)
		var seen []int
		if state, done, _ := followJob(t, first.URL, admin, id, &seen, func(state string, done int) bool {
			return state != "running" || done >= tokens/4
		}); state != "running" {
			t.Fatalf("the job ended (%s, %d done) before the kill: the machine is faster than this test expects", state, done)
		}
		killSIGKILL(t, first)
		killed := time.Now()
		deadline := killed.Add(2 * time.Minute)
		if state, done, failed := followJob(t, second.URL, admin, id, &seen, func(state string, _ int) bool {
			return state != "running" || time.Now().After(deadline)
		}); state != "done" || done != tokens || failed != 0 {
			t.Fatalf("on the surviving instance the job is %s with %d done and %d failed, want done with %d", state, done, failed, tokens)
		}
		if events, live := countRevocations(t, engine, dsn, id); events != tokens || live != 0 {
			t.Errorf("%d revocation events and %d live tokens, want %d and none", events, live, tokens)
		}
		for _, n := range []int{0, tokens / 2, tokens - 1} {
			verifies(t, second.URL, seed.Secret(n), false)
		}
		fmt.Printf("bulk revoke on %s, two instances: %d tokens, the survivor finished %v after the kill (lease 2s)\n",
			engine, tokens, time.Since(killed).Round(time.Millisecond))
	})
}
