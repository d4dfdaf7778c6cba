package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// The tests in this file are the regression tests of the issue "Hostile input", one per
// finding, named after it, on both engines. Each refused request must leave the data as it
// was: they compare a fingerprint of every table (but the audit trail) before and after.

// refused sends each request, wants want for it and the data unchanged afterwards.
func (e *env) refused(t *testing.T, want int, requests [][3]string, auth string) {
	t.Helper()
	before := storetest.Fingerprint(t, e.dsn, "audit_events")
	if !strings.Contains(before, "\n  ") || !strings.Contains(before, "accounts (") {
		t.Fatalf("the fingerprint holds no rows; comparing it would prove nothing:\n%s", before)
	}
	for _, r := range requests {
		res := e.do(r[0], r[1], r[2], auth)
		if res.Status != want {
			t.Errorf("%s %s %.80s: %d, want %d (%.300s)", r[0], r[1], r[2], res.Status, want, res.Body)
		}
	}
	if after := storetest.Fingerprint(t, e.dsn, "audit_events"); after != before {
		t.Errorf("refused requests changed the data:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestHostileRepeatedFacets(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))
		repeated := `{"facets":[` + strings.Repeat(`"name",`, 20000) + `"name"]}`
		res := e.do("POST", "/api/v2/search/token/facets", repeated, admin)
		if _, msg, _ := res.container(t); res.Status != 400 || !strings.Contains(msg, "facet name is named twice") {
			t.Errorf("20,001 repeated facets: %d %q, want 400 naming the repeat", res.Status, msg)
		}
		res = e.do("POST", "/api/v2/search/token/facets", `{"facets":["name","account","accountType","id"]}`, admin)
		if res.Status != 200 {
			t.Errorf("every facet once: %d (%.200s), want 200", res.Status, res.Body)
		}
	})
}

func TestHostileDuplicatesInBulkWrites(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))
		e.user("jane@example.com")
		e.serviceAccount("sa::bot")
		role := e.do("POST", "/api/v2/role", `{"name":"viewers"}`, admin).role(t)
		group := e.do("POST", "/api/v2/usergroup", `{"name":"devs"}`, admin).group(t)
		e.refused(t, 400, [][3]string{
			{"POST", "/api/v2/account/user/invite", `[{"emailAddress":"new@example.com"},{"emailAddress":"NEW@example.com"}]`},
			{"POST", "/api/v2/user/invite", `[{"emailAddress":"new@example.com"},{"emailAddress":"new@example.com"}]`},
			{"POST", "/api/v2/account/deleteAccounts", `["jane@example.com","sa::bot","Jane@Example.com"]`},
			{"POST", "/api/v2/account/grant/token_management", `["jane@example.com","jane@example.com"]`},
			{"POST", "/api/v2/account/revoke/user_management", `["admin@example.com","admin@example.com"]`},
			{"POST", "/api/v2/role/grant/token_management", `["` + role.ID + `","` + role.ID + `"]`},
			{"POST", "/api/v2/role/" + role.ID + "/addAssignees", `["jane@example.com","sa::bot","jane@example.com"]`},
			{"POST", "/api/v2/role/" + role.ID + "/addAssignees", `["` + *group.ID + `","` + *group.ID + `"]`},
			{"POST", "/api/v2/usergroup/" + *group.ID + "/addUsers", `["jane@example.com","jane@example.com"]`},
			{"POST", "/api/v2/usergroup/" + *group.ID + "/addRoles", `["` + role.ID + `","` + role.ID + `"]`},
			{"POST", "/api/v2/account/jane@example.com/addRoles", `["` + role.ID + `","` + role.ID + `"]`},
			{"POST", "/api/v2/account/jane@example.com/addUserGroups", `["` + *group.ID + `","` + *group.ID + `"]`},
		}, admin)
		// Each request above without its repeat is accepted: the refusal was the repeat.
		for _, r := range [][3]string{
			{"POST", "/api/v2/account/grant/token_management", `["jane@example.com"]`},
			{"POST", "/api/v2/role/" + role.ID + "/addAssignees", `["jane@example.com","sa::bot","` + *group.ID + `"]`},
			{"POST", "/api/v2/account/deleteAccounts", `["jane@example.com","sa::bot"]`},
		} {
			if res := e.do(r[0], r[1], r[2], admin); res.Status != 200 {
				t.Errorf("%s %s %s: %d (%.200s), want 200", r[0], r[1], r[2], res.Status, res.Body)
			}
		}
	})
}

// TestHostileSearchBounds covers an offset near 2^63, ~1,000 values in one condition and
// too many conditions: each is 400 naming the limit, on both engines.
func TestHostileSearchBounds(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))
		values := make([]string, 1000)
		for i := range values {
			values[i] = fmt.Sprintf("v%d", i)
		}
		many := `"` + strings.Join(values, `","`) + `"`
		conditions := strings.TrimSuffix(strings.Repeat(`{"key":"name","value":"x"},`, 51), ",")
		for _, path := range []string{"/api/v2/search/token", "/api/v2/search/user", "/api/v2/search/serviceaccount", "/api/v2/search/role", "/api/v2/search/usergroup"} {
			for _, c := range []struct{ body, limit string }{
				{`{"offset":9223372036854775807,"limit":1000}`, "offset"},
				{`{"offset":9223372036854775000}`, "offset"},
				{`{"query":[{"key":"freetext","values":[` + many + `]}]}`, "100"},
				{`{"query":[{"key":"freetext","value":"` + strings.Repeat("x", 1025) + `"}]}`, "1024"},
				{`{"query":[` + conditions + `]}`, "50"},
			} {
				res := e.do("POST", path, c.body, admin)
				if _, msg, _ := res.container(t); res.Status != 400 || !strings.Contains(msg, c.limit) {
					t.Errorf("POST %s %.60s…: %d %q, want 400 naming %s", path, c.body, res.Status, msg, c.limit)
				}
			}
		}
	})
}

// TestHostileTextPostgreSQLCannotStore: a NUL or invalid UTF-8 in each place the finding
// named (a path id, a search value, a saved-search id, an audit filter, a service-account
// description) is 400 on both engines, not 500 on PostgreSQL, and changes nothing.
// FuzzHostileText sends such text to every route.
func TestHostileTextPostgreSQLCannotStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement))
		e.serviceAccount("sa::bot")
		var requests [][3]string
		for _, bad := range []struct{ path, json string }{{"%00", `\u0000`}, {"%FF", "\xff"}} {
			requests = append(requests,
				[3]string{"GET", "/api/v2/account/jane" + bad.path + "@example.com", ""},
				[3]string{"DELETE", "/api/v2/account/sa::bot" + bad.path, ""},
				[3]string{"DELETE", "/api/v2/apitoken/" + bad.path, ""},
				[3]string{"GET", "/api/v2/apitoken/customertokens/x" + bad.path, ""},
				[3]string{"PUT", "/api/v2/account/serviceaccount/sa::bot" + bad.path, `{"description":"x"}`},
				[3]string{"GET", "/api/v2/savedsearch/" + bad.path, ""},
				[3]string{"PUT", "/api/v2/savedsearch/" + bad.path, `{"entityType":"TOKEN","query":{}}`},
				[3]string{"DELETE", "/api/v2/savedsearch/" + bad.path, ""},
				[3]string{"GET", "/api/v2/audit?target=" + bad.path, ""},
				[3]string{"GET", "/api/v2/audit?actor=a" + bad.path + "&action=token.", ""},
				[3]string{"GET", "/api/v2/apitoken/customertokens?sort=" + bad.path, ""},
				[3]string{"POST", "/api/v2/search/token", `{"query":[{"key":"name","value":"a` + bad.json + `"}]}`},
				[3]string{"POST", "/api/v2/search/user", `{"query":[{"key":"freetext","values":["a","` + bad.json + `"]}]}`},
				[3]string{"POST", "/api/v2/savedsearch", `{"entityType":"TOKEN` + bad.json + `","query":{}}`},
				[3]string{"POST", "/api/v2/savedsearch", `{"entityType":"TOKEN","query":{"name":"n` + bad.json + `"}}`},
				[3]string{"POST", "/api/v2/account/serviceaccount", `{"identifier":"sa::new","description":"d` + bad.json + `"}`},
				[3]string{"PUT", "/api/v2/account/serviceaccount/sa::bot", `{"identifier":"sa::bot","description":"d` + bad.json + `"}`},
				[3]string{"POST", "/api/v2/apitoken", `{"tokenName":"t` + bad.json + `"}`},
				[3]string{"POST", "/api/v2/account/user", `{"emailAddress":"new` + bad.json + `@example.com"}`},
				[3]string{"POST", "/api/v2/account/deleteAccounts", `["sa::bot` + bad.json + `"]`},
			)
		}
		e.refused(t, 400, requests, admin)
	})
}

// TestHostileSavedSearchesWithoutCap: an account, even one without any permission, keeps
// at most MaxSavedSearchesPerOwner saved searches of at most MaxSavedSearchQuery bytes.
func TestHostileSavedSearchesWithoutCap(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		nobody := bearer(e.user("nobody@example.com"))
		for i := range tokenward.MaxSavedSearchesPerOwner {
			if res := e.do("POST", "/api/v2/savedsearch", fmt.Sprintf(`{"entityType":"TOKEN","query":{"name":"n%d"}}`, i), nobody); res.Status != 200 {
				t.Fatalf("saved search %d: %d (%.200s)", i+1, res.Status, res.Body)
			}
		}
		big := `{"entityType":"TOKEN","query":{"name":"` + strings.Repeat("x", tokenward.MaxSavedSearchQuery) + `"}}`
		e.refused(t, 400, [][3]string{
			{"POST", "/api/v2/savedsearch", `{"entityType":"TOKEN","query":{"name":"one too many"}}`},
			{"POST", "/api/v2/savedsearch", big},
		}, nobody)
		res := e.do("POST", "/api/v2/savedsearch", `{"entityType":"TOKEN","query":{}}`, nobody)
		if _, msg, _ := res.container(t); !strings.Contains(msg, fmt.Sprint(tokenward.MaxSavedSearchesPerOwner)) {
			t.Errorf("over the cap: %q, want the limit named", msg)
		}
	})
}

// TestHostileSpoofingNames: names that read differently from what they are (a
// bidirectional override, a zero-width character, a control character) are refused
// wherever a name is given; the same text in the middle of an ordinary name too.
func TestHostileSpoofingNames(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement))
		e.serviceAccount("sa::bot")
		var requests [][3]string
		for _, spoof := range []string{`\u202e`, `\u200b`, `\u2066`, `\u0007`, `\u001b`, `\ufeff`, `\n`} {
			requests = append(requests,
				[3]string{"POST", "/api/v2/apitoken", `{"tokenName":"deploy` + spoof + `gpj.exe"}`},
				[3]string{"POST", "/api/v2/apitoken/serviceaccount/sa::bot", `{"tokenName":"c` + spoof + `i"}`},
				[3]string{"POST", "/api/v2/role", `{"name":"ad` + spoof + `mins"}`},
				[3]string{"POST", "/api/v2/usergroup", `{"name":"o` + spoof + `ps"}`},
				[3]string{"POST", "/api/v2/account/serviceaccount", `{"identifier":"sa::c` + spoof + `i"}`},
				[3]string{"POST", "/api/v2/account/user", `{"emailAddress":"a` + spoof + `b@example.com"}`},
			)
			if spoof != `\n` { // a description may run over lines
				requests = append(requests, [3]string{"PUT", "/api/v2/account/serviceaccount/sa::bot", `{"identifier":"sa::bot","description":"x` + spoof + `y"}`})
			}
		}
		e.refused(t, 400, requests, admin)
	})
}

// TestHostileAuditTrailShownAsSent: an unauthenticated sign-in writes what it sent into the
// audit trail (a newline, a bidirectional override); the trail keeps it as given, and the
// API's export shows those characters escaped while decoding to the same value.
func TestHostileAuditTrailShownAsSent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := bearer(e.user("admin@example.com", tokenward.UserManagement))
		sent := "evil\n\u202eadmin@example.com"
		_, err := e.service.SignIn(context.Background(), tokenward.SignInAttempt{Email: sent, Password: "guess guess guess", Address: "192.0.2.1"})
		if tokenward.ErrorCode(err) != tokenward.EUnauthorized {
			t.Fatalf("sign-in as %q: %v, want %s", sent, err, tokenward.EUnauthorized)
		}
		res := e.do("GET", "/api/v2/audit?action=signin.", "", admin)
		if !strings.Contains(string(res.Body), `evil\n\u202eadmin@example.com`) || strings.Contains(string(res.Body), "\u202e") {
			t.Errorf("the export does not show the newline and the override escaped: %s", res.Body)
		}
		var page struct {
			Response struct {
				Items []struct{ Target, Action string } `json:"items"`
			} `json:"response"`
		}
		if err := json.Unmarshal(res.Body, &page); err != nil || len(page.Response.Items) != 1 || page.Response.Items[0].Target != sent ||
			page.Response.Items[0].Action != tokenward.AuditSignInFailure {
			t.Errorf("audit trail %+v (%v), want one signin.failure with the target as sent", page.Response.Items, err)
		}
	})
}
