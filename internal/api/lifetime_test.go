package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestTokenExpiry: a token generated with expiresInSeconds carries expiresAt, answers with
// Tokenward-Token-Expires, works until its expiry instant and from that instant fails with
// the same 401 as a revoked token, on the API and in forward auth; neverExpires and an
// unchanged client's bare request give a token without expiry when no policy is set.
func TestTokenExpiry(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		jane := e.user("jane@example.com", tokenward.TokenManagement)
		start := e.clock.Now().UTC().Truncate(time.Millisecond)

		tokens := e.do("POST", "/api/v2/apitoken", `{"tokenName":"short","expiresInSeconds":2}`, bearer(jane)).tokens(t)
		short := tokens[len(tokens)-1]
		if short.ExpiresAt == nil || *short.ExpiresAt != start.Add(2*time.Second).UnixMilli() {
			t.Fatalf("expiresAt = %v, want %d", short.ExpiresAt, start.Add(2*time.Second).UnixMilli())
		}
		secret := e.remember(short.TokenID)
		want := start.Add(2 * time.Second).Format(time.RFC3339)
		for _, path := range []string{"/api/v2/apitoken", "/auth/verify"} {
			res := e.do("GET", path, "", bearer(secret))
			if res.Status != 200 || res.Header.Get("Tokenward-Token-Expires") != want {
				t.Errorf("GET %s with the short-lived token: %d, Tokenward-Token-Expires %q; want 200 and %q",
					path, res.Status, res.Header.Get("Tokenward-Token-Expires"), want)
			}
		}
		if h := e.do("GET", "/api/v2/apitoken", "", bearer(jane)).Header.Get("Tokenward-Token-Expires"); h != "" {
			t.Errorf("a token without expiry answers Tokenward-Token-Expires %q", h)
		}
		e.clock.Advance(2*time.Second - time.Millisecond)
		if res := e.do("GET", "/auth/verify", "", bearer(secret)); res.Status != 200 {
			t.Errorf("a millisecond before its expiry: %d, want 200", res.Status)
		}
		e.clock.Advance(time.Millisecond)
		for _, path := range []string{"/api/v2/apitoken", "/auth/verify"} {
			if res := e.do("GET", path, "", bearer(secret)); res.Status != 401 {
				t.Errorf("GET %s at its expiry: %d, want 401", path, res.Status)
			}
		}

		for _, body := range []string{``, `{}`, `{"tokenName":"forever","neverExpires":true}`} {
			tokens := e.do("POST", "/api/v2/apitoken", body, bearer(jane)).tokens(t)
			if last := tokens[len(tokens)-1]; last.ExpiresAt != nil {
				t.Errorf("POST %q without a policy: expiresAt %d, want null", body, *last.ExpiresAt)
			}
		}
		for _, body := range []string{`{"expiresInSeconds":0}`, `{"expiresInSeconds":-5}`, `{"expiresInSeconds":5,"neverExpires":true}`} {
			if res := e.do("POST", "/api/v2/apitoken", body, bearer(jane)); res.Status != 400 {
				t.Errorf("POST %s: %d, want 400", body, res.Status)
			}
		}
	})
}

// TestTokenPolicy: the lifetime policy gives bare requests its default, refuses a lifetime
// above its maximum (naming it) and a token that never expires, counts in a dry run what a
// new maximum does to existing tokens without changing them, and then applies it to them,
// service accounts' separately from users'.
func TestTokenPolicy(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
		e.user("jane@example.com", tokenward.TokenManagement)
		e.serviceAccount("sa::bot", tokenward.Ingestion)
		now := e.clock.Now().UTC().Truncate(time.Millisecond)

		var policy struct {
			UserTokens struct {
				Default *int64 `json:"defaultLifetimeSeconds"`
				Max     *int64 `json:"maxLifetimeSeconds"`
			} `json:"userTokens"`
			TokenFormat string `json:"tokenFormat"`
		}
		e.do("GET", "/api/v2/apitoken/policy", "", bearer(admin)).object(t, &policy)
		if policy.UserTokens.Default != nil || policy.UserTokens.Max != nil || policy.TokenFormat != "uuid" {
			t.Errorf("the initial policy = %+v, want no limits and uuid", policy)
		}

		set := `{"userTokens":{"defaultLifetimeSeconds":600,"maxLifetimeSeconds":3600},"serviceAccountTokens":{}}`
		var effect struct {
			Affected struct{ ExpireSooner int } `json:"affected"`
		}
		e.do("PUT", "/api/v2/apitoken/policy?dryRun=true", set, bearer(admin)).object(t, &effect)
		if effect.Affected.ExpireSooner != 2 { // admin's and jane's; not sa::bot's
			t.Errorf("dry run: expireSooner = %d, want 2", effect.Affected.ExpireSooner)
		}
		if tokens := e.do("GET", "/api/v2/apitoken", "", bearer(admin)).tokens(t); tokens[0].ExpiresAt != nil {
			t.Errorf("the dry run changed a token: expiresAt %d", *tokens[0].ExpiresAt)
		}
		e.do("PUT", "/api/v2/apitoken/policy", set, bearer(admin)).object(t, &effect)
		if effect.Affected.ExpireSooner != 2 {
			t.Errorf("expireSooner = %d, want 2", effect.Affected.ExpireSooner)
		}
		hour := now.Add(time.Hour).UnixMilli()
		if tokens := e.do("GET", "/api/v2/apitoken", "", bearer(admin)).tokens(t); tokens[0].ExpiresAt == nil || *tokens[0].ExpiresAt != hour {
			t.Errorf("an existing token after the new maximum: expiresAt %v, want %d", tokens[0].ExpiresAt, hour)
		}
		if res := e.do("GET", "/auth/verify", "", bearer(admin)); res.Header.Get("Tokenward-Token-Expires") != now.Add(time.Hour).Format(time.RFC3339) {
			t.Errorf("forward auth after the new maximum: Tokenward-Token-Expires %q", res.Header.Get("Tokenward-Token-Expires"))
		}

		tokens := e.do("POST", "/api/v2/apitoken", ``, bearer(admin)).tokens(t)
		if last := tokens[len(tokens)-1]; last.ExpiresAt == nil || *last.ExpiresAt != now.Add(10*time.Minute).UnixMilli() {
			t.Errorf("a bare request under the policy: expiresAt %v, want the 600 s default", last.ExpiresAt)
		}
		for _, body := range []string{`{"expiresInSeconds":3601}`, `{"neverExpires":true}`} {
			res := e.do("POST", "/api/v2/apitoken", body, bearer(admin))
			if _, msg, _ := res.container(t); res.Status != 400 || !strings.Contains(msg, "3600") && !strings.Contains(msg, "1h0m0s") {
				t.Errorf("POST %s above the maximum: %d %q, want 400 naming the limit", body, res.Status, msg)
			}
		}
		// Service-account tokens are not under the users' limits.
		var sa []struct {
			ExpiresAt *int64 `json:"expiresAt"`
		}
		res := e.do("POST", "/api/v2/apitoken/serviceaccount/sa::bot", `{"tokenName":"main","neverExpires":true}`, bearer(admin))
		_, _, payload := res.container(t)
		if err := json.Unmarshal(payload, &sa); err != nil || res.Status != 200 || sa[len(sa)-1].ExpiresAt != nil {
			t.Errorf("a service-account token that never expires: %d %s", res.Status, payload)
		}
		for _, body := range []string{
			`{"userTokens":{"defaultLifetimeSeconds":7200,"maxLifetimeSeconds":3600}}`,
			`{"userTokens":{"maxLifetimeSeconds":0}}`,
			`{"userTokens":{"idleTimeoutSeconds":60}}`,
			`{"tokenFormat":"prefixed"}`,
		} {
			if res := e.do("PUT", "/api/v2/apitoken/policy", body, bearer(admin)); res.Status != 400 {
				t.Errorf("PUT policy %s: %d, want 400", body, res.Status)
			}
		}
		page, err := e.service.AuditTrail(context.Background(), e.principal(admin), tokenward.AuditFilter{Action: tokenward.AuditPolicyUpdate})
		if err != nil {
			t.Fatal(err)
		}
		if n := page.Total; n != 1 {
			t.Errorf("%d policy.update events, want 1 (the dry run and refusals record none)", n)
		}
	})
}
