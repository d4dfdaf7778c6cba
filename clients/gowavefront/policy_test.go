package gowavefront_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	wavefront "github.com/WavefrontHQ/go-wavefront-management-api/v2"

	"github.com/tokenward/tokenward/internal/testkit"
)

// TestUnchangedClientsUnderLifetimePolicy (issue 14, "Done means"): the unchanged Go client
// v2.2.1 (a service account's token, as Terraform's wavefront_service_account makes it)
// and a bare POST /api/v2/apitoken (no body, no Content-Type: a script of Wavefront's day)
// work when no lifetime policy is set, their tokens never expiring, and keep working once
// a policy is set (reference §13), their new tokens then getting the policy's default
// expiry, service accounts' and users' each their own; the tokens authenticate and
// announce their expiry in Tokenward-Token-Expires.
func TestUnchangedClientsUnderLifetimePolicy(t *testing.T) {
	onEngines(t, testUnchangedClientsUnderLifetimePolicy)
}

func testUnchangedClientsUnderLifetimePolicy(t *testing.T, dsn string) {
	p := startProvider(t, dsn)
	admin := cliToken(t, p.dir, p.dsn, "admin@localhost")
	awaitAuthenticated(t, p.srv, admin, "admin@localhost")
	const sa = "sa::policy-test"
	if _, err := p.client.ServiceAccounts().Create(&wavefront.ServiceAccountOptions{ID: sa, Active: true, Permissions: []string{"ingestion"}}); err != nil {
		t.Fatalf("ServiceAccounts().Create: %v", err)
	}

	// generate makes a token both ways and returns, for each, its secret and expiresAt
	// (0 for null) as the server lists it, and the time before the request.
	type made struct {
		how, secret string
		expiresAt   int64
		before      time.Time
	}
	generate := func(step string) []made {
		t.Helper()
		before := time.Now()
		list, err := p.client.Tokens().Create(sa, &wavefront.TokenOptions{Name: "main"})
		if err != nil {
			t.Fatalf("%s: Tokens().Create with the Go client: %v", step, err)
		}
		client := made{how: "the Go client", secret: list[len(list)-1].ID, before: before}
		if !secretPattern.MatchString(client.secret) {
			t.Fatalf("%s: the Go client's new token: id %q, want the secret", step, client.secret)
		}
		status, c, raw := send(t, "GET", p.srv.URL+"/api/v2/apitoken/serviceaccount/"+sa, admin, "")
		if status != 200 {
			t.Fatalf("%s: list %s: %d %s", step, sa, status, raw)
		}
		listed := testkit.ResponseList(t, c)
		client.expiresAt = expiresAtOf(t, step, listed[len(listed)-1])

		before = time.Now()
		status, c, raw = send(t, "POST", p.srv.URL+"/api/v2/apitoken", admin, "")
		if status != 200 {
			t.Fatalf("%s: a bare POST /api/v2/apitoken: %d %s, want 200", step, status, raw)
		}
		mine := testkit.ResponseList(t, c)
		last := mine[len(mine)-1]
		bare := made{how: "a bare POST", secret: last["tokenID"].(string), before: before, expiresAt: expiresAtOf(t, step, last)}
		return []made{client, bare}
	}
	// works checks that a token authenticates and what its Tokenward-Token-Expires says.
	works := func(step string, m made) {
		t.Helper()
		req, _ := http.NewRequest("GET", p.srv.URL+"/auth/verify", nil)
		req.Header.Set("Authorization", "Bearer "+m.secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want := ""
		if m.expiresAt != 0 {
			want = time.UnixMilli(m.expiresAt).UTC().Format(time.RFC3339)
		}
		if got := res.Header.Get("Tokenward-Token-Expires"); res.StatusCode != 200 || got != want {
			t.Errorf("%s: the token %s made: /auth/verify %d, Tokenward-Token-Expires %q; want 200, %q", step, m.how, res.StatusCode, got, want)
		}
	}

	for _, m := range generate("no policy") {
		if m.expiresAt != 0 {
			t.Errorf("no policy: the token %s made expires at %d, want never (null)", m.how, m.expiresAt)
		}
		works("no policy", m)
	}

	const saDefault, userDefault = 600, 3600 // seconds
	policy := `{"userTokens":{"defaultLifetimeSeconds":3600},"serviceAccountTokens":{"defaultLifetimeSeconds":600}}`
	if status, _, raw := send(t, "PUT", p.srv.URL+"/api/v2/apitoken/policy", admin, policy); status != 200 {
		t.Fatalf("PUT policy: %d %s", status, raw)
	}
	for i, m := range generate("under a policy") {
		lifetime := time.Duration([]int{saDefault, userDefault}[i]) * time.Second
		earliest, latest := m.before.Add(lifetime).Add(-time.Second), time.Now().Add(lifetime).Add(time.Second)
		if at := time.UnixMilli(m.expiresAt); m.expiresAt == 0 || at.Before(earliest) || at.After(latest) {
			t.Errorf("under a policy: the token %s made expires at %d, want the default, %v after its generation", m.how, m.expiresAt, lifetime)
		}
		works("under a policy", m)
	}
	// The client still reads the account and its tokens, whatever the new fields.
	acct, err := p.client.ServiceAccounts().GetByID(sa)
	if err != nil || len(acct.Tokens) != 2 {
		t.Errorf("ServiceAccounts().GetByID under a policy: %+v, %v; want the account with its 2 tokens", acct, err)
	}
}

// expiresAtOf returns a listed token's expiresAt, 0 for null; absent is an error.
func expiresAtOf(t *testing.T, step string, tok map[string]any) int64 {
	t.Helper()
	v, ok := tok["expiresAt"]
	if !ok {
		t.Fatalf("%s: a token without expiresAt: %v", step, tok)
	}
	if v == nil {
		return 0
	}
	return int64(v.(float64))
}

// send sends a request with a bearer token and, when body is not empty, a JSON body; with
// an empty one, no body and no Content-Type at all. It returns the status, the decoded
// container and the raw body.
func send(t *testing.T, method, url, token, body string) (int, map[string]any, string) {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s %s: body is not JSON: %q", method, url, raw)
	}
	return res.StatusCode, c, string(raw)
}
