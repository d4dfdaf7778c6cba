package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the consistency queries
	_ "modernc.org/sqlite"             // the "sqlite" driver, for PRAGMA integrity_check

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// Crash-test parameters. The default run takes a few seconds per engine; a longer run:
//
//	TOKENWARD_CRASH_ROUNDS=50 go test -count=1 -run TestCrashSafety -v ./e2e/
const (
	crashDefaultRounds = 3
	crashWorkers       = 6
	crashServiceAccts  = 6
	crashCap           = 20 // tokenward.MaxTokensPerAccount, as documented
	crashMinTraffic    = 200 * time.Millisecond
	crashMaxTraffic    = 800 * time.Millisecond
)

// TestCrashSafety kills the server with SIGKILL in the middle of a stream of generate,
// rename and revoke requests from several clients, restarts it on the same database and
// checks what the clients were told: every acknowledged (200) generate left a working,
// listed token unless an acknowledged revoke followed; every acknowledged revoke holds;
// every acknowledged rename kept its name. Requests cut off by the kill have an unknown
// outcome and are not asserted on, but no outcome may break the cap of 20 live tokens per
// account or the database's integrity (SQLite's integrity and foreign-key checks;
// PostgreSQL's amcheck and consistency queries). It repeats for TOKENWARD_CRASH_ROUNDS
// rounds (default 3) on each engine.
func TestCrashSafety(t *testing.T) {
	rounds := crashDefaultRounds
	if s := os.Getenv("TOKENWARD_CRASH_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("TOKENWARD_CRASH_ROUNDS=%q: want a positive number of rounds", s)
		}
		rounds = n
	}
	// The checks verify every revoked token again after each restart: far more invalid
	// tokens from one address than the default limit allows, so switch the limit off when
	// this binary has it.
	var extra []string
	if out, errOut, _ := binary.Run(t, t.TempDir(), "", "serve", "--help"); strings.Contains(out+errOut, "limit-invalid-tokens") {
		extra = append(extra, "--limit-invalid-tokens", "off")
	}
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		r := newCrashRun(t, engine, extra)
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 0x7e57))
		for round := 1; round <= rounds; round++ {
			r.round = round
			r.traffic(rng)
			if t.Failed() {
				t.FailNow()
			}
			r.srv = binary.Start(t, r.dir, r.dsn, r.extra...)
			r.check()
			r.checkDatabase()
			if t.Failed() {
				t.Fatalf("round %d: invariants broken after the restart (server log of the killed instance above)", round)
			}
		}
		r.summary(rounds)
	})
}

// tokenState is what the clients were told about a token.
type tokenState int

const (
	stateLive         tokenState = iota // generated (acknowledged), no revoke sent
	stateRevoked                        // an acknowledged revoke
	stateMaybeRevoked                   // a revoke whose answer never came
)

// crashToken is one token in the ledger.
type crashToken struct {
	secret   string // "" for a token adopted from a listing (an unknown generate's result)
	id       string // the public id; "" until learned
	account  string // "" for the administrator's own tokens, else a service account
	names    []string
	nameSure bool // names[0] is the acknowledged name; otherwise names holds every candidate
	state    tokenState
	busy     bool // a client has a request in flight on it
	history  []string
}

func (tok *crashToken) describe() string {
	who := "the administrator's own token"
	if tok.account != "" {
		who = "a token of " + tok.account
	}
	id := tok.id
	if id == "" {
		id = "(public id unknown)"
	}
	secret := "none (adopted)"
	if tok.secret != "" {
		secret = "..." + tok.secret[len(tok.secret)-6:]
	}
	return fmt.Sprintf("%s %s, secret %s; history:\n\t\t%s", who, id, secret, strings.Join(tok.history, "\n\t\t"))
}

// crashRun is one engine's run: the database, the current server and the ledger.
type crashRun struct {
	t        *testing.T
	engine   store.Engine
	dir, dsn string
	extra    []string
	srv      *testkit.Server
	client   *http.Client
	admin    string // the administrator's secret, from the command line; never a target
	adminID  string
	accounts []string // "" (the administrator's own tokens), then the service accounts
	round    int
	names    atomic.Int64

	mu       sync.Mutex
	tokens   []*crashToken
	acked    map[string]int
	unknown  map[string]int
	refused  int      // generates refused at the cap
	adopted  int      // unknown generates found to have happened
	resolved int      // unknown revokes and renames resolved by the check
	problems []string // found by the clients, reported by the test goroutine
}

func newCrashRun(t *testing.T, engine store.Engine, extra []string) *crashRun {
	r := &crashRun{t: t, engine: engine, dir: t.TempDir(), dsn: storetest.DSN(t, engine), extra: extra,
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			MaxIdleConns: 2 * crashWorkers, MaxIdleConnsPerHost: 2 * crashWorkers, IdleConnTimeout: time.Minute}},
		acked: map[string]int{}, unknown: map[string]int{}, accounts: []string{""}}
	t.Cleanup(r.client.CloseIdleConnections)
	r.srv = binary.Start(t, r.dir, r.dsn, extra...)
	out, errOut, code := binary.Run(t, r.dir, "", "token", "create", "admin@localhost", "--name", "crash-checker", "--db", r.dsn)
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	r.admin = strings.TrimSpace(out)
	if status := awaitStatus(t, r.srv.URL+"/api/v2/apitoken", r.admin, 200); status != 200 {
		t.Fatalf("the administrator's token: %d, want 200 within %v", status, PropagationBound)
	}
	status, c := call(t, "GET", r.srv.URL+"/api/v2/apitoken/customertokens/"+r.admin, r.admin, "")
	if status != 200 {
		t.Fatalf("look up the administrator's token: %d %v", status, c)
	}
	r.adminID, _ = c["response"].(map[string]any)["id"].(string)
	for i := range crashServiceAccts {
		sa := fmt.Sprintf("sa::crash-%d", i)
		if status, c := call(t, "POST", r.srv.URL+"/api/v2/account/serviceaccount", r.admin, `{"identifier":"`+sa+`"}`); status != 200 {
			t.Fatalf("create %s: %d %v", sa, status, c)
		}
		r.accounts = append(r.accounts, sa)
	}
	return r
}

// tokensPath is where an account's tokens are listed, generated, renamed and revoked.
func tokensPath(account string) string {
	if account == "" {
		return "/api/v2/apitoken"
	}
	return "/api/v2/apitoken/serviceaccount/" + account
}

// do sends one request as the administrator. An error means no complete answer arrived:
// the request's outcome is unknown.
func (r *crashRun) do(method, target, token, body string) (int, map[string]any, error) {
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := r.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	var c map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &c); err != nil {
			return 0, nil, fmt.Errorf("%s %s: %d with a body that is not JSON (%v): %q", method, target, res.StatusCode, err, raw)
		}
	}
	return res.StatusCode, c, nil
}

// mustDo is do for the test goroutine, where the server must answer.
func (r *crashRun) mustDo(method, target, body string) (int, map[string]any) {
	r.t.Helper()
	status, c, err := r.do(method, target, r.admin, body)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, target, err)
	}
	return status, c
}

func responseList(c map[string]any) ([]map[string]any, bool) {
	items, ok := c["response"].([]any)
	if !ok {
		return nil, false
	}
	out := make([]map[string]any, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, false
		}
		out = append(out, m)
	}
	return out, true
}

func responseField(c map[string]any, key string) string {
	m, _ := c["response"].(map[string]any)
	s, _ := m[key].(string)
	return s
}

func statusMessage(c map[string]any) string {
	m, _ := c["status"].(map[string]any)
	s, _ := m["message"].(string)
	return s
}

// problem records something wrong that a client saw while the server was up.
func (r *crashRun) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf("round %d: ", r.round)+fmt.Sprintf(format, args...))
}

func (r *crashRun) note(tok *crashToken, format string, args ...any) {
	tok.history = append(tok.history, fmt.Sprintf("round %d %s ", r.round, time.Now().Format("15:04:05.000000"))+fmt.Sprintf(format, args...))
}

// traffic runs the clients against the current server and kills it after a random time.
func (r *crashRun) traffic(rng *rand.Rand) {
	t := r.t
	base := r.srv.URL
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range crashWorkers {
		seed := rng.Uint64()
		wg.Go(func() { r.client1(base, &stop, rand.New(rand.NewPCG(seed, uint64(w))), w) })
	}
	delay := crashMinTraffic + time.Duration(rng.Int64N(int64(crashMaxTraffic-crashMinTraffic)))
	time.Sleep(delay)
	stop.Store(true) // no new requests; those in flight meet the kill
	if err := r.srv.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill the server: %v", err)
	}
	select {
	case err := <-r.srv.Done:
		// Wait has set ProcessState, so the server's cleanup (stop) leaves it alone.
		ws, ok := r.srv.Cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("round %d: the server ended with %v before it was killed; stderr:\n%s", r.round, err, r.srv.Stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("round %d: the server did not die within 20s of SIGKILL", r.round)
	}
	wg.Wait()
	r.client.CloseIdleConnections()
	r.mu.Lock()
	problems := r.problems
	r.problems = nil
	r.mu.Unlock()
	for _, p := range problems {
		t.Errorf("%s", p)
	}
	if len(problems) > 0 {
		t.Logf("server log of the killed instance:\n%s", r.srv.Stderr.String())
	}
	t.Logf("round %d: killed after %v of traffic; so far acknowledged %v, unknown %v", r.round, delay.Round(time.Millisecond), r.acked, r.unknown)
}

// client1 is one client: a mixed stream of generates, renames and revokes, one at a time,
// until stop or until a request gets no answer (the server is gone).
func (r *crashRun) client1(base string, stop *atomic.Bool, rng *rand.Rand, w int) {
	for !stop.Load() {
		var answered bool
		switch p := rng.IntN(100); {
		case p < 45:
			answered = r.generate(base, rng, w)
		case p < 70:
			answered = r.rename(base, rng, w)
		default:
			answered = r.revoke(base, rng, w)
		}
		if !answered {
			return
		}
	}
}

func (r *crashRun) newName(kind string, w int) string {
	return fmt.Sprintf("%s-r%d-c%d-%d", kind, r.round, w, r.names.Add(1))
}

func (r *crashRun) generate(base string, rng *rand.Rand, w int) bool {
	account := r.accounts[rng.IntN(len(r.accounts))]
	name := r.newName("gen", w)
	status, c, err := r.do("POST", base+tokensPath(account), r.admin, `{"tokenName":"`+name+`"}`)
	if err != nil {
		r.mu.Lock()
		r.unknown["generate"]++
		r.mu.Unlock()
		return false
	}
	switch {
	case status == 200:
	case status == 400 && strings.Contains(statusMessage(c), "already holds"):
		r.mu.Lock()
		r.refused++
		r.mu.Unlock()
		return true
	case status >= 500:
		r.mu.Lock()
		r.unknown["generate"]++
		r.mu.Unlock()
		r.problem("generate for %q answered %d %v", account, status, c)
		return true
	default:
		r.problem("generate for %q answered %d %v", account, status, c)
		return true
	}
	list, ok := responseList(c)
	if !ok || len(list) == 0 {
		r.problem("generate for %q: 200 without a token list: %v", account, c)
		return true
	}
	if len(list) > crashCap {
		r.problem("generate for %q: 200 with %d live tokens listed, over the cap of %d", account, len(list), crashCap)
	}
	newest := list[len(list)-1]
	secret, _ := newest["tokenID"].(string)
	if got, _ := newest["tokenName"].(string); got != name || len(secret) != 36 {
		r.problem("generate for %q: the last token listed is %v, want the new one named %q with its secret", account, newest, name)
		return true
	}
	tok := &crashToken{secret: secret, account: account, names: []string{name}, nameSure: true, busy: true}
	r.mu.Lock()
	r.note(tok, "generate acknowledged, named %q", name)
	r.tokens = append(r.tokens, tok)
	r.acked["generate"]++
	r.mu.Unlock()

	// Learn its public id (the generate answer carries only the secret).
	status, c, err = r.do("GET", base+"/api/v2/apitoken/customertokens/"+secret, r.admin, "")
	r.mu.Lock()
	defer r.mu.Unlock()
	tok.busy = false
	switch {
	case err != nil:
		return false
	case status == 200 && responseField(c, "id") != "":
		tok.id = responseField(c, "id")
		r.note(tok, "public id %s", tok.id)
	default:
		r.problems = append(r.problems, fmt.Sprintf("round %d: look up a just-generated token: %d %v; %s", r.round, status, c, tok.describe()))
	}
	return true
}

// claim picks a token whose state the clients know, and reserves it so that requests on
// one token are sequential and their acknowledgements come in commit order.
func (r *crashRun) claim(rng *rand.Rand) *crashToken {
	r.mu.Lock()
	defer r.mu.Unlock()
	var candidates []*crashToken
	for _, tok := range r.tokens {
		if tok.state == stateLive && tok.nameSure && !tok.busy && (tok.id != "" || tok.secret != "") {
			candidates = append(candidates, tok)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	tok := candidates[rng.IntN(len(candidates))]
	tok.busy = true
	return tok
}

// ref names a token in a path: by public id or by secret, both accepted.
func (tok *crashToken) ref(rng *rand.Rand) string {
	if tok.secret == "" || (tok.id != "" && rng.IntN(2) == 0) {
		return tok.id
	}
	return tok.secret
}

func (r *crashRun) rename(base string, rng *rand.Rand, w int) bool {
	tok := r.claim(rng)
	if tok == nil {
		return r.generate(base, rng, w)
	}
	name := r.newName("ren", w)
	status, c, err := r.do("PUT", base+tokensPath(tok.account)+"/"+tok.ref(rng), r.admin, `{"tokenName":"`+name+`"}`)
	r.mu.Lock()
	defer r.mu.Unlock()
	tok.busy = false
	switch {
	case err != nil:
		tok.names = append(tok.names, name)
		tok.nameSure = false
		r.unknown["rename"]++
		r.note(tok, "rename to %q sent, no answer (%v)", name, err)
		return false
	case status == 200 && responseField(c, "tokenName") == name:
		tok.names = []string{name}
		r.acked["rename"]++
		if tok.id == "" {
			tok.id = responseField(c, "tokenID")
		}
		r.note(tok, "rename to %q acknowledged", name)
	case status >= 500:
		tok.names = append(tok.names, name)
		tok.nameSure = false
		r.unknown["rename"]++
		r.note(tok, "rename to %q answered %d", name, status)
		r.problems = append(r.problems, fmt.Sprintf("round %d: rename answered %d %v; %s", r.round, status, c, tok.describe()))
	default:
		r.note(tok, "rename to %q answered %d %v", name, status, c)
		r.problems = append(r.problems, fmt.Sprintf("round %d: rename of a live token answered %d %v; %s", r.round, status, c, tok.describe()))
	}
	return true
}

func (r *crashRun) revoke(base string, rng *rand.Rand, w int) bool {
	tok := r.claim(rng)
	if tok == nil {
		return r.generate(base, rng, w)
	}
	status, c, err := r.do("DELETE", base+tokensPath(tok.account)+"/"+tok.ref(rng), r.admin, "")
	r.mu.Lock()
	defer r.mu.Unlock()
	tok.busy = false
	switch {
	case err != nil:
		tok.state = stateMaybeRevoked
		r.unknown["revoke"]++
		r.note(tok, "revoke sent, no answer (%v)", err)
		return false
	case status == 200:
		tok.state = stateRevoked
		r.acked["revoke"]++
		r.note(tok, "revoke acknowledged")
		list, _ := responseList(c)
		for _, it := range list {
			if tok.id != "" && it["tokenID"] == tok.id {
				r.problems = append(r.problems, fmt.Sprintf("round %d: the answer to a revoke still lists the token; %s", r.round, tok.describe()))
			}
		}
	case status >= 500:
		tok.state = stateMaybeRevoked
		r.unknown["revoke"]++
		r.note(tok, "revoke answered %d", status)
		r.problems = append(r.problems, fmt.Sprintf("round %d: revoke answered %d %v; %s", r.round, status, c, tok.describe()))
	default:
		r.note(tok, "revoke answered %d %v", status, c)
		r.problems = append(r.problems, fmt.Sprintf("round %d: revoke of a live token answered %d %v; %s", r.round, status, c, tok.describe()))
	}
	return true
}

// check compares the restarted server with the ledger, then settles the unknown outcomes
// from what it sees, so that later rounds assert on them too.
func (r *crashRun) check() {
	t := r.t
	base := r.srv.URL
	// Each account's live tokens, as the administrator lists them.
	listed := map[string]map[string]string{}
	for _, a := range r.accounts {
		status, c := r.mustDo("GET", base+tokensPath(a), "")
		list, ok := responseList(c)
		if status != 200 || !ok {
			t.Fatalf("round %d: list the tokens of %q: %d %v", r.round, a, status, c)
		}
		if len(list) > crashCap {
			t.Errorf("round %d: CAP BROKEN: %q holds %d live tokens after the restart, over %d", r.round, a, len(list), crashCap)
		}
		listed[a] = map[string]string{}
		for _, it := range list {
			id, _ := it["tokenID"].(string)
			name, _ := it["tokenName"].(string)
			listed[a][id] = name
		}
	}
	if _, ok := listed[""][r.adminID]; !ok {
		t.Fatalf("round %d: the administrator's token from the command line is not listed after the restart", r.round)
	}

	verify := func(secret string) int {
		status, _, err := r.do("GET", base+"/auth/verify", secret, "")
		if err != nil {
			t.Fatalf("round %d: /auth/verify: %v", r.round, err)
		}
		if status == http.StatusTooManyRequests {
			t.Fatalf("round %d: /auth/verify answered 429: the invalid-token limit is on; this test needs it off", r.round)
		}
		return status
	}
	tracked := map[string]bool{r.adminID: true}
	for _, tok := range r.tokens {
		v := 0
		if tok.secret != "" {
			v = verify(tok.secret)
			if tok.id == "" && v == 200 {
				status, c := r.mustDo("GET", base+"/api/v2/apitoken/customertokens/"+tok.secret, "")
				if status == 200 {
					tok.id = responseField(c, "id")
					r.note(tok, "public id %s, learned after the restart", tok.id)
				}
			}
		}
		name, isListed := "", false
		if tok.id != "" {
			name, isListed = listed[tok.account][tok.id]
			tracked[tok.id] = true
		}
		switch tok.state {
		case stateLive:
			if tok.secret != "" && v != 200 {
				t.Errorf("round %d: LOST GENERATE: an acknowledged token, never revoked, answers %d at /auth/verify after the restart; %s", r.round, v, tok.describe())
			}
			if !isListed {
				t.Errorf("round %d: LOST GENERATE: an acknowledged token, never revoked, is not listed after the restart; %s", r.round, tok.describe())
				continue
			}
			switch {
			case tok.nameSure && name != tok.names[0]:
				t.Errorf("round %d: LOST RENAME: the token is named %q after the restart, want the acknowledged %q; %s", r.round, name, tok.names[0], tok.describe())
			case !tok.nameSure && !slices.Contains(tok.names, name):
				t.Errorf("round %d: the token is named %q after the restart, none of the names it was given %q; %s", r.round, name, tok.names, tok.describe())
			case !tok.nameSure:
				r.note(tok, "unknown rename settled: named %q", name)
				tok.names, tok.nameSure = []string{name}, true
				r.resolved++
			}
		case stateRevoked:
			if v == 200 {
				t.Errorf("round %d: LOST REVOKE: an acknowledged-revoked token answers 200 at /auth/verify after the restart; %s", r.round, tok.describe())
			} else if tok.secret != "" && v != 401 {
				t.Errorf("round %d: a revoked token answers %d at /auth/verify, want 401; %s", r.round, v, tok.describe())
			}
			if isListed {
				t.Errorf("round %d: LOST REVOKE: an acknowledged-revoked token is listed after the restart; %s", r.round, tok.describe())
			}
		case stateMaybeRevoked:
			live := isListed
			if tok.secret != "" {
				live = v == 200
				if tok.id != "" && live != isListed {
					t.Errorf("round %d: after an unknown revoke, /auth/verify answers %d but listed=%v; %s", r.round, v, isListed, tok.describe())
				}
			}
			if live {
				tok.state = stateLive
				if !tok.nameSure {
					if !slices.Contains(tok.names, name) {
						t.Errorf("round %d: the token is named %q after the restart, none of the names it was given %q; %s", r.round, name, tok.names, tok.describe())
					}
					tok.names, tok.nameSure = []string{name}, true
				} else if name != tok.names[0] {
					t.Errorf("round %d: LOST RENAME: the token is named %q after the restart, want the acknowledged %q; %s", r.round, name, tok.names[0], tok.describe())
				}
				r.note(tok, "unknown revoke settled: live, named %q", name)
			} else {
				tok.state = stateRevoked
				r.note(tok, "unknown revoke settled: revoked")
			}
			r.resolved++
		}
	}
	// Listed tokens the ledger lacks are the results of generates whose answer never came:
	// allowed, and adopted so that the stream can rename and revoke them by public id.
	for _, a := range r.accounts {
		for id, name := range listed[a] {
			if tracked[id] {
				continue
			}
			tok := &crashToken{id: id, account: a, names: []string{name}, nameSure: true}
			r.note(tok, "found after the restart, from a generate whose answer never came; named %q", name)
			r.tokens = append(r.tokens, tok)
			r.adopted++
		}
	}
}

// checkDatabase runs the engine's integrity checks and the consistency queries.
func (r *crashRun) checkDatabase() {
	t := r.t
	var db *sql.DB
	var err error
	if r.engine == store.SQLite {
		u := url.URL{Scheme: "file", Opaque: r.dsn}
		db, err = sql.Open("sqlite", u.String()+"?_pragma=busy_timeout(10000)")
	} else {
		db, err = sql.Open("pgx", r.dsn)
	}
	if err != nil {
		t.Fatalf("open the database for checking: %v", err)
	}
	defer db.Close()

	if r.engine == store.SQLite {
		for _, pragma := range []string{"PRAGMA integrity_check", "PRAGMA foreign_key_check"} {
			rows, err := db.Query(pragma)
			if err != nil {
				t.Fatalf("%s: %v", pragma, err)
			}
			cols, _ := rows.Columns()
			var out []string
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatalf("%s: %v", pragma, err)
				}
				out = append(out, fmt.Sprint(vals...))
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s: %v", pragma, err)
			}
			rows.Close()
			want := []string{"ok"}
			if pragma == "PRAGMA foreign_key_check" {
				want = nil
			}
			if !slices.Equal(out, want) {
				t.Errorf("round %d: INTEGRITY: %s returned %q, want %q", r.round, pragma, out, want)
			}
		}
	} else {
		if _, err := db.Exec(`CREATE EXTENSION IF NOT EXISTS amcheck`); err != nil {
			t.Logf("round %d: amcheck unavailable (%v); consistency queries only", r.round, err)
		} else {
			var n int
			err := db.QueryRow(`SELECT count(bt_index_check(c.oid, true)) FROM pg_index i
				JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = 'public' AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree')`).Scan(&n)
			if err != nil || n == 0 {
				t.Errorf("round %d: INTEGRITY: amcheck bt_index_check over %d indexes: %v", r.round, n, err)
			}
			var bad int
			err = db.QueryRow(`SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
				LATERAL verify_heapam(c.oid) v WHERE n.nspname = 'public' AND c.relkind = 'r'`).Scan(&bad)
			if err != nil {
				t.Logf("round %d: verify_heapam unavailable: %v", r.round, err)
			} else if bad != 0 {
				t.Errorf("round %d: INTEGRITY: verify_heapam reports %d corrupt tuples", r.round, bad)
			}
		}
	}

	queries := []struct{ what, query string }{
		{"tokens whose account does not exist",
			`SELECT count(*) FROM tokens t LEFT JOIN accounts a ON a.id = t.account_id WHERE a.id IS NULL`},
		{"live tokens whose account does not exist or is deleted",
			`SELECT count(*) FROM tokens t LEFT JOIN accounts a ON a.id = t.account_id AND a.deleted_at IS NULL
			 WHERE t.revoked_at IS NULL AND a.id IS NULL`},
		{"permissions of accounts that do not exist",
			`SELECT count(*) FROM account_permissions p LEFT JOIN accounts a ON a.id = p.account_id WHERE a.id IS NULL`},
		{fmt.Sprintf("accounts with more than %d live tokens", crashCap),
			fmt.Sprintf(`SELECT count(*) FROM (SELECT account_id FROM tokens WHERE revoked_at IS NULL
			 GROUP BY account_id HAVING count(*) > %d) x`, crashCap)},
		{"tokens whose copied account identifier or kind differs from the account's",
			`SELECT count(*) FROM tokens t JOIN accounts a ON a.id = t.account_id
			 WHERE t.account_identifier <> a.identifier OR t.account_kind <> a.kind`},
		{"duplicate public ids", `SELECT count(*) FROM (SELECT id FROM tokens GROUP BY id HAVING count(*) > 1) x`},
		{"duplicate digests", `SELECT count(*) FROM (SELECT digest FROM tokens GROUP BY digest HAVING count(*) > 1) x`},
	}
	for _, q := range queries {
		var n int
		if err := db.QueryRow(q.query).Scan(&n); err != nil {
			t.Fatalf("consistency query (%s): %v", q.what, err)
		}
		if n != 0 {
			t.Errorf("round %d: INTEGRITY: %d %s", r.round, n, q.what)
		}
	}
}

func (r *crashRun) summary(rounds int) {
	if r.t.Failed() {
		return
	}
	var live, revoked int
	for _, tok := range r.tokens {
		if tok.state == stateRevoked {
			revoked++
		} else {
			live++
		}
	}
	unknown := r.unknown["generate"] + r.unknown["rename"] + r.unknown["revoke"]
	fmt.Printf("crash safety on %s: %d rounds of SIGKILL under %d clients; acknowledged %d generates, %d renames, %d revokes "+
		"(%d generates refused at the cap); %d unknown outcomes (%d generates, %d renames, %d revokes: %d found to have happened "+
		"and adopted, %d revokes/renames settled); ledger of %d tokens (%d live, %d revoked) verified after every restart; all invariants held\n",
		r.engine, rounds, crashWorkers, r.acked["generate"], r.acked["rename"], r.acked["revoke"], r.refused,
		unknown, r.unknown["generate"], r.unknown["rename"], r.unknown["revoke"], r.adopted, r.resolved,
		len(r.tokens), live, revoked)
}
