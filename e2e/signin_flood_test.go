package e2e

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// TestSignInFlood is the bounded load test of the issue "Hostile input": 200 parallel
// clients, each from its own address, send wrong console sign-ins for real accounts as
// fast as they are answered, against `tokenward serve` with the sign-in budgets off, so
// that only the cap on password checks protects it (the worst case). Meanwhile one client
// verifies a valid token. It prints the server's peak memory, the verification latency
// before and during the flood and the answers; it asserts what is not timing: every
// answer is 401, 429 or 503 (never another error or a dropped connection), peak memory
// stays under 1 GiB, and the audit trail holds exactly one event per attempt.
//
// Without TOKENWARD_LOAD=1 the flood lasts 3 s; with it, TOKENWARD_LOAD_DURATION (20s).
func TestSignInFlood(t *testing.T) {
	duration := 3 * time.Second
	if os.Getenv("TOKENWARD_LOAD") == "1" {
		duration = 20 * time.Second
		if d, err := time.ParseDuration(os.Getenv("TOKENWARD_LOAD_DURATION")); err == nil {
			duration = d
		}
	}
	const clients, accounts = 200, 20
	dir := t.TempDir()
	srv := binary.Start(t, dir, "tokenward.db", "--trust-forwarded-for", "--limit-signin-account", "off", "--limit-signin-address", "off")
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())
	if password == nil {
		t.Fatalf("no administrator password printed:\n%s", srv.Stdout.String())
	}
	out, errOut, code := binary.Run(t, dir, "", "token", "create", "admin@localhost", "--name", "flood")
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errOut)
	}
	token := strings.TrimSpace(out)
	for i := range accounts {
		email := fmt.Sprintf("user%d@example.com", i)
		if _, errOut, code := binary.Run(t, dir, "", "user", "create", email); code != 0 {
			t.Fatalf("user create %s: %s", email, errOut)
		}
		if _, errOut, code := binary.Run(t, dir, "a password nobody guesses\n", "user", "set-password", email, "--password-stdin"); code != 0 {
			t.Fatalf("set-password %s: %s", email, errOut)
		}
	}
	if status := awaitStatus(t, srv.URL+"/auth/verify", token, 200); status != 200 {
		t.Fatalf("the valid token: %d", status)
	}

	// The valid token's verification, alone and then during the flood.
	verify := func(stop *atomic.Bool, n int) []time.Duration {
		var lat []time.Duration
		for i := 0; (n == 0 || i < n) && !stop.Load(); i++ {
			req, _ := http.NewRequest("GET", srv.URL+"/auth/verify", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			start := time.Now()
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				t.Errorf("verification of the valid token during the flood: %v %v", err, res)
				return lat
			}
			res.Body.Close()
			lat = append(lat, time.Since(start))
			time.Sleep(2 * time.Millisecond)
		}
		return lat
	}
	var never atomic.Bool
	before := verify(&never, 300)

	var stop atomic.Bool
	var mu sync.Mutex
	statuses := map[int]int{}
	var attempts atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for c := range clients {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				form := url.Values{"email": {fmt.Sprintf("user%d@example.com", (c+i)%accounts)}, "password": {"wrong password " + strconv.Itoa(i)}}
				req, _ := http.NewRequest("POST", srv.URL+"/console/signin", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.1", c/250, c%250))
				attempts.Add(1)
				res, err := client.Do(req)
				mu.Lock()
				if err != nil {
					statuses[-1]++
				} else {
					statuses[res.StatusCode]++
					res.Body.Close()
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(300 * time.Millisecond) // let the flood build up
	var probe []time.Duration
	probeDone := make(chan struct{})
	go func() { probe = verify(&stop, 0); close(probeDone) }()
	time.Sleep(duration)
	stop.Store(true)
	wg.Wait()
	<-probeDone
	elapsed := time.Since(start)

	peak := peakRSS(t, srv.Cmd.Process.Pid)
	// Count the audit trail's events in the database itself: the API's total is a lower
	// bound past 1,000 matches.
	srv.Stop(t)
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "tokenward.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var audited int64
	if err := conn.QueryRow(`SELECT count(*) FROM audit_events WHERE action LIKE 'signin.%'`).Scan(&audited); err != nil {
		t.Fatalf("count the audit trail's sign-in events: %v", err)
	}

	t.Logf("sign-in flood: %d clients × %v, %d attempts (%.0f/s): %s", clients, duration, attempts.Load(),
		float64(attempts.Load())/elapsed.Seconds(), describeStatuses(statuses))
	t.Logf("server peak RSS (VmHWM): %d MiB (bound 1024 MiB)", peak>>20)
	t.Logf("valid token /auth/verify: alone p50 %v p99 %v; during the flood p50 %v p99 %v max %v (%d requests; goal p99 < 20ms)",
		pct(before, 50), pct(before, 99), pct(probe, 50), pct(probe, 99), pct(probe, 100), len(probe))
	t.Logf("audit trail: %d sign-in events for %d attempts", audited, attempts.Load())

	for s, n := range statuses {
		if s != 401 && s != 429 && s != 503 {
			t.Errorf("%d answers with status %d (-1: no answer), want only 401, 429 and 503", n, s)
		}
	}
	if statuses[401] == 0 {
		t.Errorf("no password was checked at all")
	}
	if peak >= 1<<30 {
		t.Errorf("peak RSS %d MiB, want under 1 GiB", peak>>20)
	}
	if audited != attempts.Load() {
		t.Errorf("the audit trail holds %d sign-in events for %d attempts, want one each", audited, attempts.Load())
	}
}

// peakRSS reads a process's peak resident memory (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the server's memory: %v", err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// pct is the nearest-rank percentile p of latencies.
func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))].Round(10 * time.Microsecond)
}

func describeStatuses(m map[int]int) string {
	var parts []string
	for _, s := range slices.Sorted(func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%d×%d", m[s], s))
	}
	return strings.Join(parts, ", ")
}

// TestSignInBudgetAcrossInstances: two instances on one database share the sign-in
// budgets: 30 parallel wrong sign-ins for one account, split between them, run exactly
// the account's 5 password checks; the rest are 429, and all 30 are in the audit trail.
func TestSignInBudgetAcrossInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir := t.TempDir()
		dsn := storetest.DSN(t, engine)
		servers := make([]*testkit.Server, 2)
		for i := range servers {
			servers[i] = binary.Start(t, dir, dsn, "--trust-forwarded-for")
		}
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Go(func() {
				form := url.Values{"email": {"admin@localhost"}, "password": {"wrong password " + strconv.Itoa(i)}}
				req, _ := http.NewRequest("POST", servers[i%2].URL+"/console/signin", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i)) // the address budgets play no part
				res, err := http.DefaultClient.Do(req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					statuses[-1]++
					return
				}
				res.Body.Close()
				statuses[res.StatusCode]++
			})
		}
		wg.Wait()
		if statuses[401] != 5 || statuses[429] != 25 {
			t.Errorf("30 parallel wrong sign-ins over two instances: %s, want 5×401 and 25×429", describeStatuses(statuses))
		}
		token := binary.RunOn(t, dir, dsn, "token", "create", "admin@localhost")
		awaitStatus(t, servers[0].URL+"/api/v2/apitoken", token, 200)
		for action, want := range map[string]int{"signin.failure": 5, "signin.limited": 25} {
			_, c := call(t, "GET", servers[0].URL+"/api/v2/audit?action="+action, token, "")
			page, _ := c["response"].(map[string]any)
			if got, _ := page["totalItems"].(float64); int(got) != want {
				t.Errorf("%d %s events, want %d", int(got), action, want)
			}
		}
	})
}
