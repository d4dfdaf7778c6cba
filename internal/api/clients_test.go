package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// clientJSON is a recentClients element as a client decodes it.
type clientJSON struct {
	Address   string `json:"address"`
	UserAgent string `json:"userAgent"`
	LastSeen  int64  `json:"lastSeen"`
}

// withClients is any token object, reduced to its name and recent clients.
type withClients struct {
	TokenName     string        `json:"tokenName"`
	Name          string        `json:"name"`
	RecentClients *[]clientJSON `json:"recentClients"`
}

// rendered renders recent clients as "address|user agent|seconds after start".
func rendered(t *testing.T, cs *[]clientJSON, start time.Time) []string {
	t.Helper()
	if cs == nil {
		t.Fatal("recentClients missing (or null)")
	}
	out := []string{}
	for _, c := range *cs {
		out = append(out, fmt.Sprintf("%s|%s|%d", c.Address, c.UserAgent, (c.LastSeen-start.UnixMilli())/1000))
	}
	return out
}

// clientsFixture: tokens used from known clients at known instants (behind a trusted
// proxy: the forwarded address counts), flushed once.
type clientsFixture struct {
	start         time.Time
	admin, jane   string
	jane1, ciMain string // secrets
}

func newClientsFixture(t *testing.T, e *env) clientsFixture {
	t.Helper()
	f := clientsFixture{start: e.clock.Now()}
	f.admin = e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
	f.jane = e.user("jane@example.com", tokenward.TokenManagement)
	f.jane1 = e.token("jane@example.com")
	e.serviceAccount("sa::ci")
	f.ciMain = e.token("sa::ci")
	uses := []struct{ secret, forwarded, agent string }{
		{f.jane1, "198.51.100.7", "curl/8.5"},
		{f.ciMain, "10.0.0.1, 203.0.113.10", "terraform/1.9"}, // the proxy's own entry, the last, counts
		{f.jane1, "2001:db8::5", "python-requests/2.32"},
		{f.ciMain, "203.0.113.200", `<b>bold</b> "quoted"`},
		{f.ciMain, "2001:db8:1::9", "Go-http-client/1.1"},
		{f.ciMain, "203.0.113.10", "terraform/1.9"}, // again: one client, newer
	}
	for _, u := range uses {
		e.clock.Advance(time.Second)
		if r := e.do("GET", "/auth/verify", "", bearer(u.secret), "X-Forwarded-For: "+u.forwarded, "User-Agent: "+u.agent); r.Status != http.StatusOK {
			t.Fatalf("forward auth from %s: %d %s", u.forwarded, r.Status, r.Body)
		}
	}
	if err := e.verifier.FlushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	return f
}

// TestRecentClientsInAnswers: every token answer that carries lastUsed carries
// recentClients too, newest first: own tokens, a service account's tokens, the org table's
// search, listing and single token; a never-used token has an empty list.
func TestRecentClientsInAnswers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnvWith(t, engine, func(c *api.Config) { c.TrustForwardedFor = true })
		f := newClientsFixture(t, e)
		janeWant := []string{"2001:db8::5|python-requests/2.32|3", "198.51.100.7|curl/8.5|1"}
		ciWant := []string{"203.0.113.10|terraform/1.9|6", "2001:db8:1::9|Go-http-client/1.1|5", `203.0.113.200|<b>bold</b> "quoted"|4`}

		// Every token's clients, one string per token, sorted: the answers' tokens hold
		// one used token each of jane and sa::ci, the rest never used.
		collect := func(r response) []string {
			t.Helper()
			var items []withClients
			_, _, payload := r.container(t)
			if err := json.Unmarshal(payload, &items); err != nil {
				var page struct{ Items []withClients }
				if err := json.Unmarshal(payload, &page); err != nil || page.Items == nil {
					t.Fatalf("%s: not a token list or page", payload)
				}
				items = page.Items
			}
			all := []string{}
			for _, it := range items {
				all = append(all, strings.Join(rendered(t, it.RecentClients, f.start), " ; "))
			}
			slices.Sort(all)
			return all
		}
		join := func(cs []string) string { return strings.Join(cs, " ; ") }
		checks := []struct {
			name string
			r    response
			want []string
		}{
			{"own tokens", e.do("GET", "/api/v2/apitoken", "", bearer(f.jane)), []string{"", join(janeWant)}},
			{"a service account's tokens", e.do("GET", "/api/v2/apitoken/serviceaccount/sa::ci", "", bearer(f.admin)), []string{"", join(ciWant)}},
			{"org search", e.do("POST", "/api/v2/search/token", `{"query":[{"key":"account","values":["jane@example.com","sa::ci"],"matchingMethod":"EXACT"}]}`, bearer(f.admin)),
				[]string{"", "", join(ciWant), join(janeWant)}},
			{"org listing", e.do("GET", "/api/v2/apitoken/customertokens", "", bearer(f.admin)), []string{"", "", "", join(ciWant), join(janeWant)}},
		}
		for _, c := range checks {
			want := slices.Clone(c.want)
			slices.Sort(want)
			if got := collect(c.r); !slices.Equal(got, want) {
				t.Errorf("%s: recent clients of the tokens\n got %q\nwant %q", c.name, got, want)
			}
		}
		// One token of the org table, named by its secret.
		var one withClients
		_, _, payload := e.do("GET", "/api/v2/apitoken/customertokens/"+f.ciMain, "", bearer(f.admin)).container(t)
		if err := json.Unmarshal(payload, &one); err != nil {
			t.Fatal(err)
		}
		if got := rendered(t, one.RecentClients, f.start); !slices.Equal(got, ciWant) {
			t.Errorf("one org token: %q, want %q", got, ciWant)
		}
	})
}

// TestSearchByClientAddress: the key clientAddress finds exactly the tokens with a recent
// client in a CIDR or at an address, IPv4 and IPv6, whatever the form, the same on both
// engines; a malformed value is a 400 that names the key.
func TestSearchByClientAddress(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnvWith(t, engine, func(c *api.Config) { c.TrustForwardedFor = true })
		f := newClientsFixture(t, e)
		search := func(cond string) (int, []string) {
			r := e.do("POST", "/api/v2/search/token", `{"query":[`+cond+`],"sort":{"field":"account","ascending":true}}`, bearer(f.admin))
			if r.Status != http.StatusOK {
				return r.Status, nil
			}
			var page struct{ Items []tokenModel }
			_, _, payload := r.container(t)
			if err := json.Unmarshal(payload, &page); err != nil {
				t.Fatal(err)
			}
			var accounts []string
			for _, it := range page.Items {
				accounts = append(accounts, it.Account)
			}
			return r.Status, accounts
		}
		cidr := func(v string) string { return `{"key":"clientAddress","value":"` + v + `"}` }
		tests := []struct {
			name, cond string
			want       []string
		}{
			{"IPv4 CIDR", cidr("203.0.113.0/24"), []string{"sa::ci"}},
			{"IPv4 CIDR with host bits", cidr("203.0.113.77/24"), []string{"sa::ci"}},
			{"IPv4 CIDR as mapped IPv6", cidr("::ffff:203.0.113.0/120"), []string{"sa::ci"}},
			{"one address", cidr("198.51.100.7"), []string{"jane@example.com"}},
			{"one address as /32", cidr("198.51.100.7/32"), []string{"jane@example.com"}},
			{"the neighbour addresses", `{"key":"clientAddress","values":["198.51.100.6","198.51.100.8"]}`, nil},
			{"the neighbour block", cidr("203.0.112.0/24"), nil},
			{"the proxy's address is not the client's", cidr("10.0.0.0/8"), nil},
			{"IPv6 CIDR of both", cidr("2001:db8::/32"), []string{"jane@example.com", "sa::ci"}},
			{"IPv6 /48", cidr("2001:db8:1::/48"), []string{"sa::ci"}},
			{"IPv6 address, EXACT", `{"key":"clientAddress","value":"2001:db8::5","matchingMethod":"EXACT"}`, []string{"jane@example.com"}},
			{"values are an OR", `{"key":"clientAddress","values":["198.51.100.0/24","203.0.113.200"]}`, []string{"jane@example.com", "sa::ci"}},
			{"every IPv4 address (no IPv6 client matches)", cidr("0.0.0.0/0"), []string{"jane@example.com", "sa::ci"}},
			{"negated: tokens with no client there", `{"key":"clientAddress","value":"203.0.113.0/24","negated":true},{"key":"account","values":["jane@example.com","sa::ci"],"matchingMethod":"EXACT"}`,
				[]string{"jane@example.com", "jane@example.com", "sa::ci"}},
		}
		for _, tc := range tests {
			status, got := search(tc.cond)
			if status != http.StatusOK || !slices.Equal(got, tc.want) {
				t.Errorf("%s: %d %q, want 200 %q", tc.name, status, got, tc.want)
			}
		}
		for _, bad := range []string{
			cidr("203.0.113.0/33"), cidr("not-an-address"), cidr(""), cidr("2001:db8::/129"), cidr("203.0.113.0/24/1"),
			`{"key":"clientAddress","value":"203.0.113.0/24","matchingMethod":"STARTSWITH"}`,
			`{"key":"clientAddress","value":"203.0.113.0/24","start":1}`,
		} {
			r := e.do("POST", "/api/v2/search/token", `{"query":[`+bad+`]}`, bearer(f.admin))
			_, message, _ := r.container(t)
			if r.Status != http.StatusBadRequest || !strings.Contains(message, "clientAddress") {
				t.Errorf("%s: %d %q, want 400 naming clientAddress", bad, r.Status, message)
			}
		}
	})
}
