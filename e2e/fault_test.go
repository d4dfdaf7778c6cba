package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenward/tokenward/internal/testkit"
)

// Load-and-fault parameters. The default run takes 8 s of load, with PostgreSQL down for
// 1 s halfway, plus PostgreSQL's setup: about 15 s. A longer run (TOKENWARD_FAULT_DURATION
// is the load's length, TOKENWARD_FAULT_DOWNTIME the outage's, at most half of it):
//
//	CI=true TOKENWARD_FAULT_DURATION=60s TOKENWARD_FAULT_DOWNTIME=10s go test -count=1 -timeout 10m -run TestLoadAndFault -v ./e2e/
const (
	faultDefaultDuration = 8 * time.Second
	faultDefaultDowntime = time.Second
	faultVerifiers       = 8  // goroutines hammering /auth/verify, alternating instances
	faultWriters         = 2  // goroutines generating and revoking, each on its own accounts
	faultAccounts        = 4  // service accounts the writers share out
	faultSeedTokens      = 6  // tokens per account generated before the load
	faultTargetLive      = 12 // live tokens a writer keeps per account, under the cap of 20
	faultReadyzEvery     = 20 * time.Millisecond
	faultReadyAfter      = 5 * time.Second // /readyz must be 200 again this soon after the database is back
	faultWriteGrace      = 2 * time.Second // writes may still fail this long after the database is back
	faultProbeFor        = 10 * time.Second
	faultStallMin        = 100 * time.Millisecond // a longer gap in a 5 ms sleep loop is a stall of the machine
	faultDBEvery         = 50 * time.Millisecond  // how often a fresh connection checks the database
)

// TestLoadAndFault runs two instances on a private PostgreSQL server under a steady load of
// verifications (live, revoked and unknown tokens, on both instances alternately) and of
// generates and revokes, restarts PostgreSQL midway (pg_ctl stop -m fast, then start),
// and checks what the clients saw:
//
//   - verifications are always answered 200 or 401, also while the database is down;
//   - no revoked token is accepted after its revocation reached the instance's index:
//     on the revoking instance, no 200 for a request sent after the revoke's answer
//     arrived; on the other instance, no 200 sent more than PropagationBound after it
//     (during the outage, more than PropagationBound after the database is back);
//   - likewise no live token is rejected once its generation has propagated;
//   - writes fail only around the outage; /readyz answers 503 during it on both instances
//     and 200 again soon after;
//   - after the run, every acknowledged revoke and generate holds on both instances.
//
// It runs when TOKENWARD_TEST_POSTGRES is set or under CI=true, for
// TOKENWARD_FAULT_DURATION (default 8s) with PostgreSQL down for TOKENWARD_FAULT_DOWNTIME
// (default 1s), on a PostgreSQL server of its own: it never touches the shared one.
func TestLoadAndFault(t *testing.T) {
	if os.Getenv("TOKENWARD_TEST_POSTGRES") == "" && os.Getenv("CI") != "true" {
		t.Skip("TestLoadAndFault starts its own PostgreSQL; it runs when TOKENWARD_TEST_POSTGRES is set (scripts/with-postgres) or under CI=true")
	}
	duration := faultDefaultDuration
	if s := os.Getenv("TOKENWARD_FAULT_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 2*time.Second {
			t.Fatalf("TOKENWARD_FAULT_DURATION=%q: want a duration of at least 2s, such as 60s", s)
		}
		duration = d
	}
	downtime := faultDefaultDowntime
	if s := os.Getenv("TOKENWARD_FAULT_DOWNTIME"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > duration/2 {
			t.Fatalf("TOKENWARD_FAULT_DOWNTIME=%q: want a duration of at most half the load's (%v)", s, duration)
		}
		downtime = d
	}
	r := &faultRun{t: t, t0: time.Now(), duration: duration, downtime: downtime}
	r.pg = faultStartPostgres(t)
	r.setup()
	r.load()
	r.settle()
	r.finalCheck()
	r.analyse()
}

// faultPostgres is a private PostgreSQL server in a temporary directory.
type faultPostgres struct {
	bindir     string
	dir        string // owned by the postgres user: holds data, the log and the socket
	data, log  string
	port       int
	asPostgres bool // the test runs as root: run PostgreSQL's programs as postgres
	version    string
}

// faultPGBinDir finds PostgreSQL's server programs: TOKENWARD_PG_BINDIR, the newest
// /usr/lib/postgresql/*/bin, or the PATH.
func faultPGBinDir() string {
	if d := os.Getenv("TOKENWARD_PG_BINDIR"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	version := func(p string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
		return n
	}
	slices.SortFunc(matches, func(a, b string) int { return version(b) - version(a) })
	for _, m := range matches {
		if _, err := os.Stat(filepath.Join(filepath.Dir(m), "pg_ctl")); err == nil {
			return filepath.Dir(m)
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// faultSkipOrFail skips when something the test needs is missing, except under CI=true.
func faultSkipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: this test must run)", msg)
	}
	t.Skip(msg)
}

func faultStartPostgres(t *testing.T) *faultPostgres {
	t.Helper()
	pg := &faultPostgres{bindir: faultPGBinDir(), asPostgres: os.Geteuid() == 0}
	if pg.bindir == "" {
		faultSkipOrFail(t, "no PostgreSQL server programs (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or the PATH; install postgresql")
	}
	dir, err := os.MkdirTemp("", "tokenward-fault-pg")
	if err != nil {
		t.Fatal(err)
	}
	pg.dir, pg.data, pg.log = dir, filepath.Join(dir, "db"), filepath.Join(dir, "server.log")
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(pg.data, "postmaster.pid")); err == nil {
			if out, err := pg.run(30*time.Second, "pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop"); err != nil {
				t.Errorf("stop the private PostgreSQL: %v\n%s", err, out)
			}
		}
		os.RemoveAll(dir)
	})
	if pg.asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			faultSkipOrFail(t, "running as root and there is no postgres user to run PostgreSQL as: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := pg.run(time.Minute, "initdb", "-D", pg.data, "-U", "postgres", "--auth=trust",
		"--no-locale", "--encoding=UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if out, err := pg.run(10*time.Second, "postgres", "--version"); err == nil {
		if f := strings.Fields(out); len(f) >= 3 { // postgres (PostgreSQL) 15.8 (Debian ...)
			pg.version = f[2]
		}
	}
	var lastErr error
	for range 3 { // a free port may be taken between the check and the start
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		pg.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		out, err := pg.start()
		if err == nil {
			return pg
		}
		logText, _ := os.ReadFile(pg.log)
		lastErr = fmt.Errorf("%v\n%s\nserver log:\n%s", err, out, logText)
	}
	t.Fatalf("start the private PostgreSQL: %v", lastErr)
	return nil
}

// start starts the server on its port and waits until it accepts connections.
func (pg *faultPostgres) start() (string, error) {
	return pg.run(time.Minute, "pg_ctl", "-D", pg.data, "-l", pg.log, "-w", "-t", "60",
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", pg.port, pg.dir), "start")
}

// run runs one of PostgreSQL's programs (as the postgres user when the test is root) and
// returns its output. The output goes through a file, never a pipe: pg_ctl leaves the
// server running, and a server holding a pipe open would keep the wait from ending.
func (pg *faultPostgres) run(timeout time.Duration, program string, args ...string) (string, error) {
	argv := append([]string{filepath.Join(pg.bindir, program)}, args...)
	if pg.asPostgres {
		argv = append([]string{"runuser", "-u", "postgres", "--"}, argv...)
	}
	out, err := os.CreateTemp("", "tokenward-fault-pgout")
	if err != nil {
		return "", err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = pg.dir // the postgres user may not enter the test's working directory
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	text, _ := os.ReadFile(out.Name())
	return string(text), err
}

func (pg *faultPostgres) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

// faultToken is a token in the ledger. Its revocation fields are guarded by faultRun.mu
// during the load; the analysis reads them once every client has stopped.
type faultToken struct {
	secret   string
	account  string
	genInst  int           // the instance that acknowledged the generate
	genSent  time.Duration // when the generate request was sent
	genAck   time.Duration // when its answer arrived
	revState int
	revInst  int           // the instance that acknowledged the revoke; -1: known revoked only from a 404
	revSent  time.Duration // when the first revoke request was sent; 0: never
	revAck   time.Duration // when the acknowledging answer arrived
}

const (
	faultLive          = iota // generated, no revoke acknowledged (one may be in flight)
	faultRevoked              // an acknowledged revoke
	faultRevokeUnknown        // a revoke without an answer, not yet resolved by a retry
)

// faultVerification is one verification request as the client saw it.
type faultVerification struct {
	tok        int32 // index in the ledger; -1 for an unknown secret
	inst       int8
	probe      bool  // sent by a revocation probe, not by the load's clients
	status     int16 // 0: no answer (transport error)
	sent, recv time.Duration
}

// faultWrite is one generate or revoke as the client saw it.
type faultWrite struct {
	kind       string // "generate" or "revoke"
	inst       int
	status     int // 0: no answer
	err        string
	sent, recv time.Duration
}

// faultProbe follows one acknowledged revoke on the other instance until it rejects it.
type faultProbe struct {
	tok      int32
	other    int
	ack      time.Duration
	rejected time.Duration // when the first 401 arrived; -1: never within faultProbeFor
}

// faultStall is a span in which the test process did not run: the machine stalled.
type faultStall struct{ from, to time.Duration }

// faultReadyz is one /readyz answer.
type faultReadyz struct {
	status     int    // 0: no answer
	body       string // the reason given when not ready, or the error
	sent, recv time.Duration
}

// faultRun is the whole test: the database, the instances, the ledger and the records.
type faultRun struct {
	t        *testing.T
	t0       time.Time
	duration time.Duration
	pg       *faultPostgres
	dir      string
	srv      [2]*testkit.Server
	client   *http.Client
	admin    string
	accounts []string

	mu       sync.RWMutex
	tokens   []*faultToken
	live     []int32 // tokens in state faultLive
	revoked  []int32 // tokens in state faultRevoked, in order of acknowledgement
	probes   []faultProbe
	verifies [][]faultVerification // one slice per client goroutine, merged at the end
	writes   []faultWrite
	readyz   [2][]faultReadyz
	stalls   []faultStall  // written by watchStalls only, read once it has ended
	dbObs    []faultReadyz // fresh connections to the database: status 1 when SELECT 1 worked
	errText  []string      // the first transport errors of verifications
	problems []string
	refused  int // generates refused at the cap
	retried  int // unknown revokes resolved by a retry

	served      [2]atomic.Int64 // answered requests per instance, of every kind
	stop        atomic.Bool
	downtime    time.Duration // how long PostgreSQL stays down at least
	outageStart time.Duration // pg_ctl stop began
	pgStopped   time.Duration // pg_ctl stop returned
	pgctlBack   time.Duration // pg_ctl start returned
	freshBack   time.Duration // a fresh connection first worked again; -1: never seen
	dbBack      time.Duration // the later of the two: the database is back
	loadStart   time.Duration // the clients started
	loadEnd     time.Duration // the clients stopped
	finalLine   string        // the final check's summary line
}

func (r *faultRun) since() time.Duration { return time.Since(r.t0) }

func (r *faultRun) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func faultSecretTail(secret string) string { return "..." + secret[len(secret)-6:] }

func faultInstName(i int) string {
	switch i {
	case 0:
		return "A"
	case 1:
		return "B"
	}
	return "?"
}

func (r *faultRun) setup() {
	t := r.t
	r.dir = t.TempDir()
	r.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 128, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}
	t.Cleanup(r.client.CloseIdleConnections)
	dsn := r.pg.dsn()
	// The load sends many unknown and revoked tokens from one address.
	r.srv[0] = binary.Start(t, r.dir, dsn, "--limit-invalid-tokens", "off")
	r.srv[1] = binary.Start(t, r.dir, dsn, "--limit-invalid-tokens", "off")
	out, errOut, code := binary.Run(t, r.dir, "", "token", "create", "admin@localhost", "--name", "fault-admin", "--db", dsn)
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	r.admin = strings.TrimSpace(out)
	for i, s := range r.srv {
		if status := awaitStatus(t, s.URL+"/api/v2/apitoken", r.admin, 200); status != 200 {
			t.Fatalf("the administrator's token on %s: %d, want 200 within %v", faultInstName(i), status, PropagationBound)
		}
	}
	for i := range faultAccounts {
		sa := fmt.Sprintf("sa::fault-%d", i)
		if status, c := call(t, "POST", r.srv[0].URL+"/api/v2/account/serviceaccount", r.admin, `{"identifier":"`+sa+`"}`); status != 200 {
			t.Fatalf("create %s: %d %v", sa, status, c)
		}
		r.accounts = append(r.accounts, sa)
		for j := range faultSeedTokens {
			inst := j % 2
			if _, ok := r.generate(inst, sa, fmt.Sprintf("seed-%d-%d", i, j)); !ok {
				t.Fatalf("seed generate for %s on %s failed: %v", sa, faultInstName(inst), r.problems)
			}
		}
	}
	for _, tok := range r.tokens {
		for i, s := range r.srv {
			if status := awaitStatus(t, s.URL+"/auth/verify", tok.secret, 200); status != 200 {
				t.Fatalf("seed token %s on %s: %d, want 200 within %v", faultSecretTail(tok.secret), faultInstName(i), status, PropagationBound)
			}
		}
	}
	r.writes = nil // the seeding is not part of the load
	for i := range r.served {
		r.served[i].Store(0)
	}
}

// do sends one request as the administrator and returns the status and decoded body; an
// error means no complete answer arrived.
func (r *faultRun) do(inst int, method, path, body string) (int, map[string]any, error) {
	req, err := http.NewRequest(method, r.srv[inst].URL+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.admin)
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
	r.served[inst].Add(1)
	var c map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &c) != nil {
		c = map[string]any{"raw": string(raw)}
	}
	return res.StatusCode, c, nil
}

// verify sends one forward-auth request and returns its status, 0 when no answer came.
func (r *faultRun) verify(inst int, secret string) (int, error) {
	req, err := http.NewRequest("GET", r.srv[inst].URL+"/auth/verify", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return 0, err
	}
	r.served[inst].Add(1)
	return res.StatusCode, nil
}

func (r *faultRun) recordWrite(w faultWrite) {
	r.mu.Lock()
	r.writes = append(r.writes, w)
	r.mu.Unlock()
}

func faultMessage(c map[string]any) string {
	if m, ok := c["status"].(map[string]any); ok {
		if s, ok := m["message"].(string); ok {
			return s
		}
	}
	if s, ok := c["raw"].(string); ok {
		return s
	}
	return fmt.Sprint(c)
}

// generate generates a token for account on instance inst and adds it to the ledger. It
// returns the token's index in the ledger, and whether the generate was acknowledged.
func (r *faultRun) generate(inst int, account, name string) (int32, bool) {
	sent := r.since()
	status, c, err := r.do(inst, "POST", "/api/v2/apitoken/serviceaccount/"+account, `{"tokenName":"`+name+`"}`)
	recv := r.since()
	w := faultWrite{kind: "generate", inst: inst, status: status, sent: sent, recv: recv}
	if err != nil {
		w.err = err.Error()
	} else if status != 200 {
		w.err = faultMessage(c)
	}
	r.recordWrite(w)
	if err != nil || status != 200 {
		if status == 400 && strings.Contains(w.err, "already holds") {
			r.mu.Lock()
			r.refused++
			r.mu.Unlock()
		} else if err == nil && status < 500 {
			r.problem("generate for %s on %s answered %d: %s", account, faultInstName(inst), status, w.err)
		}
		return -1, false
	}
	items, _ := c["response"].([]any)
	var newest map[string]any
	if len(items) > 0 {
		newest, _ = items[len(items)-1].(map[string]any)
	}
	secret, _ := newest["tokenID"].(string)
	if got, _ := newest["tokenName"].(string); got != name || len(secret) != 36 {
		r.problem("generate for %s on %s: the last token listed is %v, want the new one named %q with its secret", account, faultInstName(inst), newest, name)
		return -1, false
	}
	if len(items) > 20 {
		r.problem("generate for %s on %s: %d live tokens listed, over the cap of 20", account, faultInstName(inst), len(items))
	}
	r.mu.Lock()
	r.tokens = append(r.tokens, &faultToken{secret: secret, account: account, genInst: inst, genSent: sent, genAck: recv})
	idx := int32(len(r.tokens) - 1)
	r.live = append(r.live, idx)
	r.mu.Unlock()
	return idx, true
}

func faultRemove(list []int32, idx int32) []int32 {
	if i := slices.Index(list, idx); i >= 0 {
		list[i] = list[len(list)-1]
		return list[:len(list)-1]
	}
	return list
}

// revoke revokes a token on instance inst. retry marks a second attempt after a revoke
// without an answer, where 404 means the first attempt did revoke it. It reports whether
// the token is now known to be revoked.
func (r *faultRun) revoke(inst int, idx int32, retry bool, probes *sync.WaitGroup) bool {
	r.mu.Lock()
	tok := r.tokens[idx]
	if tok.revSent == 0 {
		tok.revSent = r.since()
	}
	r.mu.Unlock()
	sent := r.since()
	status, c, err := r.do(inst, "DELETE", "/api/v2/apitoken/serviceaccount/"+tok.account+"/"+tok.secret, "")
	recv := r.since()
	w := faultWrite{kind: "revoke", inst: inst, status: status, sent: sent, recv: recv}
	if err != nil {
		w.err = err.Error()
	} else if status != 200 {
		w.err = faultMessage(c)
	}
	r.recordWrite(w)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil && status == 200:
		tok.revState, tok.revInst, tok.revAck = faultRevoked, inst, recv
		if retry {
			r.retried++
		}
		probes.Go(func() { r.probe(idx, inst, recv, tok.secret) })
	case err == nil && status == 404 && retry:
		// The first attempt revoked it at some unknown moment before this answer; neither
		// instance's index is known to have it yet.
		tok.revState, tok.revInst, tok.revAck = faultRevoked, -1, recv
		r.retried++
	default:
		if err == nil && status < 500 {
			r.problems = append(r.problems, fmt.Sprintf("revoke of %s on %s answered %d: %s", faultSecretTail(tok.secret), faultInstName(inst), status, w.err))
		}
		tok.revState = faultRevokeUnknown
		r.live = faultRemove(r.live, idx)
		return false
	}
	r.live = faultRemove(r.live, idx)
	r.revoked = append(r.revoked, idx)
	return true
}

// probe verifies a just-revoked token once on the revoking instance, then on the other
// instance until it is rejected: the revoke-to-rejected time.
func (r *faultRun) probe(idx int32, inst int, ack time.Duration, secret string) {
	var recs []faultVerification
	check := func(i int) int {
		sent := r.since()
		status, _ := r.verify(i, secret)
		recs = append(recs, faultVerification{tok: idx, inst: int8(i), probe: true, status: int16(status), sent: sent, recv: r.since()})
		return status
	}
	check(inst)
	other := 1 - inst
	p := faultProbe{tok: idx, other: other, ack: ack, rejected: -1}
	deadline := time.Now().Add(faultProbeFor)
	for {
		if check(other) == 401 {
			p.rejected = recs[len(recs)-1].recv
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	r.mu.Lock()
	r.probes = append(r.probes, p)
	r.verifies = append(r.verifies, recs)
	r.mu.Unlock()
}

// pick chooses what a verification client sends: a live token, a revoked one (mostly one
// revoked recently, where a late revocation would show) or an unknown secret.
func (r *faultRun) pick(rng *rand.Rand) (int32, string) {
	p := rng.IntN(100)
	r.mu.RLock()
	defer r.mu.RUnlock()
	switch {
	case p < 50 && len(r.live) > 0:
		i := r.live[rng.IntN(len(r.live))]
		return i, r.tokens[i].secret
	case p < 85 && len(r.revoked) > 0:
		n := len(r.revoked)
		i := r.revoked[rng.IntN(n)]
		if p < 75 {
			i = r.revoked[n-1-rng.IntN(min(n, 16))]
		}
		return i, r.tokens[i].secret
	}
	return -1, fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff,
		rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff)
}

func (r *faultRun) verifier(w int, rng *rand.Rand) {
	recs := make([]faultVerification, 0, 1<<16)
	for i := 0; !r.stop.Load(); i++ {
		inst := (w + i) % 2
		idx, secret := r.pick(rng)
		sent := r.since()
		status, err := r.verify(inst, secret)
		recs = append(recs, faultVerification{tok: idx, inst: int8(inst), status: int16(status), sent: sent, recv: r.since()})
		if err != nil {
			r.mu.Lock()
			if len(r.errText) < 10 {
				r.errText = append(r.errText, fmt.Sprintf("verify on %s sent %s: %v", faultInstName(inst), r.at(sent), err))
			}
			r.mu.Unlock()
		}
	}
	r.mu.Lock()
	r.verifies = append(r.verifies, recs)
	r.mu.Unlock()
}

// writer generates and revokes on its own accounts, keeping about faultTargetLive live
// tokens on each, on a random instance each time; revokes without an answer are retried.
func (r *faultRun) writer(w int, rng *rand.Rand, probes *sync.WaitGroup) {
	var mine []string
	for i, a := range r.accounts {
		if i%faultWriters == w {
			mine = append(mine, a)
		}
	}
	live := map[string][]int32{}
	r.mu.RLock()
	for _, idx := range r.live {
		if tok := r.tokens[idx]; slices.Contains(mine, tok.account) {
			live[tok.account] = append(live[tok.account], idx)
		}
	}
	r.mu.RUnlock()
	var retry []int32
	for n := 0; !r.stop.Load(); n++ {
		inst := rng.IntN(2)
		ok := true
		switch account := mine[rng.IntN(len(mine))]; {
		case len(retry) > 0 && rng.IntN(4) == 0:
			if r.revoke(inst, retry[0], true, probes) {
				retry = retry[1:]
			} else {
				ok = false
			}
		case len(live[account]) < faultTargetLive/2 || len(live[account]) < faultTargetLive && rng.IntN(2) == 0:
			var idx int32
			if idx, ok = r.generate(inst, account, fmt.Sprintf("load-%d-%d", w, n)); ok {
				live[account] = append(live[account], idx)
			}
		default:
			l := live[account]
			if len(l) == 0 {
				continue
			}
			k := rng.IntN(len(l))
			idx := l[k]
			live[account] = append(l[:k:k], l[k+1:]...)
			if ok = r.revoke(inst, idx, false, probes); !ok {
				retry = append(retry, idx)
			}
		}
		if !ok {
			time.Sleep(10 * time.Millisecond) // the database is probably down: do not spin
		} else {
			time.Sleep(time.Millisecond)
		}
	}
}

// watchReadyz polls /readyz on one instance until the load ends and, after the
// database's return, the instance answers 200 again or faultReadyAfter has passed with
// some margin.
func (r *faultRun) watchReadyz(inst int, done <-chan struct{}) {
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(faultReadyzEvery)
	defer tick.Stop()
	var obs []faultReadyz
	for {
		sent := r.since()
		status, body := 0, ""
		if res, err := client.Get(r.srv[inst].URL + "/readyz"); err == nil {
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			status = res.StatusCode
			if status != 200 {
				body = faultReason(string(raw))
			}
		} else {
			body = err.Error()
		}
		obs = append(obs, faultReadyz{status: status, body: body, sent: sent, recv: r.since()})
		select {
		case <-done: // closed after dbBack is set
			if status == 200 && sent > r.dbBack || r.since() > r.dbBack+3*faultReadyAfter {
				r.mu.Lock()
				r.readyz[inst] = obs
				r.mu.Unlock()
				return
			}
			<-tick.C
		case <-tick.C:
		}
	}
}

// faultReason shortens a /readyz reason to its kind: the text before any detail that
// varies (durations, addresses).
func faultReason(body string) string {
	body = strings.TrimSpace(body)
	for _, cut := range []string{" for ", ": failed to connect", ": dial", "(SQLSTATE"} {
		if i := strings.Index(body, cut); i > 0 {
			body = body[:i]
		}
	}
	return body
}

// watchStalls notes the spans in which a 5 ms sleep took more than faultStallMin: the
// machine (shared, perhaps overloaded) did not run the test, and likely not the instances
// either. Propagation deadlines do not count that time.
func (r *faultRun) watchStalls(done <-chan struct{}) {
	prev := r.since()
	for {
		select {
		case <-done:
			return
		case <-time.After(5 * time.Millisecond):
		}
		now := r.since()
		if now-prev > faultStallMin {
			r.stalls = append(r.stalls, faultStall{from: prev + 5*time.Millisecond, to: now})
		}
		prev = now
	}
}

// stalled is how much of [from, to] the machine was seen stalled.
func (r *faultRun) stalled(from, to time.Duration) time.Duration {
	var d time.Duration
	for _, s := range r.stalls {
		d += max(0, min(to, s.to)-max(from, s.from))
	}
	return d
}

// load runs the clients for the duration and restarts PostgreSQL halfway.
func (r *faultRun) load() {
	t := r.t
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d; load for %v, PostgreSQL restart at %v", seed, r.duration, r.duration/2)
	var clients, probes, watchers sync.WaitGroup
	watchDone := make(chan struct{})
	for i := range r.srv {
		watchers.Go(func() { r.watchReadyz(i, watchDone) })
	}
	watchers.Go(func() { r.watchStalls(watchDone) })
	watchers.Go(func() { r.watchDatabase(watchDone) })
	start := time.Now()
	r.loadStart = r.since()
	for w := range faultVerifiers {
		rng := rand.New(rand.NewPCG(seed, uint64(w)))
		clients.Go(func() { r.verifier(w, rng) })
	}
	for w := range faultWriters {
		rng := rand.New(rand.NewPCG(seed, uint64(100+w)))
		clients.Go(func() { r.writer(w, rng, &probes) })
	}
	time.Sleep(time.Until(start.Add(r.duration / 2)))
	r.outageStart = r.since()
	err := r.restartDatabase()
	r.pgctlBack = r.since()
	r.dbBack = r.pgctlBack
	if err != nil {
		r.stop.Store(true)
		clients.Wait()
		probes.Wait()
		close(watchDone)
		watchers.Wait()
		logText, _ := os.ReadFile(r.pg.log)
		t.Fatalf("restart PostgreSQL: %v\nserver log:\n%s", err, logText)
	}
	t.Logf("PostgreSQL restarted: down from %s to %s", r.at(r.outageStart), r.at(r.pgctlBack))
	time.Sleep(time.Until(start.Add(r.duration)))
	r.stop.Store(true)
	clients.Wait()
	r.loadEnd = r.since()
	probes.Wait()
	close(watchDone)
	watchers.Wait()
	// The database is back when pg_ctl says so and a fresh connection works.
	r.freshBack = -1
	down := false
	for _, o := range r.dbObs {
		if o.recv < r.outageStart {
			continue
		}
		if o.status == 0 {
			down = true
		} else if down && o.sent > r.outageStart {
			r.freshBack = o.recv
			break
		}
	}
	r.dbBack = max(r.pgctlBack, r.freshBack)
}

// restartDatabase restarts PostgreSQL as pg_ctl restart -m fast does (every connection
// is cut, the server shuts down cleanly and starts again), but keeps it down until the
// downtime has passed since the restart began: on an idle machine a plain restart takes a
// fifth of a second, too short an outage to learn much from.
func (r *faultRun) restartDatabase() error {
	if out, err := r.pg.run(time.Minute, "pg_ctl", "-D", r.pg.data, "-m", "fast", "-w", "-t", "60", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	r.pgStopped = r.since()
	time.Sleep(r.outageStart + r.downtime - r.since())
	if out, err := r.pg.start(); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	return nil
}

// watchDatabase connects to the database afresh every faultDBEvery and runs SELECT 1,
// until the load ends and the database has answered since pg_ctl restart returned.
func (r *faultRun) watchDatabase(done <-chan struct{}) {
	tick := time.NewTicker(faultDBEvery)
	defer tick.Stop()
	var obs []faultReadyz
	for {
		sent := r.since()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		status, body := 0, ""
		conn, err := pgx.Connect(ctx, r.pg.dsn())
		if err == nil {
			_, err = conn.Exec(ctx, "SELECT 1")
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			status = 1
		} else {
			body = err.Error()
		}
		obs = append(obs, faultReadyz{status: status, body: body, sent: sent, recv: r.since()})
		select {
		case <-done: // closed after pgctlBack is set
			if status == 1 && sent > r.pgctlBack || r.since() > r.pgctlBack+3*faultReadyAfter {
				r.dbObs = obs
				return
			}
			<-tick.C
		case <-tick.C:
		}
	}
}

// settle checks that the instances are still running and waits until every acknowledged
// write has had PropagationBound to reach both.
func (r *faultRun) settle() {
	for i, s := range r.srv {
		select {
		case err := <-s.Done:
			r.t.Errorf("instance %s exited during the run: %v; stderr:\n%s", faultInstName(i), err, s.Stderr.String())
		default:
		}
	}
	if r.t.Failed() {
		r.t.FailNow()
	}
	var last time.Duration
	for _, w := range r.writes {
		last = max(last, w.recv)
	}
	time.Sleep(last + PropagationBound - r.since())
}

// finalCheck verifies every token of the ledger on both instances: acknowledged revokes
// are rejected, acknowledged generates without a revoke are accepted.
func (r *faultRun) finalCheck() {
	var bad []string
	var revoked, live, unknown int
	for _, tok := range r.tokens {
		want := 200
		switch {
		case tok.revState == faultRevoked:
			want = 401
			revoked++
		case tok.revState == faultRevokeUnknown:
			unknown++
			continue
		default:
			live++
		}
		for i := range r.srv {
			if status, err := r.verify(i, tok.secret); status != want {
				bad = append(bad, fmt.Sprintf("%s on %s: %d (%v), want %d", faultSecretTail(tok.secret), faultInstName(i), status, err, want))
			}
		}
	}
	r.mu.Lock()
	r.problems = append(r.problems, bad...)
	r.mu.Unlock()
	line := fmt.Sprintf("after the run: %d revoked and %d live tokens checked on both instances", revoked, live)
	if unknown > 0 {
		line += fmt.Sprintf(" (%d with a revoke never answered left out)", unknown)
	}
	if len(bad) == 0 {
		line += ": all as acknowledged"
	} else {
		line += fmt.Sprintf(": %d answers differ from what was acknowledged", len(bad))
	}
	r.finalLine = line
}

// Whether an instance that did not make a change, seen at some moment still behaving as
// before it, was within its rights.
const (
	faultInBound      = iota // within PropagationBound of the acknowledgement
	faultOutage              // later, but the outage began within the bound and the database has been back for less than the bound
	faultPastTheBound        // a violation
)

// meetsOutage reports whether the outage began before a change acknowledged at ack had had
// PropagationBound to reach the other instance.
func (r *faultRun) meetsOutage(ack time.Duration) bool {
	return ack < r.dbBack && r.outageStart-ack-r.stalled(ack, r.outageStart) <= PropagationBound
}

// propagation classifies a moment at which an instance that did not make a change
// acknowledged at ack still behaved as before it. Time the machine stalled does not count.
func (r *faultRun) propagation(ack, at time.Duration) int {
	if at-ack-r.stalled(ack, at) <= PropagationBound {
		return faultInBound
	}
	if r.meetsOutage(ack) {
		back := max(ack, r.dbBack)
		if at-back-r.stalled(back, at) <= PropagationBound {
			return faultOutage
		}
	}
	return faultPastTheBound
}

// duringOutage reports whether [from, to] meets the outage, extended by grace after it.
func (r *faultRun) duringOutage(from, to, grace time.Duration) bool {
	return to >= r.outageStart && from <= r.dbBack+grace
}

// at is a moment of the test as an offset from the start of the load.
func (r *faultRun) at(d time.Duration) string {
	return fmt.Sprintf("%+.3fs", (d - r.loadStart).Seconds())
}

func faultMs(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}

func faultSec(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}

// faultFindings groups wrong verification answers by what was wrong, token and instance.
type faultFindings struct {
	n      int // wrong answers
	groups []*faultFinding
	index  map[string]*faultFinding
}

type faultFinding struct {
	what string
	v    faultVerification // the first
	last faultVerification
	n    int
}

func (f *faultFindings) add(what string, v faultVerification) {
	f.n++
	key := fmt.Sprint(what, v.tok, v.inst)
	if f.index == nil {
		f.index = map[string]*faultFinding{}
	}
	g := f.index[key]
	if g == nil {
		g = &faultFinding{what: what, v: v}
		f.index[key] = g
		f.groups = append(f.groups, g)
	}
	g.n++
	g.last = v
}

func (f *faultFindings) lines(r *faultRun) []string {
	var out []string
	for _, g := range f.groups {
		inst := faultInstName(int(g.v.inst))
		when := fmt.Sprintf("%d answers to requests sent %s to %s (the last answered %s)", g.n, r.at(g.v.sent), r.at(g.last.sent), r.at(g.last.recv))
		if g.v.tok < 0 {
			out = append(out, fmt.Sprintf("%s on %s: %s", g.what, inst, when))
			continue
		}
		tok := r.tokens[g.v.tok]
		revoke := "never revoked"
		switch {
		case tok.revState == faultRevoked:
			revoke = fmt.Sprintf("revoke sent %s, acknowledged (200) by %s at %s", r.at(tok.revSent), faultInstName(tok.revInst), r.at(tok.revAck))
		case tok.revSent != 0:
			revoke = fmt.Sprintf("revoke sent %s, never answered", r.at(tok.revSent))
		}
		out = append(out, fmt.Sprintf("%s: token %s of %s on %s: %s; generate sent %s, acknowledged by %s at %s; %s; database down %s–%s (pg_ctl restart returned %s)",
			g.what, faultSecretTail(tok.secret), tok.account, inst, when,
			r.at(tok.genSent), faultInstName(tok.genInst), r.at(tok.genAck), revoke, r.at(r.outageStart), r.at(r.dbBack), r.at(r.pgctlBack)))
	}
	return out
}

// analyse checks the records against the invariants and prints the summary.
func (r *faultRun) analyse() {
	t := r.t
	var all []faultVerification
	for _, v := range r.verifies {
		all = append(all, v...)
	}
	slices.SortFunc(all, func(a, b faultVerification) int { return cmp.Compare(a.sent, b.sent) })

	var (
		perInst                                   [2]int
		outcomes                                  = map[string]int{}
		byKind                                    = map[string]map[int]int{"live": {}, "revoked": {}, "unknown": {}}
		errorsByKind                              = map[string]int{}
		violations, falseRejects                  faultFindings
		acceptedWithinBound, acceptedDuringOutage int
		rejectedBeforePropagation                 int
		refusedFailingClosed                      int
		lastOutageAccept                          time.Duration = -1
		worstAcceptAfterAck                       time.Duration
		loadVerifications                         int
	)
	for _, v := range all {
		inst := int(v.inst)
		perInst[inst]++
		if !v.probe {
			loadVerifications++
		}
		switch v.status {
		case 200:
			outcomes["200"]++
		case 401:
			outcomes["401"]++
		default:
			outcomes["other"]++
			kind := fmt.Sprintf("verify on %s: %d", faultInstName(inst), v.status)
			if v.status == 0 {
				kind = fmt.Sprintf("verify on %s: no answer (transport)", faultInstName(inst))
			}
			if r.duringOutage(v.sent, v.recv, 0) {
				kind += ", during the outage"
			}
			errorsByKind[kind]++
			continue
		}
		if v.tok < 0 {
			byKind["unknown"][int(v.status)]++
			if v.status == 200 {
				violations.add("an unknown secret accepted", v)
			}
			continue
		}
		tok := r.tokens[v.tok]
		if tok.revState == faultRevoked && v.sent > tok.revAck {
			byKind["revoked"][int(v.status)]++
		} else {
			byKind["live"][int(v.status)]++
		}
		switch {
		case v.status == 200 && tok.revState == faultRevoked && v.sent > tok.revAck:
			switch p := r.propagation(tok.revAck, v.sent); {
			case inst == tok.revInst:
				violations.add("a revoked token accepted by the instance that acknowledged its revoke", v)
			case p == faultInBound:
				acceptedWithinBound++
				worstAcceptAfterAck = max(worstAcceptAfterAck, v.sent-tok.revAck)
			case p == faultOutage:
				acceptedDuringOutage++
				lastOutageAccept = max(lastOutageAccept, v.sent-r.dbBack)
			default:
				violations.add("a revoked token accepted after propagation", v)
			}
		case v.status == 401 && (tok.revSent == 0 || v.recv < tok.revSent) && v.sent > tok.genAck:
			switch p := r.propagation(tok.genAck, v.sent); {
			case r.duringOutage(v.sent, v.recv, PropagationBound):
				// A write that took access away from the account, committed as the database
				// went down, could not be read back: the instance refuses the account's
				// tokens until the database answers again (it fails closed).
				refusedFailingClosed++
			case inst == tok.genInst:
				falseRejects.add("a live token rejected by the instance that generated it", v)
			case p != faultPastTheBound:
				rejectedBeforePropagation++
			default:
				falseRejects.add("a live token rejected after propagation", v)
			}
		}
	}

	// Writes.
	type writeStats struct{ acked, failedOutage, failedOther int }
	ws := map[string]*writeStats{"generate": {}, "revoke": {}}
	var writesPerInst [2]int
	for _, w := range r.writes {
		s := ws[w.kind]
		if w.status != 0 {
			writesPerInst[w.inst]++
		}
		switch {
		case w.status == 200 || w.status == 404 && w.kind == "revoke":
			s.acked++
		case w.status == 400 && strings.Contains(w.err, "already holds"):
		case w.status == 0:
			errorsByKind[fmt.Sprintf("%s on %s: no answer (transport)", w.kind, faultInstName(w.inst))]++
			r.problems = append(r.problems, fmt.Sprintf("%s on %s sent at %s got no answer: %s", w.kind, faultInstName(w.inst), r.at(w.sent), w.err))
			s.failedOther++
		case r.duringOutage(w.sent, w.recv, faultWriteGrace):
			errorsByKind[fmt.Sprintf("%s on %s: %d, during the outage (expected)", w.kind, faultInstName(w.inst), w.status)]++
			s.failedOutage++
		default:
			errorsByKind[fmt.Sprintf("%s on %s: %d, outside the outage", w.kind, faultInstName(w.inst), w.status)]++
			r.problems = append(r.problems, fmt.Sprintf("%s on %s sent at %s, outside the outage %s–%s (+%v): %d %s",
				w.kind, faultInstName(w.inst), r.at(w.sent), r.at(r.outageStart), r.at(r.dbBack), faultWriteGrace, w.status, w.err))
			s.failedOther++
		}
	}

	// /readyz.
	var readyLines []string
	for i, obs := range r.readyz {
		// down: the first answer other than 200 once the outage began; up: the 200 after
		// the last answer other than 200, from which on the instance stayed ready.
		down, up, flaps := -1, -1, 0
		for k, o := range obs {
			switch {
			case o.status != 200 && down < 0 && o.recv >= r.outageStart:
				down = k
			case o.status != 200 && down >= 0:
				if up >= 0 {
					flaps++ // ready again, then not
				}
				up = -1
			case o.status == 200 && down >= 0 && up < 0:
				up = k
			}
		}
		name := faultInstName(i)
		reasons := map[string]int{}
		for k, o := range obs {
			switch {
			case o.status == 200:
			case o.status == 503 && down >= 0 && k >= down && (up < 0 || k < up):
				if o.sent > r.dbBack {
					reasons[o.body]++
				}
			default:
				errorsByKind[fmt.Sprintf("readyz on %s: %d", name, o.status)]++
				r.problems = append(r.problems, fmt.Sprintf("/readyz on %s answered %d at %s (database down %s–%s): %s", name, o.status, r.at(o.sent), r.at(r.outageStart), r.at(r.dbBack), o.body))
			}
		}
		switch {
		case down < 0 || obs[down].sent > r.dbBack:
			r.problems = append(r.problems, fmt.Sprintf("/readyz on %s never answered 503 while the database was down (%s–%s)", name, r.at(r.outageStart), r.at(r.dbBack)))
			readyLines = append(readyLines, name+" never 503")
		case up < 0 || obs[up].recv-r.dbBack-r.stalled(r.dbBack, obs[up].recv) > faultReadyAfter:
			r.problems = append(r.problems, fmt.Sprintf("/readyz on %s not steadily 200 within %v after the database was back at %s", name, faultReadyAfter, r.at(r.dbBack)))
			readyLines = append(readyLines, name+" 503 from "+r.at(obs[down].sent)+", not steadily 200 again")
		default:
			line := fmt.Sprintf("%s 503 %s–%s (%s, steadily 200 again %s after the database", name, r.at(obs[down].recv), r.at(obs[up].recv),
				faultSec(obs[up].recv-obs[down].recv), faultMs(obs[up].recv-r.dbBack))
			if flaps > 0 {
				line += fmt.Sprintf(", after %d returns to 503", flaps)
			}
			if len(reasons) > 0 {
				var rs []string
				for m, n := range reasons {
					rs = append(rs, fmt.Sprintf("%q ×%d", m, n))
				}
				slices.Sort(rs)
				line += "; once the database was back: " + strings.Join(rs, ", ")
			}
			readyLines = append(readyLines, line+")")
		}
	}

	// Revoke-to-rejected on the other instance.
	var lags []time.Duration
	var outageLag time.Duration = -1
	var neverRejected int
	for _, p := range r.probes {
		if p.rejected < 0 {
			neverRejected++
			continue
		}
		if r.meetsOutage(p.ack) {
			back := max(p.ack, r.dbBack)
			outageLag = max(outageLag, p.rejected-back-r.stalled(back, p.rejected))
			continue
		}
		lags = append(lags, p.rejected-p.ack-r.stalled(p.ack, p.rejected))
	}
	slices.Sort(lags)
	slow := slices.Clone(r.probes)
	slices.SortFunc(slow, func(a, b faultProbe) int { return cmp.Compare(b.rejected-b.ack, a.rejected-a.ack) })
	for _, p := range slow[:min(5, len(slow))] {
		t.Logf("slow revocation: %s revoked by %s, acknowledged %s, rejected by %s %s later (first 401 answered %s; machine stalled %s meanwhile; database down %s–%s)",
			faultSecretTail(r.tokens[p.tok].secret), faultInstName(1-p.other), r.at(p.ack), faultInstName(p.other),
			faultMs(p.rejected-p.ack), r.at(p.rejected), faultMs(r.stalled(p.ack, p.rejected)), r.at(r.outageStart), r.at(r.dbBack))
	}
	lagLine := "no revocation outside the outage"
	if n := len(lags); n > 0 {
		q := func(f float64) time.Duration { return lags[int(f*float64(n-1))] }
		lagLine = fmt.Sprintf("%s over %d revocations (p50 %s, p99 %s; bound %v)", faultMs(lags[n-1]), n, faultMs(q(0.5)), faultMs(q(0.99)), PropagationBound)
		if lags[n-1] > PropagationBound {
			r.problems = append(r.problems, fmt.Sprintf("worst revoke-to-rejected on the other instance outside the outage %v passes the bound %v", lags[n-1], PropagationBound))
		}
	}
	if outageLag >= 0 {
		lagLine += fmt.Sprintf("; revocations meeting the outage rejected at the latest %s after the database was back", faultMs(outageLag))
	}
	if neverRejected > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d revoked tokens still accepted by the other instance %v after their revoke", neverRejected, faultProbeFor))
	}

	// Server logs.
	var logLines []string
	for i, s := range r.srv {
		levels := map[string]int{}
		msgs := map[string]int{}
		for _, line := range strings.Split(s.Stderr.String(), "\n") {
			var l struct{ Level, Msg string }
			if json.Unmarshal([]byte(line), &l) == nil && (l.Level == "WARN" || l.Level == "ERROR") {
				levels[l.Level]++
				msgs[l.Msg]++
			}
			if strings.Contains(line, "panic") || strings.Contains(line, "goroutine ") && strings.Contains(line, "[running]") {
				r.problems = append(r.problems, fmt.Sprintf("instance %s logged: %s", faultInstName(i), line))
			}
		}
		keys := make([]string, 0, len(msgs))
		for m, n := range msgs {
			keys = append(keys, fmt.Sprintf("%q ×%d", m, n))
		}
		slices.Sort(keys)
		logLines = append(logLines, fmt.Sprintf("%s %d WARN, %d ERROR (%s)", faultInstName(i), levels["WARN"], levels["ERROR"], strings.Join(keys, ", ")))
	}

	// Summary.
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	fresh := "never"
	if r.freshBack >= 0 {
		fresh = r.at(r.freshBack)
	}
	p("load and fault: %v of load on two instances over a private PostgreSQL %s; times from the start of the load", r.duration, r.pg.version)
	p("  database restart: pg_ctl stop -m fast at %s (stopped %s), pg_ctl start returned %s, a fresh connection worked again %s: down %s",
		r.at(r.outageStart), r.at(r.pgStopped), r.at(r.pgctlBack), fresh, faultMs(r.dbBack-r.outageStart))
	p("  requests served: A %d, B %d (verifications A %d, B %d; writes A %d, B %d)",
		r.served[0].Load(), r.served[1].Load(), perInst[0], perInst[1], writesPerInst[0], writesPerInst[1])
	p("  verifications: %d by the load's clients, %.0f/s; %d more by the revocation probes", loadVerifications, float64(loadVerifications)/r.duration.Seconds(), len(all)-loadVerifications)
	p("  outcomes: 200 %d, 401 %d, other %d; live tokens 200 %d / 401 %d, revoked tokens 200 %d / 401 %d, unknown secrets 200 %d / 401 %d",
		outcomes["200"], outcomes["401"], outcomes["other"], byKind["live"][200], byKind["live"][401],
		byKind["revoked"][200], byKind["revoked"][401], byKind["unknown"][200], byKind["unknown"][401])
	p("  writes: generate acknowledged %d, failed %d during the outage, %d otherwise, refused at the cap %d; revoke acknowledged %d (%d by a retry), failed %d during the outage, %d otherwise",
		ws["generate"].acked, ws["generate"].failedOutage, ws["generate"].failedOther, r.refused,
		ws["revoke"].acked, r.retried, ws["revoke"].failedOutage, ws["revoke"].failedOther)
	if len(errorsByKind) == 0 {
		p("  errors by kind: none")
	} else {
		keys := make([]string, 0, len(errorsByKind))
		for k := range errorsByKind {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		p("  errors by kind:")
		for _, k := range keys {
			p("    %s: %d", k, errorsByKind[k])
		}
	}
	p("  outage as seen by /readyz: %s", strings.Join(readyLines, "; "))
	p("  revoked tokens accepted on the other instance: %d within the bound of the acknowledgement (latest %s after it), %d during the outage before propagation%s",
		acceptedWithinBound, faultMs(worstAcceptAfterAck), acceptedDuringOutage,
		func() string {
			if lastOutageAccept < 0 {
				return ""
			}
			return fmt.Sprintf(" (the last one sent %s after the database was back)", faultMs(lastOutageAccept))
		}())
	p("  live tokens rejected on the other instance before propagation: %d; after propagation or by the generating instance: %d", rejectedBeforePropagation, falseRejects.n)
	p("  live tokens refused during the outage by an instance failing closed after a write it could not read back: %d", refusedFailingClosed)
	p("  propagation violations: %d", violations.n)
	p("  worst revoke-to-rejected on the other instance outside the outage: %s", lagLine)
	p("  %s", r.finalLine)
	if len(r.stalls) == 0 {
		p("  machine stalls seen by the test (a 5 ms sleep taking over %v): none", faultStallMin)
	} else {
		var longest, total time.Duration
		for _, st := range r.stalls {
			longest, total = max(longest, st.to-st.from), total+st.to-st.from
		}
		p("  machine stalls seen by the test (a 5 ms sleep taking over %v): %d, longest %s, %s in all; propagation deadlines do not count them",
			faultStallMin, len(r.stalls), faultMs(longest), faultMs(total))
	}
	p("  server logs: %s", strings.Join(logLines, "; "))
	fmt.Print(b.String())

	for _, e := range r.errText {
		t.Logf("%s", e)
	}
	const show = 10
	for _, f := range []*faultFindings{&violations, &falseRejects} {
		for i, line := range f.lines(r) {
			if i == show {
				t.Errorf("... and %d more", len(f.groups)-show)
				break
			}
			t.Errorf("%s", line)
		}
	}
	for i, v := range r.problems {
		if i == show {
			t.Errorf("... and %d more problems", len(r.problems)-show)
			break
		}
		t.Errorf("%s", v)
	}
	if outcomes["other"] > 0 {
		t.Errorf("%d verifications were not answered 200 or 401 (see errors by kind)", outcomes["other"])
	}
	if t.Failed() {
		// Every request is logged: keep the full logs in files, and show the rest and the
		// requests that did not get 200 or 401.
		for i, s := range r.srv {
			name := filepath.Join(os.TempDir(), fmt.Sprintf("tokenward-fault-%s-%s.log", r.t0.Format("20060102-150405"), faultInstName(i)))
			if err := os.WriteFile(name, []byte(s.Stderr.String()), 0o644); err == nil {
				t.Logf("instance %s's full log (load started at %s): %s", faultInstName(i), r.t0.Add(r.loadStart).UTC().Format("15:04:05.000"), name)
			}
			var keep []string
			for _, line := range strings.Split(s.Stderr.String(), "\n") {
				if !strings.Contains(line, `"msg":"request"`) || !strings.Contains(line, `"status":200,`) && !strings.Contains(line, `"status":401,`) {
					keep = append(keep, line)
				}
			}
			t.Logf("instance %s log, without the requests answered 200 or 401:\n%s", faultInstName(i), strings.Join(keep, "\n"))
		}
	}
}
