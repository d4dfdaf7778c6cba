package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/testkit"
)

// TestNginxForwardAuth puts Debian's nginx in front of an application, with auth_request
// asking tokenward about every request (the configuration of docs/forward-auth.md), and
// checks what clients see through nginx and what reaches the application: the identity on
// allowed requests, nothing at all on refused ones, and 401 for a token revoked through
// the API.
func TestNginxForwardAuth(t *testing.T) {
	nginx := findNginx(t)
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	// nginx sends the client's address in X-Forwarded-For, which tokenward trusts (its last
	// entry), so that the invalid-token limit keys on each client, not on nginx.
	srv := binary.Start(t, dir, dsn, "--trust-forwarded-for")

	run := func(args ...string) string { t.Helper(); return binary.RunOn(t, dir, dsn, args...) }
	run("serviceaccount", "create", "sa::shipper", "--permission", "ingestion")
	run("user", "create", "reader@example.com", "--permission", "events_management")
	shipper := run("token", "create", "sa::shipper")
	reader := run("token", "create", "reader@example.com", "--force") // a user without token_management
	admin := run("token", "create", "admin@localhost")
	for _, secret := range []string{shipper, reader, admin} {
		if status := awaitVerify(t, srv.URL, secret); status != 200 {
			t.Fatalf("token from the command line: /auth/verify got %d, want 200 within %v", status, PropagationBound)
		}
	}

	// The application echoes what nginx sent it; hits counts the requests that reached it.
	var hits atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(appEcho{
			Method: r.Method, Path: r.URL.Path, Body: string(body),
			Account:     r.Header.Get("X-Tokenward-Account"),
			AccountType: r.Header.Get("X-Tokenward-Account-Type"),
			Permissions: r.Header.Get("X-Tokenward-Permissions"),
		})
	}))
	t.Cleanup(app.Close)

	proxy := startNginx(t, nginx, srv.URL, app.URL)

	type request struct {
		name, method, path, body string
		headers                  []string
		want                     int
		// For 200: what the application must have received.
		wantAccount, wantType, wantPermissions string
	}
	check := func(t *testing.T, tc request) {
		t.Helper()
		before := hits.Load()
		status, header, echo, raw := through(t, proxy, tc.method, tc.path, tc.body, tc.headers)
		reached := hits.Load() - before
		if status != tc.want {
			t.Fatalf("%s %s through nginx: got %d, want %d (body %q)", tc.method, tc.path, status, tc.want, raw)
		}
		// nginx passes tokenward's challenge on with a 401.
		if got := header.Get("WWW-Authenticate"); tc.want == 401 && !strings.HasPrefix(got, "Bearer ") {
			t.Errorf("WWW-Authenticate of the 401: got %q, want a Bearer challenge", got)
		}
		if tc.want != 200 {
			if reached != 0 {
				t.Errorf("a refused request reached the application %d times, want 0", reached)
			}
			return
		}
		if reached != 1 {
			t.Errorf("the application got %d requests, want 1", reached)
		}
		path, _, _ := strings.Cut(tc.path, "?")
		want := appEcho{Method: tc.method, Path: path, Body: tc.body, Account: tc.wantAccount, AccountType: tc.wantType, Permissions: tc.wantPermissions}
		if echo != want {
			t.Errorf("the application received %+v, want %+v", echo, want)
		}
	}

	for _, tc := range []request{
		{"service account with ingestion on /ingest/", "GET", "/ingest/x", "", []string{"Authorization: Bearer " + shipper}, 200, "sa::shipper", "SERVICE_ACCOUNT", "ingestion"},
		{"service account on /read/", "GET", "/read/x", "", []string{"Authorization: Bearer " + shipper}, 200, "sa::shipper", "SERVICE_ACCOUNT", "ingestion"},
		{"body reaches the application", "POST", "/ingest/x", "cpu.load 0.5 source=h1\n", []string{"Authorization: Bearer " + shipper}, 200, "sa::shipper", "SERVICE_ACCOUNT", "ingestion"},
		{"X-AUTH-TOKEN", "GET", "/ingest/x", "", []string{"X-AUTH-TOKEN: " + shipper}, 200, "sa::shipper", "SERVICE_ACCOUNT", "ingestion"},
		{"user without ingestion on /ingest/", "GET", "/ingest/x", "", []string{"Authorization: Bearer " + reader}, 403, "", "", ""},
		{"user without ingestion on /read/", "GET", "/read/x", "", []string{"Authorization: Bearer " + reader}, 200, "reader@example.com", "USER_ACCOUNT", "events_management"},
		{"client-sent identity headers are replaced", "GET", "/read/x", "",
			[]string{"Authorization: Bearer " + reader, "X-Tokenward-Account: admin@localhost", "X-Tokenward-Permissions: ingestion"},
			200, "reader@example.com", "USER_ACCOUNT", "events_management"},
		// The required permission is nginx's: the client cannot name another one.
		{"client's ?permission= is not passed on", "GET", "/ingest/x?permission=events_management", "", []string{"Authorization: Bearer " + reader}, 403, "", "", ""},
		{"client's X-Tokenward-Permission does not count", "GET", "/ingest/x", "", []string{"Authorization: Bearer " + reader, "X-Tokenward-Permission: events_management"}, 403, "", "", ""},
		{"no token on /ingest/", "GET", "/ingest/x", "", nil, 401, "", "", ""},
		{"no token on /read/", "GET", "/read/x", "", nil, 401, "", "", ""},
		{"no token, forged identity", "GET", "/read/x", "", []string{"X-Tokenward-Account: admin@localhost"}, 401, "", "", ""},
		{"garbage token", "GET", "/read/x", "", []string{"Authorization: Bearer not-a-token"}, 401, "", "", ""},
		{"garbage X-AUTH-TOKEN", "GET", "/ingest/x", "", []string{"X-AUTH-TOKEN: 00000000-0000-4000-8000-000000000000"}, 401, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, tc) })
	}

	// Revoke the service account's token on the tokenward instance nginx asks: that
	// instance applies it before answering, so the next request through nginx is refused.
	status, c := call(t, "DELETE", srv.URL+"/api/v2/apitoken/serviceaccount/sa::shipper/"+shipper, admin, "")
	if status != 200 {
		t.Fatalf("revoke sa::shipper's token: got %d %v, want 200", status, c)
	}
	for _, tc := range []request{
		{"revoked token on /ingest/", "GET", "/ingest/x", "", []string{"Authorization: Bearer " + shipper}, 401, "", "", ""},
		{"revoked token on /read/", "GET", "/read/x", "", []string{"Authorization: Bearer " + shipper}, 401, "", "", ""},
		{"revoked X-AUTH-TOKEN", "POST", "/ingest/x", "cpu.load 0.5 source=h1\n", []string{"X-AUTH-TOKEN: " + shipper}, 401, "", "", ""},
		{"other tokens still work", "GET", "/read/x", "", []string{"Authorization: Bearer " + reader}, 200, "reader@example.com", "USER_ACCOUNT", "events_management"},
	} {
		t.Run("after revocation/"+tc.name, func(t *testing.T) { check(t, tc) })
	}

	// Past the invalid-token budget of one client (600 a minute by default), tokenward
	// refuses it with 401 and Retry-After, which auth_request passes on as a 401 (a 429
	// would reach the caller as a 500). The client is 127.0.0.2: behind nginx, the limit
	// keys on the forwarded address, so another client (127.0.0.3) is not refused, and a
	// valid token from the limited client never is.
	limited, other := clientFrom(t, "127.0.0.2"), clientFrom(t, "127.0.0.3")
	sawLimit := false
	for i := 0; i < 700 && !sawLimit; i++ {
		status, header, _, raw := throughWith(t, limited, proxy, "GET", "/read/x", "", []string{"Authorization: Bearer not-a-token"})
		if status != 401 {
			t.Fatalf("invalid token %d through nginx: %d, want 401 (body %q)", i+1, status, raw)
		}
		sawLimit = header.Get("Retry-After") != ""
	}
	if !sawLimit {
		t.Errorf("700 invalid tokens through nginx, and no 401 with Retry-After")
	}
	if _, header, _, _ := throughWith(t, other, proxy, "GET", "/read/x", "", []string{"Authorization: Bearer not-a-token"}); header.Get("Retry-After") != "" {
		t.Errorf("another client behind the same nginx was limited too: the limit keys on nginx's address")
	}
	if status, _, echo, _ := throughWith(t, limited, proxy, "GET", "/read/x", "", []string{"Authorization: Bearer " + reader}); status != 200 || echo.Account != "reader@example.com" {
		t.Errorf("a valid token from the limited client: %d %+v, want 200 for reader@example.com", status, echo)
	}
}

// appEcho is what the application behind nginx saw of a request.
type appEcho struct {
	Method, Path, Body                string
	Account, AccountType, Permissions string
}

// through sends a request to nginx and returns the status, the response headers and, for a
// 200, what the application echoed, and the raw body.
func through(t *testing.T, base, method, path, body string, headers []string) (int, http.Header, appEcho, string) {
	t.Helper()
	return throughWith(t, http.DefaultClient, base, method, path, body, headers)
}

// clientFrom returns an HTTP client whose connections come from the loopback address ip,
// to play one of several clients behind the proxy.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	transport := &http.Transport{DialContext: dialer.DialContext}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport}
}

// throughWith is through with a client of the caller's.
func throughWith(t *testing.T, client *http.Client, base, method, path, body string, headers []string) (int, http.Header, appEcho, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s through nginx: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s through nginx: reading the body: %v", method, path, err)
	}
	var echo appEcho
	if res.StatusCode == 200 {
		if err := json.Unmarshal(raw, &echo); err != nil {
			t.Fatalf("%s %s through nginx: 200 without the application's answer: %q", method, path, raw)
		}
	}
	return res.StatusCode, res.Header, echo, string(raw)
}

// awaitVerify asks tokenward's /auth/verify about a token until it answers 200, for at
// most PropagationBound, and returns the last status.
func awaitVerify(t *testing.T, base, secret string) int {
	t.Helper()
	deadline := time.Now().Add(PropagationBound)
	for {
		req, _ := http.NewRequest("GET", base+"/auth/verify", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET /auth/verify: %v", err)
		}
		res.Body.Close()
		if res.StatusCode == 200 || time.Now().After(deadline) {
			return res.StatusCode
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// findNginx returns the nginx binary. Without one the test is skipped, except under
// CI=true, where CI installs Debian's nginx and a missing one is a failure.
func findNginx(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nginx is not installed (apt-get install -y nginx); under CI=true this is a failure, not a skip")
	}
	t.Skip("nginx is not installed (apt-get install -y nginx)")
	return ""
}

// nginxConf is the forward-auth configuration docs/forward-auth.md shows, plus what keeps
// a test nginx inside its temporary prefix: every log and temporary file goes there.
const nginxConf = `worker_processes 1;
error_log {{prefix}}/error.log notice;
events { worker_connections 128; }

http {
    access_log {{prefix}}/access.log;
    client_body_temp_path {{prefix}}/client_body_temp;
    proxy_temp_path {{prefix}}/proxy_temp;
    fastcgi_temp_path {{prefix}}/fastcgi_temp;
    uwsgi_temp_path {{prefix}}/uwsgi_temp;
    scgi_temp_path {{prefix}}/scgi_temp;

    upstream tokenward { server {{tokenward}}; }
    upstream app { server {{app}}; }

    server {
        listen {{listen}};

        # Needs a token holding the ingestion permission.
        location /ingest/ {
            auth_request /_tokenward/ingestion;
            auth_request_set $tokenward_account $upstream_http_x_tokenward_account;
            auth_request_set $tokenward_account_type $upstream_http_x_tokenward_account_type;
            auth_request_set $tokenward_permissions $upstream_http_x_tokenward_permissions;
            auth_request_set $tokenward_retry_after $upstream_http_retry_after;
            add_header Retry-After $tokenward_retry_after always;
            proxy_set_header X-Tokenward-Account $tokenward_account;
            proxy_set_header X-Tokenward-Account-Type $tokenward_account_type;
            proxy_set_header X-Tokenward-Permissions $tokenward_permissions;
            proxy_pass http://app;
        }

        # Needs any valid token.
        location /read/ {
            auth_request /_tokenward/verify;
            auth_request_set $tokenward_account $upstream_http_x_tokenward_account;
            auth_request_set $tokenward_account_type $upstream_http_x_tokenward_account_type;
            auth_request_set $tokenward_permissions $upstream_http_x_tokenward_permissions;
            auth_request_set $tokenward_retry_after $upstream_http_retry_after;
            add_header Retry-After $tokenward_retry_after always;
            proxy_set_header X-Tokenward-Account $tokenward_account;
            proxy_set_header X-Tokenward-Account-Type $tokenward_account_type;
            proxy_set_header X-Tokenward-Permissions $tokenward_permissions;
            proxy_pass http://app;
        }

        location = /_tokenward/ingestion {
            internal;
            proxy_pass http://tokenward/auth/verify?permission=ingestion;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }

        location = /_tokenward/verify {
            internal;
            proxy_pass http://tokenward/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
    }
}
`

// startNginx runs nginx in the foreground on a free loopback port, proxying to app behind
// tokenward's forward auth, and returns its base URL. It stops nginx at cleanup and prints
// nginx's error log when the test failed.
func startNginx(t *testing.T, nginx, tokenwardURL, appURL string) string {
	t.Helper()
	return startNginxConf(t, nginx, nginxConf, tokenwardURL, appURL)
}

// startNginxConf is startNginx with another configuration (nginxConf's placeholders).
func startNginxConf(t *testing.T, nginx, nginxConf, tokenwardURL, appURL string) string {
	t.Helper()
	prefix := t.TempDir()
	hostOf := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return u.Host
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		listen, err := freeLoopbackAddr()
		if err != nil {
			t.Fatal(err)
		}
		conf := strings.NewReplacer("{{prefix}}", prefix, "{{listen}}", listen,
			"{{tokenward}}", hostOf(tokenwardURL), "{{app}}", hostOf(appURL)).Replace(nginxConf)
		if err := os.WriteFile(filepath.Join(prefix, "nginx.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		errorLog := filepath.Join(prefix, "error.log")
		os.Remove(errorLog)
		cmd := exec.Command(nginx, "-p", prefix, "-e", errorLog, "-c", filepath.Join(prefix, "nginx.conf"),
			"-g", "daemon off; pid "+filepath.Join(prefix, "nginx.pid")+";")
		output := &testkit.Buffer{}
		cmd.Stdout, cmd.Stderr = output, output
		// Its own process group, so that SIGKILL reaches the workers too.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nginx: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()

		lastErr = waitListening(listen, done, 10*time.Second)
		if lastErr == nil {
			t.Cleanup(func() {
				stopNginx(t, cmd, done)
				if t.Failed() {
					logText, _ := os.ReadFile(errorLog)
					t.Logf("nginx output:\n%s\nnginx error log:\n%s", output.String(), logText)
				}
			})
			return "http://" + listen
		}
		stopNginx(t, cmd, done)
		logText, _ := os.ReadFile(errorLog)
		if !strings.Contains(string(logText)+output.String(), "Address already in use") {
			t.Fatalf("nginx did not start: %v\nnginx output:\n%s\nnginx error log:\n%s", lastErr, output.String(), logText)
		}
	}
	t.Fatalf("nginx did not start after 5 ports: %v", lastErr)
	return ""
}

// freeLoopbackAddr returns a loopback address whose port was free a moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitListening polls addr until it accepts a connection, the process exits, or timeout.
func waitListening(addr string, done <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-done:
			return fmt.Errorf("nginx exited: %v", err)
		default:
		}
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v: %w", addr, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopNginx asks nginx to finish gracefully (SIGQUIT), then kills its process group.
func stopNginx(t *testing.T, cmd *exec.Cmd, done chan error) {
	pgid := cmd.Process.Pid
	select {
	case err := <-done: // already exited; reap any worker left behind
		done <- err
		syscall.Kill(-pgid, syscall.SIGKILL)
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Logf("nginx did not stop within 5s of SIGQUIT; killing it")
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Logf("kill nginx's process group: %v", err)
	}
}
