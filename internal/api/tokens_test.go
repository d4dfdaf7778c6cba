package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

func TestOwnTokenLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		secret := e.user("jane@example.com", tokenward.TokenManagement)

		list := e.do("GET", "/api/v2/apitoken", "", bearer(secret)).tokens(t)
		if len(list) != 1 {
			t.Fatalf("GET apitoken: %d tokens, want 1", len(list))
		}
		first := list[0]
		if !strings.HasPrefix(first.TokenID, tokenward.TokenIDPrefix) || first.TokenID == secret {
			t.Errorf("listed tokenID = %q, want the public id (tw_...), never the secret", first.TokenID)
		}
		if first.TokenName != "setup" || first.Account != "jane@example.com" || first.AccountType != "USER_ACCOUNT" ||
			first.DateGenerated == 0 || first.LastUsed != nil {
			t.Errorf("listed token = %+v, want setup of jane@example.com, USER_ACCOUNT, generated, never used", first)
		}

		// Generate: all tokens, the new one last and carrying its secret, the only time.
		gen := e.do("POST", "/api/v2/apitoken", `{"tokenName":"laptop"}`, bearer(secret)).tokens(t)
		if len(gen) != 2 || gen[0].TokenID != first.TokenID || gen[1].TokenName != "laptop" {
			t.Fatalf("POST apitoken = %+v, want [setup, laptop]", gen)
		}
		newSecret := e.remember(gen[1].TokenID)
		if _, ok := tokenward.ParseSecret(newSecret); !ok {
			t.Fatalf("new token's tokenID %q is not a UUID secret", newSecret)
		}
		// An empty body and an empty object also generate.
		for _, body := range []string{"", "{}"} {
			got := e.do("POST", "/api/v2/apitoken", body, bearer(newSecret)).tokens(t)
			e.remember(got[len(got)-1].TokenID)
		}
		list = e.do("GET", "/api/v2/apitoken", "", bearer(newSecret)).tokens(t)
		if len(list) != 4 {
			t.Fatalf("after 3 generates: %d tokens, want 4", len(list))
		}
		for _, tok := range list {
			if !strings.HasPrefix(tok.TokenID, tokenward.TokenIDPrefix) {
				t.Errorf("listed tokenID %q is not a public id: a secret was shown twice", tok.TokenID)
			}
		}
		laptopID := list[1].TokenID

		// Rename by public id, then by secret.
		renamed := e.do("PUT", "/api/v2/apitoken/"+laptopID, `{"tokenID":"`+laptopID+`","tokenName":"ci"}`, bearer(secret)).token(t)
		if renamed.TokenID != laptopID || renamed.TokenName != "ci" {
			t.Errorf("PUT by id = %+v, want %s named ci", renamed, laptopID)
		}
		renamed = e.do("PUT", "/api/v2/apitoken/"+newSecret, `{"tokenID":"`+newSecret+`","tokenName":"deploy"}`, bearer(secret)).token(t)
		if renamed.TokenID != laptopID || renamed.TokenName != "deploy" {
			t.Errorf("PUT by secret = %+v, want %s (its public id) named deploy", renamed, laptopID)
		}

		// Revoke by public id: the revoked token fails on the very next request.
		remaining := e.do("DELETE", "/api/v2/apitoken/"+laptopID, "", bearer(secret)).tokens(t)
		if len(remaining) != 3 {
			t.Errorf("DELETE returned %d tokens, want the 3 remaining", len(remaining))
		}
		for _, tok := range remaining {
			if tok.TokenID == laptopID {
				t.Errorf("revoked token %s still listed", laptopID)
			}
		}
		res := e.do("GET", "/api/v2/apitoken", "", bearer(newSecret))
		if res.Status != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("revoked token: status %d, WWW-Authenticate %q; want 401 invalid_token", res.Status, res.Header.Get("WWW-Authenticate"))
		}
		res.container(t)
		// Revocation cannot be undone or repeated.
		if res := e.do("DELETE", "/api/v2/apitoken/"+laptopID, "", bearer(secret)); res.Status != http.StatusNotFound {
			t.Errorf("revoking twice: status %d, want 404", res.Status)
		}

		// Revoke by secret, including the caller's own token.
		remaining = e.do("DELETE", "/api/v2/apitoken/"+secret, "", bearer(secret)).tokens(t)
		if len(remaining) != 2 {
			t.Errorf("DELETE by secret returned %d tokens, want 2", len(remaining))
		}
		if res := e.do("GET", "/api/v2/apitoken", "", bearer(secret)); res.Status != http.StatusUnauthorized {
			t.Errorf("self-revoked token: status %d, want 401", res.Status)
		}
	})
}

func TestAuthentication(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		secret := e.user("jane@example.com", tokenward.TokenManagement)
		revoked := e.token("jane@example.com")
		e.do("DELETE", "/api/v2/apitoken/"+revoked, "", bearer(secret)).tokens(t)
		unknown := e.remember(string(tokenward.NewSecret()))
		const realm, invalid = `Bearer realm="tokenward"`, `Bearer realm="tokenward", error="invalid_token"`

		tests := []struct {
			name       string
			headers    []string
			wantStatus int
			wantAuth   string // WWW-Authenticate
		}{
			{"bearer", []string{bearer(secret)}, 200, ""},
			{"bearer lower-case scheme", []string{"Authorization: bearer " + secret}, 200, ""},
			{"upper-case secret", []string{bearer(strings.ToUpper(secret))}, 200, ""},
			{"X-AUTH-TOKEN", []string{"X-AUTH-TOKEN: " + secret}, 200, ""},
			{"X-AUTH-TOKEN with Bearer", []string{"X-AUTH-TOKEN: Bearer " + secret}, 200, ""},
			{"no credentials", nil, 401, realm},
			{"empty bearer", []string{"Authorization: Bearer "}, 401, invalid},
			{"basic scheme", []string{"Authorization: Basic amFuZTpwdw=="}, 401, invalid},
			{"malformed", []string{bearer("not-a-token")}, 401, invalid},
			{"public id as credential", []string{bearer("tw_aaaaaaaaaaaaaaaa")}, 401, invalid},
			{"unknown", []string{bearer(unknown)}, 401, invalid},
			{"revoked", []string{bearer(revoked)}, 401, invalid},
			{"revoked via X-AUTH-TOKEN", []string{"X-AUTH-TOKEN: " + revoked}, 401, invalid},
		}
		var invalidMessages []string
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := e.do("GET", "/api/v2/apitoken", "", tc.headers...)
				if res.Status != tc.wantStatus {
					t.Fatalf("status %d, want %d (%s)", res.Status, tc.wantStatus, res.Body)
				}
				_, msg, _ := res.container(t)
				if got := res.Header.Get("WWW-Authenticate"); got != tc.wantAuth {
					t.Errorf("WWW-Authenticate = %q, want %q", got, tc.wantAuth)
				}
				if tc.wantAuth == invalid {
					invalidMessages = append(invalidMessages, msg)
				}
			})
		}
		// Every invalid credential gets the same message, so an attacker learns nothing.
		for _, m := range invalidMessages {
			if m != invalidMessages[0] {
				t.Errorf("invalid-token messages differ: %q and %q", m, invalidMessages[0])
			}
		}
	})
}

func TestOwnTokenPermissions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		jane := e.user("jane@example.com", tokenward.TokenManagement)
		bob := e.user("bob@example.com") // no API Tokens permission
		if _, err := tokenward.NewOperator(e.service).CreateServiceAccount(t.Context(), "sa::bot", tokenward.NewPermissionSet(tokenward.UserManagement), ""); err != nil {
			t.Fatal(err)
		}
		bot := e.token("sa::bot")
		janeID := e.do("GET", "/api/v2/apitoken", "", bearer(jane)).tokens(t)[0].TokenID
		bobID := e.do("GET", "/api/v2/apitoken", "", bearer(bob)).tokens(t)[0].TokenID

		tests := []struct {
			name, method, path, body, who string
			want                          int
			wantMessage                   string
		}{
			{"without permission cannot generate", "POST", "/api/v2/apitoken", "", bob, 403, "token_management"},
			{"without permission may list", "GET", "/api/v2/apitoken", "", bob, 200, ""},
			{"without permission may rename own", "PUT", "/api/v2/apitoken/" + bobID, `{"tokenName":"x"}`, bob, 200, ""},
			{"cannot rename another's token", "PUT", "/api/v2/apitoken/" + janeID, `{"tokenName":"x"}`, bob, 404, ""},
			{"cannot revoke another's token by id", "DELETE", "/api/v2/apitoken/" + janeID, "", bob, 404, ""},
			{"cannot revoke another's token by secret", "DELETE", "/api/v2/apitoken/" + jane, "", bob, 404, ""},
			{"unknown token", "DELETE", "/api/v2/apitoken/tw_nosuchtokenxxxx", "", jane, 404, ""},
			{"with permission generates", "POST", "/api/v2/apitoken", "", jane, 200, ""},
			{"service account has no own-token list", "GET", "/api/v2/apitoken", "", bot, 403, "user accounts"},
			{"service account cannot generate own", "POST", "/api/v2/apitoken", "", bot, 403, "user accounts"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := e.do(tc.method, tc.path, tc.body, bearer(tc.who))
				if res.Status != tc.want {
					t.Fatalf("status %d, want %d (%s)", res.Status, tc.want, res.Body)
				}
				_, msg, payload := res.container(t)
				if !strings.Contains(msg, tc.wantMessage) {
					t.Errorf("message %q does not name %q", msg, tc.wantMessage)
				}
				if tc.method == "POST" && res.Status == 200 {
					var ts []apiToken
					_ = jsonUnmarshal(payload, &ts)
					e.remember(ts[len(ts)-1].TokenID)
				}
			})
		}
		// The other account's token survived the attempts.
		if res := e.do("GET", "/api/v2/apitoken", "", bearer(jane)); res.Status != 200 {
			t.Errorf("jane's token after bob's attempts: status %d, want 200", res.Status)
		}
	})
}

// TestTokenCapConcurrentGenerates fires 50 generate requests at once at one account that
// already holds one token: exactly 19 succeed, the rest get 400 saying why.
func TestTokenCapConcurrentGenerates(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		secret := e.user("jane@example.com", tokenward.TokenManagement)
		var wg sync.WaitGroup
		results := make([]response, 50)
		for i := range results {
			wg.Go(func() { results[i] = e.do("POST", "/api/v2/apitoken", "", bearer(secret)) })
		}
		wg.Wait()
		ok, capped := 0, 0
		for _, res := range results {
			switch res.Status {
			case 200:
				ok++
				ts := res.tokens(t)
				e.remember(ts[len(ts)-1].TokenID)
			case 400:
				capped++
				if _, msg, _ := res.container(t); !strings.Contains(msg, "20") || !strings.Contains(msg, "revoke") {
					t.Errorf("cap message %q does not say the maximum and what to do", msg)
				}
			default:
				t.Errorf("unexpected status %d: %s", res.Status, res.Body)
			}
		}
		if ok != 19 || capped != 31 {
			t.Errorf("%d generates succeeded and %d hit the cap, want 19 and 31", ok, capped)
		}
		list := e.do("GET", "/api/v2/apitoken", "", bearer(secret)).tokens(t)
		if len(list) != tokenward.MaxTokensPerAccount {
			t.Errorf("account holds %d tokens, want %d", len(list), tokenward.MaxTokensPerAccount)
		}
		// Revoking one frees a place.
		e.do("DELETE", "/api/v2/apitoken/"+list[5].TokenID, "", bearer(secret)).tokens(t)
		gen := e.do("POST", "/api/v2/apitoken", "", bearer(secret)).tokens(t)
		e.remember(gen[len(gen)-1].TokenID)
		if res := e.do("POST", "/api/v2/apitoken", "", bearer(secret)); res.Status != 400 {
			t.Errorf("21st token: status %d, want 400", res.Status)
		}
	})
}

func TestBadInput(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		secret := e.user("jane@example.com", tokenward.TokenManagement)
		id := e.do("GET", "/api/v2/apitoken", "", bearer(secret)).tokens(t)[0].TokenID
		huge := `{"tokenName":"` + strings.Repeat("a", 2<<20) + `"}`

		tests := []struct {
			name, method, path, body string
			want                     int
			wantMessage              string
		}{
			{"malformed JSON", "POST", "/api/v2/apitoken", `{"tokenName":`, 400, "malformed"},
			{"not JSON", "PUT", "/api/v2/apitoken/" + id, `tokenName=x`, 400, "malformed"},
			{"wrong type", "POST", "/api/v2/apitoken", `{"tokenName":5}`, 400, `"tokenName" must be a string`},
			{"array body", "PUT", "/api/v2/apitoken/" + id, `[]`, 400, "must be an object"},
			{"two values", "POST", "/api/v2/apitoken", `{} {}`, 400, "more than one"},
			{"rename without name", "PUT", "/api/v2/apitoken/" + id, `{"tokenID":"` + id + `"}`, 400, "tokenName is required"},
			{"rename without body", "PUT", "/api/v2/apitoken/" + id, ``, 400, "body is required"},
			{"name too long", "PUT", "/api/v2/apitoken/" + id, `{"tokenName":"` + strings.Repeat("x", 129) + `"}`, 400, "at most 128"},
			{"NUL in name", "POST", "/api/v2/apitoken", `{"tokenName":"a\u0000b"}`, 400, "NUL character"},
			{"control character in name", "POST", "/api/v2/apitoken", `{"tokenName":"a\u0001b"}`, 400, "control"},
			{"body too large", "POST", "/api/v2/apitoken", huge, 413, "larger than"},
			{"unknown route", "GET", "/api/v2/nothing", "", 404, "no such API endpoint"},
			{"unknown route outside the API", "GET", "/favicon.ico", "", 404, "no such API endpoint"},
			{"wrong method", "PATCH", "/api/v2/apitoken", "", 405, "not allowed"},
			{"wrong method on item", "POST", "/api/v2/apitoken/" + id, "", 405, "not allowed"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := e.do(tc.method, tc.path, tc.body, bearer(secret))
				if res.Status != tc.want {
					t.Fatalf("status %d, want %d (%.200s)", res.Status, tc.want, res.Body)
				}
				if _, msg, _ := res.container(t); !strings.Contains(msg, tc.wantMessage) {
					t.Errorf("message %q, want it to contain %q", msg, tc.wantMessage)
				}
				if tc.want == 405 && res.Header.Get("Allow") == "" {
					t.Errorf("405 without an Allow header")
				}
			})
		}
		// Nothing was lost: the account still has exactly its one token, with its name.
		list := e.do("GET", "/api/v2/apitoken", "", bearer(secret)).tokens(t)
		if len(list) != 1 || list[0].TokenName != "setup" {
			t.Errorf("after bad requests: tokens %+v, want the one token named setup", list)
		}
	})
}

func TestOpenAPIDocumentServed(t *testing.T) {
	e := newEnv(t, store.SQLite)
	e.user("jane@example.com")
	res := e.do("GET", "/api/v2/openapi.json", "")
	if res.Status != 200 || !strings.Contains(string(res.Body), `"/api/v2/apitoken/{id}"`) {
		t.Errorf("GET openapi.json: status %d, body does not document /api/v2/apitoken/{id}", res.Status)
	}
}
