package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/limit"
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
		// Listed until revoked, saying why it no longer works.
		for _, tok := range e.do("GET", "/api/v2/apitoken", "", bearer(jane)).tokens(t) {
			expired := tok.TokenName == "short"
			if got := tok.Disabled; (got != nil && *got == "expired") != expired || (got == nil) == expired {
				t.Errorf("token %s: disabledReason %v, want expired only for the short one", tok.TokenName, got)
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
			`{"tokenFormat":"base64"}`,
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

// TestTokenRotation: a rotated token keeps its record, name and cap slot and gets a new
// secret that works at once; the old secret works until its grace period ends and not
// after; a second rotation during a grace period ends the first one's overlap; the org
// table and service accounts rotate the same way.
func TestTokenRotation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
		jane := e.user("jane@example.com", tokenward.TokenManagement)
		before := e.do("GET", "/api/v2/apitoken", "", bearer(jane)).tokens(t)
		id := before[0].TokenID
		start := e.clock.Now().UTC().Truncate(time.Millisecond)

		after := e.do("POST", "/api/v2/apitoken/"+id+"/rotate", `{"gracePeriodSeconds":60}`, bearer(jane)).tokens(t)
		rotated := after[len(after)-1]
		if len(after) != len(before) || rotated.TokenName != before[0].TokenName || rotated.TokenID == id {
			t.Fatalf("after rotation: %+v; want the same tokens, the rotated one last with a new secret", after)
		}
		newSecret := e.remember(rotated.TokenID)
		listed := e.do("GET", "/api/v2/apitoken", "", bearer(newSecret)).tokens(t)
		if len(listed) != 1 || listed[0].TokenID != id {
			t.Errorf("the rotated token's record: %+v, want the same public id %s", listed, id)
		}
		for name, secret := range map[string]string{"old": jane, "new": newSecret} {
			if res := e.do("GET", "/auth/verify", "", bearer(secret)); res.Status != 200 {
				t.Errorf("the %s secret during the grace period: %d, want 200", name, res.Status)
			}
		}
		if res := e.do("GET", "/auth/verify", "", bearer(jane)); res.Header.Get("Tokenward-Token-Expires") != start.Add(time.Minute).Format(time.RFC3339) {
			t.Errorf("the old secret's expiry header: %q, want the grace end", res.Header.Get("Tokenward-Token-Expires"))
		}
		e.clock.Advance(time.Minute)
		for range 3 {
			if res := e.do("GET", "/auth/verify", "", bearer(jane)); res.Status != 401 {
				t.Errorf("the old secret after its grace period: %d, want 401", res.Status)
			}
		}
		// Its use is recorded as a possible leak, once a minute however often it is tried,
		// in the background.
		e.service.WaitReports()
		reused, err := e.service.AuditTrail(context.Background(), e.principal(admin), tokenward.AuditFilter{Action: tokenward.AuditTokenReused})
		if err != nil || reused.Total != 1 || len(reused.Items) != 1 || reused.Items[0].Target != id+" of jane@example.com" {
			t.Errorf("token.reused_after_rotation events: %+v, %v; want one about %s", reused.Items, err, id)
		}
		if res := e.do("GET", "/auth/verify", "", bearer(newSecret)); res.Status != 200 {
			t.Errorf("the new secret after the grace period: %d, want 200", res.Status)
		}

		// Twice in a row: only the secret just replaced keeps working.
		second := e.do("POST", "/api/v2/apitoken/"+id+"/rotate", `{"gracePeriodSeconds":3600}`, bearer(newSecret)).tokens(t)
		third := e.do("POST", "/api/v2/apitoken/"+id+"/rotate", `{"gracePeriodSeconds":3600}`, bearer(newSecret)).tokens(t)
		s2, s3 := e.remember(second[len(second)-1].TokenID), e.remember(third[len(third)-1].TokenID)
		for secret, want := range map[string]int{newSecret: 401, s2: 200, s3: 200} {
			if res := e.do("GET", "/auth/verify", "", bearer(secret)); res.Status != want {
				t.Errorf("after two rotations, a secret got %d, want %d", res.Status, want)
			}
		}
		if res := e.do("POST", "/api/v2/apitoken/"+id+"/rotate", `{"gracePeriodSeconds":86401}`, bearer(s3)); res.Status != 400 {
			t.Errorf("a grace period over 24 h: %d, want 400", res.Status)
		}
		if res := e.do("POST", "/api/v2/apitoken/"+id+"/turn", `{}`, bearer(s3)); res.Status != 404 {
			t.Errorf("POST /apitoken/{id}/turn: %d, want 404", res.Status)
		}

		// The org table and a service account's tokens, with no grace: the old secret
		// stops at once.
		bot := e.serviceAccount("sa::bot", tokenward.Ingestion)
		org := e.do("POST", "/api/v2/apitoken/customertokens/"+bot+"/rotate", ``, bearer(admin)).tokens(t)
		botNew := e.remember(org[len(org)-1].TokenID)
		if got := e.do("GET", "/auth/verify", "", bearer(bot)).Status; got != 401 {
			t.Errorf("the old secret of a rotation without grace: %d, want 401", got)
		}
		sa := e.do("POST", "/api/v2/apitoken/serviceaccount/sa::bot/"+botNew+"/rotate", `{"gracePeriodSeconds":10}`, bearer(admin)).tokens(t)
		if len(sa) != 1 || e.do("GET", "/auth/verify", "", bearer(botNew)).Status != 200 ||
			e.do("GET", "/auth/verify", "", bearer(e.remember(sa[0].TokenID))).Status != 200 {
			t.Errorf("a service account's rotation: %+v; want one token, both secrets working", sa)
		}
		page, err := e.service.AuditTrail(context.Background(), e.principal(admin), tokenward.AuditFilter{Action: tokenward.AuditTokenRotate})
		if err != nil || page.Total != 5 {
			t.Errorf("%d token.rotate events (%v), want 5", page.Total, err)
		}
	})
}

// TestLeakResponse: secrets posted by value, without authentication, revoke the live
// tokens among them (a rotated token's replaced secret too) and are audited as leaked; the
// answer is the same 202 whatever was found; too many secrets is a 400; a token revokes
// itself with DELETE /apitoken/self.
func TestLeakResponse(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
		leaked := e.user("jane@example.com", tokenward.TokenManagement)
		kept := e.token("jane@example.com")
		rotated := e.serviceAccount("sa::bot", tokenward.Ingestion)
		e.do("POST", "/api/v2/apitoken/customertokens/"+rotated+"/rotate", `{"gracePeriodSeconds":3600}`, bearer(admin)).tokens(t)

		body := `{"secrets":["` + leaked + `","` + rotated + `","` + tokenward.NewSecret().Reveal() + `","not a secret"],"source":"a public gist"}`
		res := e.do("POST", "/api/v2/apitoken/revoke-leaked", body)
		var received struct{ Received int }
		_, _, payload := res.container(t)
		if err := json.Unmarshal(payload, &received); err != nil || res.Status != 202 || received.Received != 4 {
			t.Fatalf("revoke-leaked: %d %s, want 202 with received 4", res.Status, payload)
		}
		if again := e.do("POST", "/api/v2/apitoken/revoke-leaked", body); again.Status != 202 || string(again.Body) != string(res.Body) {
			t.Errorf("the same report again (nothing live left): %d %s, want the same answer", again.Status, again.Body)
		}
		for secret, want := range map[string]int{leaked: 401, rotated: 401, kept: 200} {
			if got := e.do("GET", "/auth/verify", "", bearer(secret)).Status; got != want {
				t.Errorf("after the report, a secret got %d, want %d", got, want)
			}
		}
		page, err := e.service.AuditTrail(context.Background(), e.principal(admin), tokenward.AuditFilter{Action: tokenward.AuditTokenLeaked})
		if err != nil || page.Total != 2 || !strings.Contains(page.Items[0].Detail, "a public gist") {
			t.Errorf("token.leaked events: %+v, %v; want 2 naming the source", page.Items, err)
		}
		many := `{"secrets":[` + strings.Repeat(`"x",`, tokenward.MaxLeakedSecrets) + `"x"]}`
		if res := e.do("POST", "/api/v2/apitoken/revoke-leaked", many); res.Status != 400 {
			t.Errorf("%d secrets: %d, want 400", tokenward.MaxLeakedSecrets+1, res.Status)
		}

		var self apiToken
		res = e.do("DELETE", "/api/v2/apitoken/self", "", bearer(kept))
		_, _, payload = res.container(t)
		if err := json.Unmarshal(payload, &self); err != nil || res.Status != 200 || self.Account != "jane@example.com" {
			t.Fatalf("DELETE /apitoken/self: %d %s", res.Status, payload)
		}
		if got := e.do("GET", "/auth/verify", "", bearer(kept)).Status; got != 401 {
			t.Errorf("a token after revoking itself: %d, want 401", got)
		}
	})
}

// TestLeakReportsLimited: revoke-by-value requests are limited per source address, with 429
// and Retry-After past the budget.
func TestLeakReportsLimited(t *testing.T) {
	e := newEnvWith(t, store.SQLite, func(cfg *api.Config) {
		cfg.LeakReports = limit.New(limit.Rule{Burst: 2, Per: time.Hour}, time.Now)
	})
	for i := range 2 {
		if res := e.do("POST", "/api/v2/apitoken/revoke-leaked", `{"secrets":[]}`); res.Status != 202 {
			t.Fatalf("report %d of 2: %d, want 202", i+1, res.Status)
		}
	}
	if res := e.do("POST", "/api/v2/apitoken/revoke-leaked", `{"secrets":[]}`); res.Status != 429 || res.Header.Get("Retry-After") == "" {
		t.Errorf("the 3rd report: %d, Retry-After %q; want 429 with Retry-After", res.Status, res.Header.Get("Retry-After"))
	}
}

// TestExpiredTokensLeaveTheCap: an expired token no longer counts toward the 20-token cap,
// since it can never work again; a live one still does.
func TestExpiredTokensLeaveTheCap(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement)
		e.serviceAccount("sa::bot") // one token, no expiry
		for range tokenward.MaxTokensPerAccount - 1 {
			e.do("POST", "/api/v2/apitoken/serviceaccount/sa::bot", `{"expiresInSeconds":60}`, bearer(admin)).tokens(t)
		}
		if res := e.do("POST", "/api/v2/apitoken/serviceaccount/sa::bot", ``, bearer(admin)); res.Status != 400 {
			t.Fatalf("the 21st live token: %d, want 400", res.Status)
		}
		e.clock.Advance(time.Minute)
		if res := e.do("POST", "/api/v2/apitoken/serviceaccount/sa::bot", ``, bearer(admin)); res.Status != 200 {
			t.Errorf("a token once 19 of 20 have expired: %d (%s), want 200", res.Status, res.Body)
		}
	})
}
