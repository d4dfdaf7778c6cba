package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// object decodes an OK container's response into v.
func (r response) object(t *testing.T, v any) {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("status %d (%s), want 200", r.Status, r.Body)
	}
	_, _, payload := r.container(t)
	if err := json.Unmarshal(payload, v); err != nil {
		t.Fatalf("response %s: %v", payload, err)
	}
}

type saJSON struct {
	Identifier        string   `json:"identifier"`
	Active            bool     `json:"active"`
	Description       string   `json:"description"`
	Groups            []string `json:"groups"`
	UnitedPermissions []string `json:"unitedPermissions"`
	Tokens            []struct {
		TokenID   string `json:"tokenID"`
		TokenName string `json:"tokenName"`
	} `json:"tokens"`
	LastUsed *int64 `json:"lastUsed"`
}

func TestServiceAccountLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))

		var sa saJSON
		e.do("POST", "/api/v2/account/serviceaccount",
			`{"identifier":"SA::CI-Bot","description":"builds","groups":["ingestion"],"tokens":[],"ingestionPolicyId":"legacy"}`, admin).object(t, &sa)
		if sa.Identifier != "sa::ci-bot" || !sa.Active || sa.Description != "builds" || strings.Join(sa.Groups, ",") != "ingestion" ||
			len(sa.Tokens) != 0 || sa.LastUsed != nil {
			t.Errorf("created %+v, want sa::ci-bot, active, builds, [ingestion], no tokens, never used", sa)
		}
		for _, tc := range []struct {
			name, body string
			want       int
		}{
			{"duplicate, any case", `{"identifier":"sa::CI-bot"}`, 409},
			{"token_management", `{"identifier":"sa::x","groups":["token_management"]}`, 400},
			{"unknown permission", `{"identifier":"sa::y","groups":["root"]}`, 400},
			{"bad identifier", `{"identifier":"sa::a b"}`, 400},
			{"no identifier", `{"description":"x"}`, 400},
			{"user's identifier space", `{"identifier":"admin@example.com"}`, 400},
		} {
			if res := e.do("POST", "/api/v2/account/serviceaccount", tc.body, admin); res.Status != tc.want {
				t.Errorf("create %s: status %d, want %d (%s)", tc.name, res.Status, tc.want, res.Body)
			}
		}

		// Tokens: generate (secret once), then the token authenticates as the account.
		var gen []apiToken
		e.do("POST", "/api/v2/apitoken/serviceaccount/sa::ci-bot", `{"tokenName":"main"}`, admin).object(t, &gen)
		if len(gen) != 1 || gen[0].TokenName != "main" || gen[0].AccountType != "SERVICE_ACCOUNT" || gen[0].Account != "sa::ci-bot" {
			t.Fatalf("generate = %+v, want one token main of sa::ci-bot", gen)
		}
		secret := e.remember(gen[0].TokenID)
		if _, ok := tokenward.ParseSecret(secret); !ok {
			t.Fatalf("generated tokenID %q is not the secret", secret)
		}
		e.do("GET", "/api/v2/account/serviceaccount/sa::ci-bot", "", admin).object(t, &sa)
		if len(sa.Tokens) != 1 || !strings.HasPrefix(sa.Tokens[0].TokenID, "tw_") || sa.Tokens[0].TokenName != "main" {
			t.Fatalf("service account tokens = %+v, want main by public id", sa.Tokens)
		}
		tokenID := sa.Tokens[0].TokenID
		// Its own-token list is not for service accounts, but the token authenticates: 403, not 401.
		if res := e.do("GET", "/api/v2/apitoken", "", bearer(secret)); res.Status != 403 {
			t.Errorf("service account token on own-token list: %d, want 403", res.Status)
		}

		// An update with absent keys leaves fields; tokens: [] revokes nothing.
		e.do("PUT", "/api/v2/account/serviceaccount/sa::ci-bot", `{"identifier":"sa::ci-bot","tokens":[]}`, admin).object(t, &sa)
		if sa.Description != "builds" || strings.Join(sa.Groups, ",") != "ingestion" || len(sa.Tokens) != 1 || !sa.Active {
			t.Errorf("after an empty update: %+v, want everything unchanged", sa)
		}
		e.do("PUT", "/api/v2/account/serviceaccount/sa::ci-bot", `{"description":"","groups":[]}`, admin).object(t, &sa)
		if sa.Description != "" || len(sa.Groups) != 0 || len(sa.UnitedPermissions) != 0 {
			t.Errorf("after clearing: %+v, want no description and no permissions", sa)
		}
		if res := e.do("PUT", "/api/v2/account/serviceaccount/sa::ci-bot", `{"identifier":"sa::other"}`, admin); res.Status != 400 {
			t.Errorf("rename through PUT: %d, want 400", res.Status)
		}
		if res := e.do("PUT", "/api/v2/account/serviceaccount/sa::ci-bot", `{"groups":["token_management"]}`, admin); res.Status != 400 {
			t.Errorf("granting token_management by PUT: %d, want 400", res.Status)
		}
		if res := e.do("POST", "/api/v2/account/sa::ci-bot/grant/token_management", "", admin); res.Status != 400 {
			t.Errorf("granting token_management by grant: %d, want 400", res.Status)
		}

		// Deactivating makes its tokens fail at once; activating restores them.
		e.do("POST", "/api/v2/account/serviceaccount/sa::ci-bot/deactivate", "", admin).object(t, &sa)
		if sa.Active {
			t.Errorf("deactivate: active is still true")
		}
		if res := e.do("GET", "/api/v2/apitoken", "", bearer(secret)); res.Status != 401 {
			t.Errorf("token of a deactivated account: %d, want 401", res.Status)
		}
		var listed []apiToken
		e.do("GET", "/api/v2/apitoken/serviceaccount/sa::ci-bot", "", admin).object(t, &listed)
		if len(listed) != 1 || listed[0].AccountType != "INACTIVE_SERVICE_ACCOUNT" {
			t.Errorf("tokens of a deactivated account = %+v, want one, INACTIVE_SERVICE_ACCOUNT", listed)
		}
		e.do("POST", "/api/v2/account/serviceaccount/sa::ci-bot/activate", "", admin).object(t, &sa)
		if res := e.do("GET", "/api/v2/apitoken", "", bearer(secret)); res.Status != 403 {
			t.Errorf("token after activation: %d, want 403 (authenticated again)", res.Status)
		}

		// Rename by secret and by id, revoke by id.
		var tok apiToken
		e.do("PUT", "/api/v2/apitoken/serviceaccount/sa::ci-bot/"+secret, `{"tokenID":"`+secret+`","tokenName":"renamed"}`, admin).object(t, &tok)
		if tok.TokenID != tokenID || tok.TokenName != "renamed" {
			t.Errorf("rename by secret = %+v, want %s renamed", tok, tokenID)
		}
		if res := e.do("DELETE", "/api/v2/apitoken/serviceaccount/sa::nobody/"+tokenID, "", admin); res.Status != 404 {
			t.Errorf("revoke under the wrong account: %d, want 404", res.Status)
		}
		e.do("DELETE", "/api/v2/apitoken/serviceaccount/sa::ci-bot/"+tokenID, "", admin).object(t, &listed)
		if len(listed) != 0 {
			t.Errorf("after revoke: %d tokens, want 0", len(listed))
		}
		if res := e.do("GET", "/api/v2/apitoken", "", bearer(secret)); res.Status != 401 {
			t.Errorf("revoked service account token: %d, want 401", res.Status)
		}

		// Search finds it; deleting it revokes its tokens; it is then gone.
		another := e.do("POST", "/api/v2/apitoken/serviceaccount/sa::ci-bot", "", admin).tokens(t)
		anotherSecret := e.remember(another[0].TokenID)
		var page struct {
			Items      []saJSON `json:"items"`
			TotalItems int      `json:"totalItems"`
			MoreItems  bool     `json:"moreItems"`
		}
		e.do("POST", "/api/v2/search/serviceaccount", `{"query":[{"key":"identifier","value":"sa::ci-bot","matchingMethod":"EXACT"}]}`, admin).object(t, &page)
		if page.TotalItems != 1 || len(page.Items) != 1 || page.Items[0].Identifier != "sa::ci-bot" || len(page.Items[0].Tokens) != 1 || page.MoreItems {
			t.Errorf("search = %+v, want exactly sa::ci-bot with its token", page)
		}
		e.do("DELETE", "/api/v2/account/sa::ci-bot", "", admin).container(t)
		if res := e.do("GET", "/api/v2/apitoken", "", bearer(anotherSecret)); res.Status != 401 {
			t.Errorf("token of a deleted account: %d, want 401", res.Status)
		}
		res := e.do("GET", "/api/v2/account/serviceaccount/sa::ci-bot", "", admin)
		if _, msg, _ := res.container(t); res.Status != 404 || msg != "service account sa::ci-bot does not exist" {
			t.Errorf("deleted account: %d %q, want 404 \"service account sa::ci-bot does not exist\"", res.Status, msg)
		}
		// The identifier is free again.
		e.do("POST", "/api/v2/account/serviceaccount", `{"identifier":"sa::ci-bot"}`, admin).object(t, &sa)
	})
}

type userJSON struct {
	Identifier          string   `json:"identifier"`
	Customer            string   `json:"customer"`
	Groups              []string `json:"groups"`
	LastSuccessfulLogin *int64   `json:"lastSuccessfulLogin"`
}

func TestUserAccounts(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))

		var u userJSON
		e.do("POST", "/api/v2/account/user", `{"emailAddress":"Jane@Example.com","groups":["token_management"],"userGroups":[]}`, admin).bare(t, &u)
		if u.Identifier != "jane@example.com" || u.Customer != "acme" || strings.Join(u.Groups, ",") != "token_management" || u.LastSuccessfulLogin != nil {
			t.Errorf("created %+v, want jane@example.com of acme with token_management, never signed in", u)
		}
		if res := e.do("POST", "/api/v2/account/user", `{"emailAddress":"jane@example.com"}`, admin); res.Status != 409 {
			t.Errorf("duplicate user: %d, want 409", res.Status)
		}
		// An invitation with one bad entry creates nobody.
		if res := e.do("POST", "/api/v2/account/user/invite", `[{"emailAddress":"a@example.com"},{"emailAddress":"b@example.com","groups":["root"]}]`, admin); res.Status != 400 {
			t.Errorf("invite with an unknown permission: %d, want 400", res.Status)
		}
		if res := e.do("GET", "/api/v2/account/user/a@example.com", "", admin); res.Status != 404 {
			t.Errorf("a@example.com after a failed invitation: %d, want 404", res.Status)
		}
		e.do("POST", "/api/v2/account/user/invite", `[{"emailAddress":"a@example.com","groups":["ingestion"]},{"emailAddress":"b@example.com"}]`, admin).bare(t, &u)

		// Jane generates a token; granting and revoking takes effect on her next request.
		jane := bearer(e.token("jane@example.com"))
		if res := e.do("POST", "/api/v2/account/jane@example.com/revoke/token_management", "", admin); res.Status != 200 {
			t.Fatalf("revoke permission: %d", res.Status)
		}
		if res := e.do("POST", "/api/v2/apitoken", "", jane); res.Status != 403 {
			t.Errorf("generate after revoke of token_management: %d, want 403", res.Status)
		}
		e.do("POST", "/api/v2/account/grant/token_management", `["jane@example.com","b@example.com"]`, admin).bare(t, &u)
		gen := e.do("POST", "/api/v2/apitoken", "", jane).tokens(t)
		e.remember(gen[len(gen)-1].TokenID)
		if res := e.do("POST", "/api/v2/account/grant/ingestion", `["jane@example.com","ghost@example.com"]`, admin); res.Status != 404 {
			t.Errorf("bulk grant naming an unknown account: %d, want 404", res.Status)
		}
		e.do("GET", "/api/v2/account/user/jane@example.com", "", admin).bare(t, &u)
		if strings.Join(u.Groups, ",") != "token_management" {
			t.Errorf("after a failed bulk grant jane has %v, want only token_management (all or nothing)", u.Groups)
		}
		e.do("PUT", "/api/v2/account/user/jane@example.com", `{"identifier":"jane@example.com","groups":["ingestion","token_management"]}`, admin).bare(t, &u)
		if strings.Join(u.Groups, ",") != "token_management,ingestion" {
			t.Errorf("after update jane has %v", u.Groups)
		}
		// A caller without Accounts gets 403 before any validation of what it sent.
		for _, req := range [][3]string{{"POST", "/api/v2/account/user", `{"emailAddress":"not an email","groups":["root"]}`},
			{"POST", "/api/v2/account/serviceaccount", `{"identifier":"sa::bad name"}`},
			{"POST", "/api/v2/account/jane@example.com/grant/root", ""}, {"GET", "/api/v2/account?limit=abc", ""}} {
			if res := e.do(req[0], req[1], req[2], jane); res.Status != 403 {
				t.Errorf("%s %s as a plain user: %d, want 403", req[0], req[1], res.Status)
			}
		}
		// Users may read their own account, not others'.
		if res := e.do("GET", "/api/v2/account/user/jane@example.com", "", jane); res.Status != 200 {
			t.Errorf("jane reads herself: %d, want 200", res.Status)
		}
		if res := e.do("GET", "/api/v2/account/user/admin@example.com", "", jane); res.Status != 403 {
			t.Errorf("jane reads the admin: %d, want 403", res.Status)
		}

		var admins []string
		e.do("GET", "/api/v2/account/user/admin", "", admin).object(t, &admins)
		if strings.Join(admins, ",") != "admin@example.com" {
			t.Errorf("administrators = %v, want [admin@example.com]", admins)
		}
		// The last administrator cannot lose the permission or be deleted.
		if res := e.do("POST", "/api/v2/account/admin@example.com/revoke/user_management", "", admin); res.Status != 400 {
			t.Errorf("revoking the last administrator: %d, want 400", res.Status)
		}
		if res := e.do("DELETE", "/api/v2/account/admin@example.com", "", admin); res.Status != 400 {
			t.Errorf("deleting the last administrator: %d, want 400", res.Status)
		}

		var page struct {
			Items      []userJSON `json:"items"`
			TotalItems int        `json:"totalItems"`
		}
		e.do("POST", "/api/v2/search/user", `{"query":[{"key":"identifier","value":"@example.com","matchingMethod":"CONTAINS"},{"key":"identifier","value":"admin","matchingMethod":"STARTSWITH","negated":true}],"sort":{"field":"identifier","ascending":false}}`, admin).object(t, &page)
		var got []string
		for _, it := range page.Items {
			got = append(got, it.Identifier)
		}
		if strings.Join(got, ",") != "jane@example.com,b@example.com,a@example.com" || page.TotalItems != 3 {
			t.Errorf("search = %v (total %d), want jane, b, a", got, page.TotalItems)
		}
		for _, body := range []string{`{"query":[{"key":"password","value":"x"}]}`, `{"sort":{"field":"secret"}}`, `{"limit":1001}`,
			`{"query":[{"key":"identifier","value":"x","matchingMethod":"REGEX"}]}`, `{"query":[{"key":"lastUsed","value":"x"}]}`} {
			if res := e.do("POST", "/api/v2/search/user", body, admin); res.Status != 400 {
				t.Errorf("search %s: %d, want 400", body, res.Status)
			}
		}

		// Deleting a user revokes every token of theirs.
		var deleted []string
		e.do("POST", "/api/v2/account/deleteAccounts", `["jane@example.com","nobody@example.com"]`, admin).object(t, &deleted)
		if strings.Join(deleted, ",") != "jane@example.com" {
			t.Errorf("deleteAccounts = %v, want [jane@example.com]", deleted)
		}
		if res := e.do("GET", "/api/v2/apitoken", "", jane); res.Status != 401 {
			t.Errorf("token of a deleted user: %d, want 401", res.Status)
		}
		var all struct {
			Items      []struct{ Identifier string } `json:"items"`
			TotalItems int                           `json:"totalItems"`
			MoreItems  bool                          `json:"moreItems"`
			Limit      int                           `json:"limit"`
		}
		e.do("GET", "/api/v2/account?offset=1&limit=2", "", admin).object(t, &all)
		if all.TotalItems != 3 || len(all.Items) != 2 || all.Limit != 2 || all.MoreItems {
			t.Errorf("GET account page = %+v, want items 2-3 of 3", all)
		}
		if res := e.do("GET", "/api/v2/account?limit=abc", "", admin); res.Status != 400 {
			t.Errorf("limit=abc: %d, want 400", res.Status)
		}
	})
}
