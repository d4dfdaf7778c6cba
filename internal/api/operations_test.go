package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/limit"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

func TestForwardAuth(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement, tokenward.Ingestion)
		bot := e.serviceAccount("sa::shipper", tokenward.Ingestion)
		plain := e.user("plain@example.com")
		revoked := e.token("plain@example.com")
		e.do("DELETE", "/api/v2/apitoken/"+revoked, "", bearer(plain)).tokens(t)

		tests := []struct {
			name, method, path string
			headers            []string
			want               int
			wantAccount        string
			wantType           string
		}{
			{"user, no permission asked", "GET", "/auth/verify", []string{bearer(plain)}, 200, "plain@example.com", "USER_ACCOUNT"},
			{"service account with the permission", "GET", "/auth/verify?permission=ingestion", []string{bearer(bot)}, 200, "sa::shipper", "SERVICE_ACCOUNT"},
			{"permission in a header", "POST", "/auth/verify", []string{bearer(bot), "X-Tokenward-Permission: ingestion"}, 200, "sa::shipper", "SERVICE_ACCOUNT"},
			{"X-AUTH-TOKEN", "GET", "/auth/verify", []string{"X-AUTH-TOKEN: " + admin}, 200, "admin@example.com", "USER_ACCOUNT"},
			{"Envoy path prefix", "PUT", "/auth/verify/points?x=1", []string{bearer(bot)}, 200, "sa::shipper", "SERVICE_ACCOUNT"},
			{"lacking the permission", "GET", "/auth/verify?permission=ingestion", []string{bearer(plain)}, 403, "", ""},
			{"lacking user_management", "GET", "/auth/verify?permission=user_management", []string{bearer(bot)}, 403, "", ""},
			{"unknown permission", "GET", "/auth/verify?permission=root", []string{bearer(bot)}, 400, "", ""},
			// Envoy appends the client's query to the check: a client's own ?permission= must
			// not replace the permission the proxy requires in the header.
			{"client query cannot replace the proxy's header", "GET", "/auth/verify?permission=user_management",
				[]string{bearer(plain), "X-Tokenward-Permission: ingestion"}, 403, "", ""},
			{"every named permission must hold", "GET", "/auth/verify?permission=ingestion,user_management",
				[]string{bearer(admin)}, 200, "admin@example.com", "USER_ACCOUNT"},
			{"one of two missing", "GET", "/auth/verify?permission=ingestion&permission=user_management",
				[]string{bearer(bot)}, 403, "", ""},
			{"revoked", "GET", "/auth/verify?permission=ingestion", []string{bearer(revoked)}, 401, "", ""},
			{"no token", "GET", "/auth/verify", nil, 401, "", ""},
			{"garbage", "GET", "/auth/verify", []string{bearer("x")}, 401, "", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := e.do(tc.method, tc.path, "", tc.headers...)
				if res.Status != tc.want {
					t.Fatalf("status %d, want %d (%s)", res.Status, tc.want, res.Body)
				}
				if got := res.Header.Get("X-Tokenward-Account"); got != tc.wantAccount {
					t.Errorf("X-Tokenward-Account = %q, want %q", got, tc.wantAccount)
				}
				if got := res.Header.Get("X-Tokenward-Account-Type"); got != tc.wantType {
					t.Errorf("X-Tokenward-Account-Type = %q, want %q", got, tc.wantType)
				}
				if tc.want == 403 {
					if _, msg, _ := res.container(t); !strings.Contains(msg, "permission") {
						t.Errorf("403 message %q does not name the permission", msg)
					}
				}
			})
		}
		res := e.do("GET", "/auth/verify", "", bearer(bot))
		if got := res.Header.Get("X-Tokenward-Permissions"); got != "ingestion" {
			t.Errorf("X-Tokenward-Permissions = %q, want ingestion", got)
		}
	})
}

func TestOperationsEndpoints(t *testing.T) {
	e := newEnv(t, store.SQLite)
	secret := e.user("jane@example.com")
	e.do("GET", "/auth/verify", "", bearer(secret))
	e.do("GET", "/auth/verify", "", bearer("nope"))
	if res := e.do("GET", "/healthz", ""); res.Status != 200 {
		t.Errorf("healthz: %d", res.Status)
	}
	if res := e.do("GET", "/readyz", ""); res.Status != 200 {
		t.Errorf("readyz: %d", res.Status)
	}
	res := e.do("GET", "/metrics", "")
	body := string(res.Body)
	for _, want := range []string{
		`tokenward_verifications_total{outcome="ok"} 1`,
		`tokenward_verifications_total{outcome="invalid"} 1`,
		`tokenward_forward_auth_decisions_total{decision="allow"} 1`,
		`tokenward_verification_seconds_count 2`,
		`tokenward_http_requests_total{route="GET /readyz",status="200"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestInvalidTokenLimit: failures from one address are limited with 429 and Retry-After,
// while a valid token from that same address is never refused.
func TestInvalidTokenLimit(t *testing.T) {
	e := newEnvWith(t, store.SQLite, func(cfg *api.Config) {
		cfg.InvalidTokens = limit.New(limit.Rule{Burst: 5, Per: time.Minute}, time.Now)
	})
	valid := e.user("jane@example.com")
	for i := range 5 {
		if res := e.do("GET", "/api/v2/apitoken", "", bearer(tokenward.NewSecret().Reveal())); res.Status != 401 {
			t.Fatalf("invalid token %d of 5: %d, want 401", i+1, res.Status)
		}
	}
	res := e.do("GET", "/api/v2/apitoken", "", bearer("not-even-a-token"))
	if res.Status != 429 || res.Header.Get("Retry-After") == "" {
		t.Errorf("6th invalid token: %d, Retry-After %q; want 429 with Retry-After", res.Status, res.Header.Get("Retry-After"))
	}
	res.container(t)
	for _, path := range []string{"/api/v2/apitoken", "/auth/verify"} {
		if res := e.do("GET", path, "", bearer(valid)); res.Status != 200 {
			t.Errorf("valid token on %s from the limited address: %d, want 200", path, res.Status)
		}
	}
	// Forward auth refuses with 401 and Retry-After: nginx's auth_request turns a 429 into
	// a 500.
	limited := e.do("GET", "/auth/verify", "", bearer("garbage"))
	if limited.Status != 401 || limited.Header.Get("Retry-After") == "" {
		t.Errorf("forward auth with an invalid token from the limited address: %d, Retry-After %q; want 401 with Retry-After",
			limited.Status, limited.Header.Get("Retry-After"))
	}
	if _, message, _ := limited.container(t); !strings.Contains(message, "too many requests with invalid tokens") {
		t.Errorf("limited verdict says %q", message)
	}

	// Every answer a browser may see carries the security headers: the API's, and forward
	// auth's refusals (Traefik hands them to the client). A 200 verdict, which the proxy
	// keeps, carries only Cache-Control: no-store.
	browserSees := []struct {
		name string
		res  response
	}{
		{"API answer", e.do("GET", "/api/v2/apitoken", "", bearer(valid))},
		{"API refusal", res},
		{"limited verdict", limited},
		{"verdict without credentials", e.do("GET", "/auth/verify", "")},
		{"verdict below /auth/verify/", e.do("GET", "/auth/verify/app", "")},
	}
	for _, c := range browserSees {
		for _, name := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cache-Control"} {
			if c.res.Header.Get(name) == "" {
				t.Errorf("%s (%d): no %s header", c.name, c.res.Status, name)
			}
		}
	}
	allowed := e.do("GET", "/auth/verify", "", bearer(valid))
	if allowed.Status != 200 || allowed.Header.Get("Cache-Control") != "no-store" || allowed.Header.Get("X-Frame-Options") != "" {
		t.Errorf("200 verdict: %d, Cache-Control %q, X-Frame-Options %q; want 200, no-store and none",
			allowed.Status, allowed.Header.Get("Cache-Control"), allowed.Header.Get("X-Frame-Options"))
	}
	// Requests without credentials are not guesses and are not limited.
	if res := e.do("GET", "/api/v2/apitoken", ""); res.Status != 401 {
		t.Errorf("no credentials: %d, want 401", res.Status)
	}
}
