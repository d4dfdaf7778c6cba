package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// doFrom is e.do from the loopback address local (any of 127.0.0.0/8 on Linux): the
// server sees it as the client's address.
func (e *env) doFrom(local, method, path, body string, headers ...string) response {
	e.t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s from %s: %v", method, path, local, err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.validate(req, res, got)
	return response{Status: res.StatusCode, Header: res.Header, Body: got}
}

// secondInstance is another API instance over e's database, with its own index, as a
// second server behind a load balancer. Its index follows the changes table when the
// test calls catchUp (the poll would, within its interval).
type secondInstance struct {
	*env
}

func (e *env) secondInstance(engine store.Engine) secondInstance {
	e.t.Helper()
	db, err := store.Open(context.Background(), e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	logger := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	service, verifier := newVerifiedService(e.t, db, e.clock.Now, logger)
	server := api.New(service, api.Config{Org: "acme", Logger: logger})
	srv := httptest.NewServer(server)
	e.t.Cleanup(srv.Close)
	return secondInstance{&env{t: e.t, url: srv.URL, dsn: e.dsn, server: server, service: service, logs: e.logs, router: e.router,
		clock: e.clock, verifier: verifier}}
}

func (in secondInstance) catchUp() {
	in.t.Helper()
	if err := in.verifier.CatchUp(context.Background()); err != nil {
		in.t.Fatalf("second instance: CatchUp: %v", err)
	}
}

// outsideEvents returns the audit trail's token.used_outside_allowed_networks events once
// the background writes are done.
func (e *env) outsideEvents(admin string) []tokenward.AuditEvent {
	e.t.Helper()
	e.service.WaitReports()
	page, err := e.service.AuditTrail(context.Background(), e.principal(admin),
		tokenward.AuditFilter{Action: tokenward.AuditTokenOutsideNetworks, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	// Each is an event for webhooks too, with no actor.
	db, err := store.Open(context.Background(), e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	events, err := db.Events(context.Background(), tokenward.EventTokenOutsideNetworks)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(events) != len(page.Items) {
		e.t.Errorf("%d %s audit events but %d events for webhooks", len(page.Items), tokenward.AuditTokenOutsideNetworks, len(events))
	}
	for _, raw := range events {
		if !strings.Contains(string(raw), `"actor":null`) {
			e.t.Errorf("event with an actor: %s", raw)
		}
	}
	return page.Items
}

// TestTokenBoundToNetworks: a token bound to 127.0.0.1/32 works from 127.0.0.1 and gets
// the invalid token's 401 from 127.0.0.2, in the API and in forward auth (through a
// trusted X-Forwarded-For too); the refusal is audited once a minute per token; PUT moves
// it to other networks or anywhere, and a second instance follows.
func TestTokenBoundToNetworks(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnvWith(t, engine, func(c *api.Config) { c.TrustForwardedFor = false })
		admin := e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
		res := e.do("POST", "/api/v2/apitoken", `{"tokenName":"bound","allowedCidrs":["127.0.0.1"]}`, bearer(admin))
		tokens := res.tokens(t)
		created := tokens[len(tokens)-1]
		if created.AllowedCidrs == nil || !slices.Equal(*created.AllowedCidrs, []string{"127.0.0.1/32"}) || created.Permissions != nil {
			t.Fatalf("generated allowedCidrs %v, permissions %v; want [127.0.0.1/32], null", created.AllowedCidrs, created.Permissions)
		}
		bound := e.remember(created.TokenID)
		invalid := e.do("GET", "/api/v2/apitoken", "", bearer(tokenward.NewSecret().Reveal()))
		second := e.secondInstance(engine)
		second.catchUp()

		works := func(in *env, step, from string, want bool, headers ...string) {
			t.Helper()
			for _, path := range []string{"/api/v2/apitoken", "/auth/verify"} {
				res := in.doFrom(from, "GET", path, "", append(headers, bearer(bound))...)
				switch {
				case want && res.Status != http.StatusOK:
					t.Errorf("%s: GET %s from %s = %d %s; want 200", step, path, from, res.Status, res.Body)
				case !want && path == "/api/v2/apitoken" && (res.Status != http.StatusUnauthorized || string(res.Body) != string(invalid.Body)):
					t.Errorf("%s: GET %s from %s = %d %s; want the invalid token's 401 %s", step, path, from, res.Status, res.Body, invalid.Body)
				case !want && res.Status != http.StatusUnauthorized:
					t.Errorf("%s: GET %s from %s = %d; want 401", step, path, from, res.Status)
				}
			}
		}
		works(e.env(), "generated", "127.0.0.1", true)
		works(e.env(), "generated", "127.0.0.2", false)
		works(second.env, "generated, second instance", "127.0.0.1", true)
		works(second.env, "generated, second instance", "127.0.0.2", false)
		// Untrusted, X-Forwarded-For is the client's to forge: it counts for nothing.
		works(e.env(), "untrusted forwarded", "127.0.0.2", false, "X-Forwarded-For: 127.0.0.1")

		// Each instance records a token's refusals once a minute: two instances, two events.
		second.service.WaitReports()
		events := e.outsideEvents(admin)
		if len(events) != 2 {
			t.Fatalf("after refusals from 127.0.0.2 on two instances: outside events %+v; want one per instance", events)
		}
		for _, ev := range events {
			if ev.Source != "127.0.0.2" || !strings.Contains(ev.Target, "of admin@example.com") || ev.Actor != "" {
				t.Errorf("outside event %+v; want from 127.0.0.2, naming the token, no actor", ev)
			}
		}
		e.clock.Advance(time.Minute)
		works(e.env(), "a minute later", "127.0.0.2", false)
		if events := e.outsideEvents(admin); len(events) != 3 {
			t.Errorf("a minute later: %d outside events, want 3 (one a minute per token and instance)", len(events))
		}

		id := e.do("GET", "/api/v2/apitoken", "", bearer(admin)).tokens(t)[1].TokenID
		for _, bad := range []struct{ body, want string }{
			{`{"allowedCidrs":["127.0.0.300/32"]}`, `"127.0.0.300/32" is not a CIDR`},
			{`{"allowedCidrs":[]}`, "lists no network"},
			{`{"allowedCidrs":"127.0.0.1"}`, "must be a list"},
			{`{"tokenID":"x"}`, "tokenName is required"},
		} {
			res := e.do("PUT", "/api/v2/apitoken/"+id, bad.body, bearer(admin))
			if _, msg, _ := res.container(t); res.Status != http.StatusBadRequest || !strings.Contains(msg, bad.want) {
				t.Errorf("PUT %s = %d %q; want 400 naming %q", bad.body, res.Status, msg, bad.want)
			}
		}
		works(e.env(), "after refused edits", "127.0.0.1", true)

		edited := e.do("PUT", "/api/v2/apitoken/"+id, `{"allowedCidrs":["127.0.0.2/32", "::1"]}`, bearer(admin)).token(t)
		if edited.AllowedCidrs == nil || !slices.Equal(*edited.AllowedCidrs, []string{"127.0.0.2/32", "::1/128"}) || edited.TokenName != "bound" {
			t.Fatalf("PUT allowedCidrs answered %+v; want [127.0.0.2/32 ::1/128], name kept", edited)
		}
		second.catchUp()
		for _, in := range []*env{e.env(), second.env} {
			works(in, "moved to 127.0.0.2", "127.0.0.2", true)
			works(in, "moved to 127.0.0.2", "127.0.0.1", false)
		}
		e.do("PUT", "/api/v2/apitoken/"+id, `{"tokenName":"anywhere","allowedCidrs":null}`, bearer(admin)).token(t)
		second.catchUp()
		for _, in := range []*env{e.env(), second.env} {
			works(in, "anywhere", "127.0.0.1", true)
			works(in, "anywhere", "127.0.0.2", true)
		}
	})
}

func (e *env) env() *env { return e }

// TestForwardAuthChecksTheForwardedAddress: behind a trusted proxy, forward auth judges a
// bound token by the X-Forwarded-For address, not by the proxy's.
func TestForwardAuthChecksTheForwardedAddress(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnvWith(t, engine, func(c *api.Config) { c.TrustForwardedFor = true })
		admin := e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
		e.do("GET", "/api/v2/apitoken", "", bearer(admin)) // a logged request, for the log check
		secret, _, err := tokenward.NewOperator(e.service).GenerateTokenFor(context.Background(), "admin@example.com", "proxied",
			tokenward.Lifetime{}, mustRestrict(t, []string{"192.0.2.0/24"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		bound := e.remember(secret.Reveal())
		for _, c := range []struct {
			from, forwarded string
			want            int
		}{
			{"127.0.0.1", "192.0.2.10", http.StatusOK},
			{"127.0.0.2", "198.51.100.1, 192.0.2.77", http.StatusOK}, // the last hop is the proxy's word
			{"127.0.0.1", "192.0.2.10, 198.51.100.1", http.StatusUnauthorized},
			{"127.0.0.1", "", http.StatusUnauthorized}, // the proxy's own address is outside
			{"127.0.0.1", "not-an-address", http.StatusUnauthorized},
		} {
			headers := []string{bearer(bound)}
			if c.forwarded != "" {
				headers = append(headers, "X-Forwarded-For: "+c.forwarded)
			}
			if res := e.doFrom(c.from, "GET", "/auth/verify", "", headers...); res.Status != c.want {
				t.Errorf("forward auth from %s forwarding %q = %d; want %d", c.from, c.forwarded, res.Status, c.want)
			}
		}
	})
}

// mustRestrict returns the restrictions of a CIDR list and permission names (nil: none).
func mustRestrict(t *testing.T, cidrs []string, perms []string) tokenward.Restrictions {
	t.Helper()
	networks, err := tokenward.ParseAllowedCIDRs(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	r := tokenward.Restrictions{Networks: networks}
	if perms != nil {
		set, err := tokenward.ParsePermissionList(perms)
		if err != nil {
			t.Fatal(err)
		}
		r.Permissions = &set
	}
	return r
}

// TestScopedTokens: a token that carries a subset of its account's permissions is refused
// (403) what its account has and it lacks, in the API and forward auth; it loses a
// permission the moment its account does, on this instance and (after its catch-up) on
// another; a token it generates carries its scope, not more.
func TestScopedTokens(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement)
		e.user("jane@example.com", tokenward.UserManagement, tokenward.TokenManagement, tokenward.Ingestion)
		jane := e.token("jane@example.com")
		res := e.do("POST", "/api/v2/apitoken", `{"tokenName":"ci","permissions":["ingestion","TOKEN_MANAGEMENT"]}`, bearer(jane))
		tokens := res.tokens(t)
		created := tokens[len(tokens)-1]
		if created.Permissions == nil || !slices.Equal(*created.Permissions, []string{"token_management", "ingestion"}) || created.AllowedCidrs != nil {
			t.Fatalf("generated permissions %v, allowedCidrs %v; want [token_management ingestion], null", created.Permissions, created.AllowedCidrs)
		}
		scoped := e.remember(created.TokenID)
		second := e.secondInstance(engine)
		second.catchUp()

		check := func(in *env, step string, wantHeader string, statuses map[string]int) {
			t.Helper()
			res := in.do("GET", "/auth/verify", "", bearer(scoped))
			if got := res.Header.Get("X-Tokenward-Permissions"); res.Status != http.StatusOK || got != wantHeader {
				t.Errorf("%s: forward auth = %d, X-Tokenward-Permissions %q; want 200, %q", step, res.Status, got, wantHeader)
			}
			for path, want := range statuses {
				if res := in.do("GET", path, "", bearer(scoped)); res.Status != want {
					t.Errorf("%s: GET %s = %d %s; want %d", step, path, res.Status, res.Body, want)
				}
			}
		}
		for _, in := range []*env{e.env(), second.env} {
			check(in, "scoped", "token_management,ingestion", map[string]int{
				"/api/v2/apitoken": 200, "/api/v2/account": 403, "/auth/verify?permission=token_management": 200, "/auth/verify?permission=user_management": 403, "/auth/verify?permission=ingestion": 200})
		}
		if res := e.do("GET", "/api/v2/account", "", bearer(jane)); res.Status != http.StatusOK {
			t.Fatalf("the account's unscoped token: GET /api/v2/account = %d; want 200 (else the 403 above proves nothing)", res.Status)
		}

		// A scoped token passes its scope on; it cannot mint more than itself.
		minted := e.do("POST", "/api/v2/apitoken", `{"tokenName":"child"}`, bearer(scoped)).tokens(t)
		child := minted[len(minted)-1]
		e.remember(child.TokenID)
		if child.Permissions == nil || !slices.Equal(*child.Permissions, []string{"token_management", "ingestion"}) {
			t.Errorf("token generated by a scoped token: permissions %v; want its scope [token_management ingestion]", child.Permissions)
		}
		before := len(e.do("GET", "/api/v2/apitoken", "", bearer(jane)).tokens(t))
		for _, bad := range []struct{ secret, body, want string }{
			{scoped, `{"permissions":["user_management"]}`, "the token this request authenticates with does not hold user_management"},
			{jane, `{"permissions":["saml_sso_management"]}`, "your account does not hold saml_sso_management"},
			{jane, `{"permissions":["bogus"]}`, `unknown permission "bogus"`},
			{jane, `{"allowedCidrs":["10.0.0.0/33"]}`, `"10.0.0.0/33" is not a CIDR`},
			{jane, `{"allowedCidrs":["fe80::1%eth0"]}`, `"fe80::1%eth0" is not a CIDR`},
			{jane, `{"allowedCidrs":[]}`, "lists no network"},
			{jane, `{"allowedCidrs":[` + strings.Repeat(`"10.0.0.1",`, 32) + `"10.0.0.2"]}`, "at most 32"},
		} {
			res := e.do("POST", "/api/v2/apitoken", bad.body, bearer(bad.secret))
			if _, msg, _ := res.container(t); res.Status != http.StatusBadRequest || !strings.Contains(msg, bad.want) {
				t.Errorf("POST %s = %d %q; want 400 naming %q", bad.body, res.Status, msg, bad.want)
			}
		}
		if after := len(e.do("GET", "/api/v2/apitoken", "", bearer(jane)).tokens(t)); after != before {
			t.Errorf("refused generations left %d tokens, want %d", after, before)
		}

		// The account loses token_management: its scoped token loses it at once.
		less := tokenward.NewPermissionSet(tokenward.UserManagement, tokenward.Ingestion)
		if _, err := e.service.UpdateUser(context.Background(), e.principal(admin), "jane@example.com", tokenward.UserWrite{Permissions: &less}); err != nil {
			t.Fatal(err)
		}
		second.catchUp()
		for _, in := range []*env{e.env(), second.env} {
			check(in, "account lost token_management", "ingestion", map[string]int{
				"/auth/verify?permission=token_management": 403, "/auth/verify?permission=ingestion": 200, "/api/v2/account": 403})
			if res := in.do("POST", "/api/v2/apitoken", "", bearer(scoped)); res.Status != http.StatusForbidden {
				t.Errorf("account lost token_management: generating with the scoped token = %d; want 403", res.Status)
			}
		}
		if got := e.do("GET", "/api/v2/apitoken/customertokens", "", bearer(admin)); got.Status != http.StatusOK ||
			!strings.Contains(string(got.Body), `"permissions":["token_management","ingestion"]`) {
			t.Errorf("org table: %d, the scoped token's permissions not listed as chosen: %s", got.Status, got.Body)
		}
	})
}

// TestServiceAccountTokenRestrictions: an administrator generates a service account's
// token within the account's permissions (400 naming one it lacks) and edits its networks
// by PUT.
func TestServiceAccountTokenRestrictions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement)
		e.serviceAccount("sa::bot", tokenward.Ingestion, tokenward.DashboardManagement)
		base := "/api/v2/apitoken/serviceaccount/sa::bot"
		res := e.do("POST", base, `{"tokenName":"x","permissions":["ingestion","user_management"]}`, bearer(admin))
		if _, msg, _ := res.container(t); res.Status != http.StatusBadRequest || !strings.Contains(msg, "service account sa::bot does not hold user_management") {
			t.Errorf("SA token with a permission the account lacks = %d %q; want 400 naming user_management", res.Status, msg)
		}
		tokens := e.do("POST", base, `{"tokenName":"ci","permissions":["ingestion"],"allowedCidrs":["2001:DB8::1/32","127.0.0.1"]}`, bearer(admin)).tokens(t)
		created := tokens[len(tokens)-1]
		secret := e.remember(created.TokenID)
		if created.AllowedCidrs == nil || !slices.Equal(*created.AllowedCidrs, []string{"127.0.0.1/32", "2001:db8::/32"}) {
			t.Errorf("SA token allowedCidrs %v; want [127.0.0.1/32 2001:db8::/32] (normalized, sorted)", created.AllowedCidrs)
		}
		if res := e.doFrom("127.0.0.1", "GET", "/auth/verify", "", bearer(secret)); res.Header.Get("X-Tokenward-Permissions") != "ingestion" {
			t.Errorf("SA scoped token: forward auth %d, permissions %q; want ingestion", res.Status, res.Header.Get("X-Tokenward-Permissions"))
		}
		listed := e.do("GET", base, "", bearer(admin)).tokens(t)
		id := listed[len(listed)-1].TokenID
		edited := e.do("PUT", fmt.Sprintf("%s/%s", base, id), `{"allowedCidrs":["127.0.0.2"]}`, bearer(admin)).token(t)
		if edited.AllowedCidrs == nil || !slices.Equal(*edited.AllowedCidrs, []string{"127.0.0.2/32"}) || edited.TokenName != "ci" {
			t.Errorf("PUT SA token allowedCidrs = %+v; want [127.0.0.2/32], name kept", edited)
		}
		if res := e.doFrom("127.0.0.1", "GET", "/auth/verify", "", bearer(secret)); res.Status != http.StatusUnauthorized {
			t.Errorf("after moving the SA token to 127.0.0.2: forward auth from 127.0.0.1 = %d; want 401", res.Status)
		}
	})
}
