package api_test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

var prefixedSecret = regexp.MustCompile(`^` + tokenward.SecretPattern + `$`)

// TestTokenFormat (issue 15 part 1, reference §14): the policy's tokenFormat is uuid until
// set; set to prefixed, every new secret (generated, rotated, a service account's, one
// made with its account) is prefixed and verifies, one with a character changed does not,
// and secrets already issued keep working; the change is audited; set back, new secrets
// are UUIDs again and the prefixed ones still verify.
func TestTokenFormat(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
		jane := e.user("jane@example.com", tokenward.TokenManagement)
		e.serviceAccount("sa::bot", tokenward.Ingestion)

		format := func() string {
			var policy struct {
				TokenFormat string `json:"tokenFormat"`
			}
			e.do("GET", "/api/v2/apitoken/policy", "", bearer(admin)).object(t, &policy)
			return policy.TokenFormat
		}
		if f := format(); f != "uuid" {
			t.Fatalf("the initial tokenFormat = %q, want uuid", f)
		}
		for _, body := range []string{`{"tokenFormat":"PREFIXED"}`, `{"tokenFormat":"twt"}`, `{"tokenFormat":1}`} {
			if res := e.do("PUT", "/api/v2/apitoken/policy", body, bearer(admin)); res.Status != 400 {
				t.Errorf("PUT policy %s: %d, want 400", body, res.Status)
			}
		}
		if res := e.do("PUT", "/api/v2/apitoken/policy", `{"tokenFormat":"prefixed"}`, bearer(admin)); res.Status != 200 {
			t.Fatalf("PUT tokenFormat prefixed: %d %s", res.Status, res.Body)
		}
		if f := format(); f != "prefixed" {
			t.Fatalf("tokenFormat after PUT = %q, want prefixed", f)
		}
		events, err := e.service.AuditTrail(context.Background(), e.principal(admin), tokenward.AuditFilter{Action: tokenward.AuditPolicyUpdate})
		if err != nil || len(events.Items) != 1 || !strings.Contains(events.Items[0].Detail, "token format: prefixed") {
			t.Errorf("policy.update events %+v, %v; want one naming the token format", events.Items, err)
		}

		verifies := func(what, secret string) {
			t.Helper()
			if res := e.do("GET", "/auth/verify", "", bearer(secret)); res.Status != 200 {
				t.Errorf("%s: /auth/verify %d, want 200", what, res.Status)
			}
		}
		isPrefixed := func(what, secret string) string {
			t.Helper()
			e.remember(secret)
			if !prefixedSecret.MatchString(secret) {
				t.Errorf("%s: the new secret is not prefixed (length %d)", what, len(secret))
			}
			verifies(what, secret)
			return secret
		}
		verifies("jane's UUID secret under prefixed", jane)

		list := e.do("POST", "/api/v2/apitoken", `{"tokenName":"ci"}`, bearer(jane)).tokens(t)
		generated := isPrefixed("generated", list[len(list)-1].TokenID)
		janeID := e.do("GET", "/api/v2/apitoken", "", bearer(jane)).tokens(t)[0].TokenID
		list = e.do("POST", "/api/v2/apitoken/"+janeID+"/rotate", `{"gracePeriodSeconds":0}`, bearer(jane)).tokens(t)
		isPrefixed("rotated", list[len(list)-1].TokenID)
		list = e.do("POST", "/api/v2/apitoken/serviceaccount/sa::bot", `{"tokenName":"deploy"}`, bearer(admin)).tokens(t)
		isPrefixed("service account's", list[len(list)-1].TokenID)
		_, secret, _, err := e.service.CreateServiceAccountWithToken(context.Background(), e.principal(admin),
			tokenward.ServiceAccountWrite{Identifier: "sa::made"}, "first", tokenward.Lifetime{})
		if err != nil {
			t.Fatal(err)
		}
		isPrefixed("a new service account's", secret.Reveal())

		// One character changed: 401 everywhere, like any invalid token.
		changed := byte('a')
		if generated[20] == 'a' {
			changed = 'b'
		}
		tampered := generated[:20] + string(changed) + generated[21:]
		for _, path := range []string{"/auth/verify", "/api/v2/apitoken"} {
			if res := e.do("GET", path, "", bearer(tampered)); res.Status != 401 {
				t.Errorf("a prefixed secret with one character changed: GET %s %d, want 401", path, res.Status)
			}
		}

		// Back to uuid (a PUT without tokenFormat): new secrets are UUIDs, prefixed ones work.
		if res := e.do("PUT", "/api/v2/apitoken/policy", `{}`, bearer(admin)); res.Status != 200 {
			t.Fatalf("PUT {}: %d %s", res.Status, res.Body)
		}
		if f := format(); f != "uuid" {
			t.Fatalf("tokenFormat after PUT {} = %q, want uuid", f)
		}
		list = e.do("POST", "/api/v2/apitoken", ``, bearer(generated)).tokens(t)
		if s := e.remember(list[len(list)-1].TokenID); len(s) != 36 {
			t.Errorf("a secret generated under uuid has %d characters, want a UUID", len(s))
		} else {
			verifies("a UUID secret after switching back", s)
		}
		verifies("a prefixed secret after switching back", generated)
	})
}
