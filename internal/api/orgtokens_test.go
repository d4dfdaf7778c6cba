package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

type tokenModel struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Account       string `json:"account"`
	AccountType   string `json:"accountType"`
	Customer      string `json:"customer"`
	DateGenerated int64  `json:"dateGenerated"`
	LastUsed      *int64 `json:"lastUsed"`
}

type tokenPage struct {
	Items      []tokenModel `json:"items"`
	Offset     int          `json:"offset"`
	Limit      int          `json:"limit"`
	TotalItems int          `json:"totalItems"`
	MoreItems  bool         `json:"moreItems"`
	Sort       struct {
		Field     string `json:"field"`
		Ascending bool   `json:"ascending"`
	} `json:"sort"`
}

func names(items []tokenModel) string {
	var out []string
	for _, it := range items {
		out = append(out, it.Name)
	}
	return strings.Join(out, ",")
}

// orgFixture makes tokens at known instants: "now" is fixed, each token is generated and
// used (or not) at the offsets given.
type orgFixture struct {
	now     time.Time
	admin   string
	secrets map[string]string // token name → secret
}

func newOrgFixture(t *testing.T, e *env) orgFixture {
	t.Helper()
	now := e.clock.Now()
	day := 24 * time.Hour
	f := orgFixture{now: now, secrets: map[string]string{}}
	e.clock.Set(now.Add(-400 * day))
	f.admin = e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
	e.serviceAccount("sa::deploy-bot", tokenward.Ingestion)
	e.serviceAccount("sa::old-bot")
	e.user("jane@example.com", tokenward.TokenManagement)
	tokens := []struct {
		name, account       string
		generated, lastUsed time.Duration // before now; lastUsed 0 = never
	}{
		{"used-exactly-7d", "jane@example.com", 20 * day, 7 * day},
		{"used-7d-and-1ms", "jane@example.com", 20 * day, 7*day + time.Millisecond},
		{"used-today", "sa::deploy-bot", 2 * day, time.Hour},
		{"never-used-old", "sa::deploy-bot", 31 * day, 0},
		{"never-used-new", "jane@example.com", day, 0},
		{"idle-exactly-30d", "sa::old-bot", 90 * day, 30 * day},
		{"idle-29d", "sa::old-bot", 90 * day, 29 * day},
		{"inactive-owner", "sa::old-bot", 40 * day, 35 * day},
	}
	for _, tok := range tokens {
		e.clock.Set(now.Add(-tok.generated))
		secret, _, err := tokenward.NewOperator(e.service).GenerateToken(t.Context(), tok.account, tok.name)
		if err != nil {
			t.Fatal(err)
		}
		f.secrets[tok.name] = e.remember(secret.Reveal())
		if tok.lastUsed != 0 {
			e.clock.Set(now.Add(-tok.lastUsed))
			if _, ok := e.verifier.Verify(secret.Digest(), tokenward.Caller{}); !ok {
				t.Fatalf("token %s does not verify", tok.name)
			}
			if err := e.verifier.FlushUsage(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.clock.Set(now)
	return f
}

func TestTokenSearch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		f := newOrgFixture(t, e)
		admin := bearer(f.admin)
		// sa::old-bot is deactivated after its tokens were made.
		e.do("POST", "/api/v2/account/serviceaccount/sa::old-bot/deactivate", "", admin).container(t)
		day := int64(24 * time.Hour / time.Millisecond)
		now := f.now.UnixMilli()
		notSetup := `{"key":"name","value":"setup","matchingMethod":"EXACT","negated":true}`

		tests := []struct {
			name, body string
			want       string // token names in order
		}{
			{"used in last 7 days (boundary included)",
				fmt.Sprintf(`{"query":[{"key":"lastUsed","start":%d}],"sort":{"field":"lastUsed","ascending":false}}`, now-7*day),
				"used-today,used-exactly-7d"},
			{"unused for 30 days or more (never used counts from generation)",
				fmt.Sprintf(`{"query":[{"key":"lastActivity","end":%d},%s],"sort":{"field":"name","ascending":true}}`, now-30*day, notSetup),
				"idle-exactly-30d,inactive-owner,never-used-old"},
			{"never used",
				`{"query":[{"key":"lastUsed","value":"","matchingMethod":"EXACT"},` + notSetup + `],"sort":{"field":"name","ascending":true}}`,
				"never-used-new,never-used-old"},
			{"account type service (active only)",
				`{"query":[{"key":"accountType","value":"SERVICE_ACCOUNT","matchingMethod":"EXACT"},` + notSetup + `],"sort":{"field":"name","ascending":true}}`,
				"never-used-old,used-today"},
			{"account type inactive service",
				`{"query":[{"key":"accountType","value":"INACTIVE_SERVICE_ACCOUNT","matchingMethod":"EXACT"},` + notSetup + `],"sort":{"field":"name","ascending":true}}`,
				"idle-29d,idle-exactly-30d,inactive-owner"},
			{"two accounts (values are an OR)",
				`{"query":[{"key":"account","values":["sa::deploy-bot","jane@example.com"]},` + notSetup + `],"sort":{"field":"dateGenerated","ascending":true}}`,
				"never-used-old,used-exactly-7d,used-7d-and-1ms,used-today,never-used-new"},
			{"AND of conditions, STARTSWITH, negated",
				`{"query":[{"key":"name","value":"USED","matchingMethod":"STARTSWITH"},{"key":"name","value":"7d","negated":true}],"sort":{"field":"name","ascending":true}}`,
				"used-today"},
			{"freetext matches the account",
				`{"query":[{"key":"freetext","value":"deploy-b"},` + notSetup + `],"sort":{"field":"name","ascending":true}}`,
				"never-used-old,used-today"},
			{"freetext matches the hint",
				`{"query":[{"key":"freetext","value":"` + f.secrets["idle-29d"][32:] + `"},` + notSetup + `]}`,
				"idle-29d"},
			{"dateGenerated range",
				fmt.Sprintf(`{"query":[{"key":"dateGenerated","start":%d,"end":%d}],"sort":{"field":"dateGenerated","ascending":false}}`, now-31*day, now-day),
				"never-used-new,used-today,used-7d-and-1ms,used-exactly-7d,never-used-old"},
			{"lastUsed ascending: never used first",
				`{"query":[{"key":"account","value":"jane@example.com","matchingMethod":"EXACT"},` + notSetup + `],"sort":{"field":"lastUsed","ascending":true}}`,
				"never-used-new,used-7d-and-1ms,used-exactly-7d"},
			{"wildcard TAGPATH",
				`{"query":[{"key":"name","value":"idle-*d","matchingMethod":"TAGPATH"}],"sort":{"field":"name","ascending":true}}`,
				"idle-29d,idle-exactly-30d"},
			{"LIKE wildcards in values are literal",
				`{"query":[{"key":"name","value":"%"}]}`, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var page tokenPage
				e.do("POST", "/api/v2/search/token", tc.body, admin).object(t, &page)
				if got := names(page.Items); got != tc.want {
					t.Errorf("got %s\nwant %s", got, tc.want)
				}
				if page.TotalItems != len(page.Items) || page.MoreItems {
					t.Errorf("totalItems %d, moreItems %v for a single page of %d", page.TotalItems, page.MoreItems, len(page.Items))
				}
			})
		}

		// The account type follows the account both ways, for tokens made while it was
		// inactive too (the token's copy of its account's state, migration 0019).
		typeNames := func(accountType string) string {
			var page tokenPage
			e.do("POST", "/api/v2/search/token", `{"query":[{"key":"accountType","value":"`+accountType+`","matchingMethod":"EXACT"},`+notSetup+
				`],"sort":{"field":"name","ascending":true}}`, admin).object(t, &page)
			return names(page.Items)
		}
		var made []apiToken
		e.do("POST", "/api/v2/apitoken/serviceaccount/sa::old-bot", `{"tokenName":"made-while-inactive"}`, admin).object(t, &made)
		madeSecret := ""
		for _, tok := range made {
			if tok.TokenName == "made-while-inactive" {
				madeSecret = e.remember(tok.TokenID)
			}
		}
		if got, want := typeNames("INACTIVE_SERVICE_ACCOUNT"), "idle-29d,idle-exactly-30d,inactive-owner,made-while-inactive"; got != want {
			t.Errorf("inactive service tokens %s, want %s", got, want)
		}
		e.do("POST", "/api/v2/account/serviceaccount/sa::old-bot/activate", "", admin).container(t)
		if got, want := typeNames("SERVICE_ACCOUNT"), "idle-29d,idle-exactly-30d,inactive-owner,made-while-inactive,never-used-old,used-today"; got != want {
			t.Errorf("after activation, service tokens %s, want %s", got, want)
		}
		if got := typeNames("INACTIVE_SERVICE_ACCOUNT"); got != "" {
			t.Errorf("after activation, inactive service tokens %s, want none", got)
		}
		e.do("POST", "/api/v2/account/serviceaccount/sa::old-bot/deactivate", "", admin).container(t)
		if got, want := typeNames("INACTIVE_SERVICE_ACCOUNT"), "idle-29d,idle-exactly-30d,inactive-owner,made-while-inactive"; got != want {
			t.Errorf("deactivated again, inactive service tokens %s, want %s", got, want)
		}
		if res := e.do("DELETE", "/api/v2/apitoken/serviceaccount/sa::old-bot/"+madeSecret, "", admin); res.Status != 200 {
			t.Fatalf("revoke made-while-inactive: %d %s", res.Status, res.Body)
		}

		// Model fields, and the default: every live token, newest first.
		var page tokenPage
		e.do("POST", "/api/v2/search/token", `{"query":null}`, admin).object(t, &page)
		if len(page.Items) != 12 || page.Sort.Field != "dateGenerated" || page.Sort.Ascending || page.Limit != 100 {
			t.Fatalf("default search: %d items sorted by %+v, limit %d; want 12 newest first, limit 100", len(page.Items), page.Sort, page.Limit)
		}
		for _, it := range page.Items {
			if it.Customer != "acme" || !strings.HasPrefix(it.ID, "tw_") || it.DateGenerated == 0 {
				t.Errorf("token model %+v: want customer acme, a public id, a generation date", it)
			}
			if it.Name == "inactive-owner" && it.AccountType != "INACTIVE_SERVICE_ACCOUNT" {
				t.Errorf("token of a deactivated account has accountType %s", it.AccountType)
			}
		}

		// Paging by any sort never repeats or skips a token.
		for _, sort := range []string{"id", "name", "account", "accountType", "dateGenerated", "lastUsed"} {
			for _, asc := range []bool{true, false} {
				seen := map[string]bool{}
				for offset := 0; offset < 12; offset += 5 {
					var p tokenPage
					e.do("POST", "/api/v2/search/token", fmt.Sprintf(`{"sort":{"field":%q,"ascending":%v},"limit":5,"offset":%d}`, sort, asc, offset), admin).object(t, &p)
					if want := offset+5 < 12; p.MoreItems != want || p.TotalItems != 12 {
						t.Errorf("sort %s asc=%v offset %d: moreItems %v totalItems %d, want %v and 12", sort, asc, offset, p.MoreItems, p.TotalItems, want)
					}
					for _, it := range p.Items {
						if seen[it.ID] {
							t.Errorf("sort %s asc=%v: token %s on two pages", sort, asc, it.Name)
						}
						seen[it.ID] = true
					}
				}
				if len(seen) != 12 {
					t.Errorf("sort %s asc=%v: %d distinct tokens over the pages, want 12", sort, asc, len(seen))
				}
			}
		}

		for _, body := range []string{`{"query":[{"key":"secret","value":"x"}]}`, `{"sort":{"field":"hint"}}`, `{"limit":1001}`, `{"limit":-1}`,
			`{"offset":-5}`, `{"query":[{"key":"lastUsed","value":"yesterday"}]}`, `{"query":[{"key":"name","start":1}]}`,
			`{"query":[{"key":"name","value":"x","matchingMethod":"FUZZY"}]}`, `{"query":"name"}`} {
			if res := e.do("POST", "/api/v2/search/token", body, admin); res.Status != 400 {
				t.Errorf("search %s: %d, want 400", body, res.Status)
			}
		}
	})
}

func TestOrgTokensListGetRevokeAndFacets(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		f := newOrgFixture(t, e)
		admin := bearer(f.admin)

		var all []tokenModel
		e.do("GET", "/api/v2/apitoken/customertokens", "", admin).object(t, &all)
		if len(all) != 12 {
			t.Fatalf("customertokens: %d tokens, want 12", len(all))
		}
		var one tokenModel
		e.do("GET", "/api/v2/apitoken/customertokens/"+f.secrets["used-today"], "", admin).object(t, &one)
		if one.Name != "used-today" || one.Account != "sa::deploy-bot" || one.LastUsed == nil {
			t.Errorf("customertokens/{secret} = %+v", one)
		}
		var byID tokenModel
		e.do("GET", "/api/v2/apitoken/customertokens/"+one.ID, "", admin).object(t, &byID)
		if byID.ID != one.ID || byID.Name != one.Name || *byID.LastUsed != *one.LastUsed || byID.DateGenerated != one.DateGenerated {
			t.Errorf("by id %+v differs from by secret %+v", byID, one)
		}

		// Revoke from the table: the token fails at once, and is gone from every listing.
		var revoked apiToken
		e.do("PUT", "/api/v2/apitoken/customertokens/revoke", `{"tokenID":"`+one.ID+`"}`, admin).object(t, &revoked)
		if revoked.TokenID != one.ID || revoked.TokenName != "used-today" {
			t.Errorf("revoke returned %+v", revoked)
		}
		if res := e.do("GET", "/auth/verify", "", bearer(f.secrets["used-today"])); res.Status != 401 {
			t.Errorf("token revoked from the table: %d, want 401", res.Status)
		}
		for _, path := range []string{"/api/v2/apitoken/customertokens/" + one.ID} {
			if res := e.do("GET", path, "", admin); res.Status != 404 {
				t.Errorf("GET %s after revoke: %d, want 404", path, res.Status)
			}
		}
		if res := e.do("PUT", "/api/v2/apitoken/customertokens/revoke", `{"tokenID":"`+one.ID+`"}`, admin); res.Status != 404 {
			t.Errorf("revoking twice: %d, want 404", res.Status)
		}
		if res := e.do("PUT", "/api/v2/apitoken/customertokens/revoke", `{}`, admin); res.Status != 400 {
			t.Errorf("revoke without tokenID: %d, want 400", res.Status)
		}
		e.do("GET", "/api/v2/apitoken/customertokens", "", admin).object(t, &all)
		if len(all) != 11 {
			t.Errorf("after revoke: %d tokens listed, want 11", len(all))
		}

		var facet struct {
			Items     []string `json:"items"`
			MoreItems bool     `json:"moreItems"`
		}
		e.do("POST", "/api/v2/search/token/account", `{"facetQuery":"BOT","facetQueryMatchingMethod":"contains"}`, admin).object(t, &facet)
		if strings.Join(facet.Items, ",") != "sa::deploy-bot,sa::old-bot" || facet.MoreItems {
			t.Errorf("account facet = %+v, want [sa::deploy-bot sa::old-bot]", facet)
		}
		e.do("POST", "/api/v2/search/token/account", `{"limit":2}`, admin).object(t, &facet)
		if len(facet.Items) != 2 || !facet.MoreItems {
			t.Errorf("account facet limit 2 = %+v, want 2 and more", facet)
		}
		var facets struct {
			Facets map[string][]string `json:"facets"`
		}
		e.do("POST", "/api/v2/search/token/facets", `{"facets":["accountType"],"query":[{"key":"account","value":"bot"}]}`, admin).object(t, &facets)
		// Both bots are active in this fixture: one distinct type.
		if got := strings.Join(facets.Facets["accountType"], ","); got != "SERVICE_ACCOUNT" {
			t.Errorf("accountType facet of the bots = %q, want SERVICE_ACCOUNT", got)
		}
		if res := e.do("POST", "/api/v2/search/token/secret", `{}`, admin); res.Status != 400 {
			t.Errorf("unknown facet: %d, want 400", res.Status)
		}
	})
}

func TestSavedSearches(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		jane := bearer(e.user("jane@example.com", tokenward.UserManagement))
		bob := bearer(e.user("bob@example.com"))
		type saved struct {
			ID         string            `json:"id"`
			EntityType string            `json:"entityType"`
			Query      map[string]string `json:"query"`
			UserID     string            `json:"userId"`
			UpdaterID  string            `json:"updaterId"`
		}
		var s saved
		query := `{"Stale service tokens":"accountType=SERVICE_ACCOUNT&usage=unused30"}`
		e.do("POST", "/api/v2/savedsearch", `{"entityType":"TOKEN","query":`+query+`}`, jane).object(t, &s)
		if s.ID == "" || s.EntityType != "TOKEN" || s.Query["Stale service tokens"] != "accountType=SERVICE_ACCOUNT&usage=unused30" || s.UserID != "jane@example.com" {
			t.Fatalf("created %+v", s)
		}
		var sa saved
		e.do("POST", "/api/v2/savedsearch", `{"entityType":"service_account","query":{"bots":"q=bot"}}`, jane).object(t, &sa)

		// Rename: the name is the query's key.
		e.do("PUT", "/api/v2/savedsearch/"+s.ID, `{"entityType":"TOKEN","query":{"Stale bots":"accountType=SERVICE_ACCOUNT&usage=unused30"}}`, jane).object(t, &s)
		if _, ok := s.Query["Stale bots"]; !ok {
			t.Errorf("renamed query = %v", s.Query)
		}
		var page struct {
			Items      []saved `json:"items"`
			TotalItems int     `json:"totalItems"`
		}
		e.do("GET", "/api/v2/savedsearch/type/TOKEN", "", jane).object(t, &page)
		if page.TotalItems != 1 || page.Items[0].ID != s.ID {
			t.Errorf("TOKEN searches = %+v, want the one", page)
		}
		e.do("GET", "/api/v2/savedsearch?offset=0&limit=10", "", jane).object(t, &page)
		if page.TotalItems != 2 {
			t.Errorf("all of jane's searches: %d, want 2", page.TotalItems)
		}
		// Per user: bob sees none of jane's and cannot touch them.
		e.do("GET", "/api/v2/savedsearch", "", bob).object(t, &page)
		if page.TotalItems != 0 {
			t.Errorf("bob sees %d searches, want 0", page.TotalItems)
		}
		for _, m := range []string{"GET", "DELETE"} {
			if res := e.do(m, "/api/v2/savedsearch/"+s.ID, "", bob); res.Status != 404 {
				t.Errorf("%s jane's search as bob: %d, want 404", m, res.Status)
			}
		}
		for _, body := range []string{`{"entityType":"DASHBOARD","query":{"a":"b"}}`, `{"entityType":"TOKEN"}`,
			`{"entityType":"TOKEN","query":"text"}`, `{"entityType":"TOKEN","query":{"a":1}}`, `{"entityType":"TOKEN","query":{"a":null}}`} {
			if res := e.do("POST", "/api/v2/savedsearch", body, jane); res.Status != 400 {
				t.Errorf("create %s: %d, want 400", body, res.Status)
			}
		}
		e.do("DELETE", "/api/v2/savedsearch/"+s.ID, "", jane).object(t, &s)
		if res := e.do("GET", "/api/v2/savedsearch/"+s.ID, "", jane); res.Status != 404 {
			t.Errorf("deleted search: %d, want 404", res.Status)
		}
	})
}
