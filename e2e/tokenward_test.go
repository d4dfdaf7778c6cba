package e2e

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

var uuidLine = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$`)

// TestQuickstart follows the README: start, first administrator, a token from the command
// line, then the own-token API with curl's requests.
func TestQuickstart(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir := t.TempDir()
		var db []string // SQLite runs on the default, tokenward.db in the working directory
		if engine == store.Postgres {
			db = []string{"--db", storetest.DSN(t, engine)}
		}
		srv := binary.Start(t, dir, dbArg(db), db...)
		// stdout and stderr are copied from their pipes independently: the password may land
		// a moment after the "listening" line that Start waited for.
		var password []string
		for deadline := time.Now().Add(10 * time.Second); password == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			password = regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())
		}
		if password == nil {
			t.Fatalf("first start did not print the administrator's password; stdout:\n%s", srv.Stdout.String())
		}
		secrets := []string{password[1]}

		out, errOut, code := binary.Run(t, dir, "", append([]string{"token", "create", "admin@localhost", "--name", "laptop"}, db...)...)
		if code != 0 || !uuidLine.MatchString(out) {
			t.Fatalf("token create: exit %d, stdout %q (want only a UUID secret), stderr %q", code, out, errOut)
		}
		secret := strings.TrimSpace(out)
		secrets = append(secrets, secret)
		// Flags before the positional argument work too.
		out, _, code = binary.Run(t, dir, "", append(append([]string{"token", "create", "--name", "script"}, db...), "admin@localhost")...)
		if code != 0 || !uuidLine.MatchString(out) {
			t.Fatalf("token create with flags first: exit %d, stdout %q", code, out)
		}
		secrets = append(secrets, strings.TrimSpace(out))

		// A token made by the command line works on the running server within the bound.
		if status := awaitStatus(t, srv.URL+"/api/v2/apitoken", secret, 200); status != 200 {
			t.Fatalf("token from the command line: %d, want 200 within %v", status, PropagationBound)
		}
		status, c := call(t, "GET", srv.URL+"/api/v2/apitoken", secret, "")
		tokens := testkit.ResponseList(t, c)
		if status != 200 || len(tokens) != 2 || tokens[0]["tokenName"] != "laptop" || tokens[1]["tokenName"] != "script" {
			t.Fatalf("GET apitoken: %d %v, want the tokens laptop and script", status, c)
		}
		laptopID := tokens[0]["tokenID"].(string)

		status, c = call(t, "POST", srv.URL+"/api/v2/apitoken", secret, "")
		tokens = testkit.ResponseList(t, c)
		if status != 200 || len(tokens) != 3 {
			t.Fatalf("POST apitoken: %d %v", status, c)
		}
		secrets = append(secrets, tokens[2]["tokenID"].(string))

		status, c = call(t, "PUT", srv.URL+"/api/v2/apitoken/"+laptopID, secret, `{"tokenID":"`+laptopID+`","tokenName":"ci"}`)
		if status != 200 || c["response"].(map[string]any)["tokenName"] != "ci" {
			t.Fatalf("PUT apitoken: %d %v", status, c)
		}
		status, _ = call(t, "DELETE", srv.URL+"/api/v2/apitoken/"+laptopID, secret, "")
		if status != 200 {
			t.Fatalf("DELETE apitoken: %d", status)
		}
		if status, c = call(t, "GET", srv.URL+"/api/v2/apitoken", secret, ""); status != 401 {
			t.Errorf("the revoked token: %d %v, want 401", status, c)
		}

		// The command line works beside the running server.
		_, errOut, code = binary.Run(t, dir, "correct horse battery staple\n",
			append([]string{"user", "create", "jane@example.com", "--permission", "token_management", "--password-stdin"}, db...)...)
		if code != 0 {
			t.Fatalf("user create: exit %d, stderr %q", code, errOut)
		}
		out, _, code = binary.Run(t, dir, "", append([]string{"token", "create", "jane@example.com"}, db...)...)
		if code != 0 {
			t.Fatalf("token create for jane: exit %d", code)
		}
		jane := strings.TrimSpace(out)
		secrets = append(secrets, jane)
		awaitStatus(t, srv.URL+"/api/v2/apitoken", jane, 200)
		if status, c = call(t, "POST", srv.URL+"/api/v2/apitoken", jane, `{"tokenName":"jane's"}`); status != 200 {
			t.Errorf("jane generates: %d %v", status, c)
		}

		srv.Stop(t)
		logs := srv.Stderr.String()
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("a secret or password (...%s) appears in the server log", s[len(s)-4:])
			}
		}
		// A second start on the same database creates no administrator and prints nothing.
		again := binary.Start(t, dir, dbArg(db), db...)
		if strings.Contains(again.Stdout.String(), "password") {
			t.Errorf("second start printed a password again: %q", again.Stdout.String())
		}
		if status, _ := call(t, "GET", again.URL+"/api/v2/apitoken", jane, ""); status != 200 {
			t.Errorf("jane's token after a restart: %d, want 200", status)
		}
	})
}

func dbArg(db []string) string {
	if len(db) == 2 {
		return db[1]
	}
	return "tokenward.db"
}

// TestTwoInstancesShareTheCap starts two servers on one database at once (racing their
// migrations and first-administrator creation), then sends 50 generate requests split
// over both: the account ends with exactly 20 tokens. A revocation on one instance is
// refused by the other on the next request.
func TestTwoInstancesShareTheCap(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir := t.TempDir()
		dsn := storetest.DSN(t, engine)
		servers := make([]*testkit.Server, 2)
		var wg sync.WaitGroup
		for i := range servers {
			wg.Go(func() { servers[i] = binary.Start(t, dir, dsn) })
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		printed := 0
		for _, s := range servers {
			if strings.Contains(s.Stdout.String(), "shown this once") {
				printed++
			}
		}
		if printed != 1 {
			t.Errorf("%d instances created a first administrator, want exactly 1", printed)
		}
		secret := binary.RunOn(t, dir, dsn, "token", "create", "admin@localhost")
		for i, s := range servers {
			if status := awaitStatus(t, s.URL+"/api/v2/apitoken", secret, 200); status != 200 {
				t.Fatalf("instance %d: token from the command line: %d, want 200 within %v", i, status, PropagationBound)
			}
		}

		statuses := make([]int, 50)
		for i := range statuses {
			wg.Go(func() {
				statuses[i], _ = call(t, "POST", servers[i%2].URL+"/api/v2/apitoken", secret, "")
			})
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		if count[200] != 19 || count[400] != 31 || len(count) != 2 {
			t.Errorf("50 generates over two instances got %v, want 19×200 and 31×400 (one token existed)", count)
		}
		_, c := call(t, "GET", servers[1].URL+"/api/v2/apitoken", secret, "")
		tokens := testkit.ResponseList(t, c)
		if len(tokens) != 20 {
			t.Fatalf("account holds %d tokens, want 20", len(tokens))
		}

		// Revoke on instance 0 with the token itself: instance 0 refuses it on the next
		// request, instance 1 within the propagation bound.
		if status, _ := call(t, "DELETE", servers[0].URL+"/api/v2/apitoken/"+secret, secret, ""); status != 200 {
			t.Fatalf("revoke on instance 0: %d", status)
		}
		if status, _ := call(t, "GET", servers[0].URL+"/api/v2/apitoken", secret, ""); status != 401 {
			t.Errorf("revoked token on the revoking instance: %d, want 401 at once", status)
		}
		if status := awaitStatus(t, servers[1].URL+"/api/v2/apitoken", secret, 401); status != 401 {
			t.Errorf("revoked token on instance 1: %d, want 401 within %v", status, PropagationBound)
		}
	})
}

func TestCommandLineErrors(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := binary.Run(t, dir, "", "user", "create", "ops@example.com", "--permission", "user_management"); code != 0 {
		t.Fatalf("user create: exit %d: %s", code, errOut)
	}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStderr string
	}{
		{"no command", nil, "", 2, "Usage"},
		{"unknown command", []string{"frobnicate"}, "", 2, `unknown command "frobnicate"`},
		{"user without subcommand", []string{"user"}, "", 2, "needs a subcommand"},
		{"unknown flag", []string{"token", "create", "ops@example.com", "--nmae", "x"}, "", 2, "unknown flag: --nmae"},
		{"missing account", []string{"token", "create"}, "", 2, "needs ACCOUNT"},
		{"extra argument", []string{"token", "create", "a@example.com", "b@example.com"}, "", 2, "needs ACCOUNT"},
		{"unknown account", []string{"token", "create", "ghost@example.com"}, "", 1, "ghost@example.com does not exist"},
		{"bad email", []string{"user", "create", "not an email"}, "", 1, "not a valid email address"},
		{"unknown permission", []string{"user", "create", "x@example.com", "--permission", "root"}, "", 2, `unknown permission "root"`},
		{"duplicate user", []string{"user", "create", "OPS@example.com"}, "", 1, "already exists"},
		{"short password", []string{"user", "create", "y@example.com", "--password-stdin"}, "short\n", 1, "at least 12 characters"},
		{"empty password", []string{"user", "create", "y@example.com", "--password-stdin"}, "", 2, "no password"},
		{"bad log format", []string{"serve", "--log-format", "xml"}, "", 2, "text or json"},
		{"webhook lease shorter than the timeout", []string{"serve", "--webhook-lease", "5s", "--webhook-timeout", "10s"}, "", 2, "--webhook-lease must be longer than --webhook-timeout"},
		{"zero webhook backoff", []string{"serve", "--webhook-backoff", "0s"}, "", 2, "--webhook-backoff must be a positive duration"},
		{"unreachable postgres", []string{"token", "create", "a@example.com", "--db", "postgres://u:hunter2hunter2@127.0.0.1:1/x"}, "", 1, "postgres"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := binary.Run(t, dir, tc.stdin, tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantStderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.wantCode, tc.wantStderr)
			}
			if strings.Contains(errOut, "hunter2hunter2") {
				t.Errorf("the database password appears in the error: %q", errOut)
			}
		})
	}
	// A full account: the cap applies at the command line too.
	for i := range 20 {
		if _, errOut, code := binary.Run(t, dir, "", "token", "create", "ops@example.com", "--force"); code != 0 {
			t.Fatalf("token %d: exit %d: %s", i+1, code, errOut)
		}
	}
	if out, errOut, code := binary.Run(t, dir, "", "token", "create", "ops@example.com", "--force"); code != 1 || out != "" || !strings.Contains(errOut, "already holds 20") {
		t.Errorf("21st token: exit %d, stdout %q, stderr %q; want exit 1, nothing on stdout, the cap message", code, out, errOut)
	}
	out, _, code := binary.Run(t, dir, "", "version")
	if code != 0 || !strings.HasPrefix(out, "tokenward ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"user", "create", "--help"}, {"token", "create", "--help"}} {
		if _, _, code := binary.Run(t, dir, "", args...); code != 0 {
			t.Errorf("tokenward %v: exit %d, want 0", args, code)
		}
	}
}

// TestAdministrationCommands covers the commands for first setup and recovery: a service
// account and its token from the command line, and a password reset that lets a user sign
// in to the console of a running server.
func TestAdministrationCommands(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir := t.TempDir()
		dsn := storetest.DSN(t, engine)
		srv := binary.Start(t, dir, dsn)

		out, errOut, code := binary.Run(t, dir, "", "serviceaccount", "create", "SA::Deploy", "--permission", "ingestion,events_management",
			"--description", "deploys", "--db", dsn)
		if code != 0 || !strings.Contains(out, "sa::deploy") || !strings.Contains(out, "events_management ingestion") {
			t.Fatalf("serviceaccount create: exit %d, %q %q", code, out, errOut)
		}
		if _, errOut, code := binary.Run(t, dir, "", "serviceaccount", "create", "sa::x", "--permission", "token_management", "--db", dsn); code != 1 || !strings.Contains(errOut, "cannot hold") {
			t.Errorf("service account with token_management: exit %d, %q; want 1 and a refusal", code, errOut)
		}
		out, _, code = binary.Run(t, dir, "", "token", "create", "sa::deploy", "--name", "main", "--db", dsn)
		if code != 0 {
			t.Fatalf("token create for the service account: exit %d", code)
		}
		saSecret := strings.TrimSpace(out)
		// The token authenticates (403: it lacks Accounts, it is not a bad token).
		if status := awaitStatus(t, srv.URL+"/api/v2/account/serviceaccount", saSecret, 403); status != 403 {
			t.Errorf("service account token: %d, want 403", status)
		}

		if _, errOut, code := binary.Run(t, dir, "", "user", "set-password", "admin@localhost", "--db", dsn); code != 2 || !strings.Contains(errOut, "--password-stdin") {
			t.Errorf("set-password without --password-stdin: exit %d, %q", code, errOut)
		}
		if _, errOut, code := binary.Run(t, dir, "a new admin password\n", "user", "set-password", "admin@localhost", "--password-stdin", "--db", dsn); code != 0 {
			t.Fatalf("set-password: exit %d, %q", code, errOut)
		}
		form := strings.NewReader("email=admin%40localhost&password=a+new+admin+password")
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := client.Post(srv.URL+"/console/signin", "application/x-www-form-urlencoded", form)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		session := slices.ContainsFunc(res.Cookies(), func(c *http.Cookie) bool { return c.Name == "tokenward_session" && c.Value != "" })
		if res.StatusCode != http.StatusSeeOther || !session {
			t.Errorf("console sign-in with the new password: %d, cookies %v; want 303 and a session cookie", res.StatusCode, res.Cookies())
		}
		srv.Stop(t)
		if strings.Contains(srv.Stderr.String(), "a new admin password") || strings.Contains(srv.Stderr.String(), saSecret) {
			t.Errorf("a password or secret appears in the server log")
		}
	})
}
