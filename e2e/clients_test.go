package e2e

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// seenClient is one recentClients element as the API answers it.
type seenClient struct {
	Address, UserAgent string
	LastSeen           float64
}

// recentClientsOf returns the recent clients of the only token of a service account, read
// through the API with an administrator's token.
func recentClientsOf(t *testing.T, base, admin, account string) []seenClient {
	t.Helper()
	status, c := call(t, "GET", base+"/api/v2/apitoken/serviceaccount/"+account, admin, "")
	if status != http.StatusOK {
		t.Fatalf("tokens of %s: %d %v", account, status, c)
	}
	tokens, _ := c["response"].([]any)
	if len(tokens) != 1 {
		t.Fatalf("tokens of %s: %v, want one", account, c)
	}
	list, ok := tokens[0].(map[string]any)["recentClients"].([]any)
	if !ok {
		t.Fatalf("token without a recentClients list: %v", tokens[0])
	}
	var out []seenClient
	for _, x := range list {
		m := x.(map[string]any)
		out = append(out, seenClient{Address: m["address"].(string), UserAgent: m["userAgent"].(string), LastSeen: m["lastSeen"].(float64)})
	}
	return out
}

// useOnce has a client use a token once, through use, and waits until the token's recent
// clients, as flushed, hold it; it returns the client with the time the server noted. Each
// client is used once, so that the time seen is the client's last.
func useOnce(t *testing.T, use func(), clients func() []seenClient, want seenClient) seenClient {
	t.Helper()
	// Clients used within one tick of the verifier's clock (100ms) share a time; a pause
	// makes that rare, and the expectations hold either way (lastFive).
	time.Sleep(150 * time.Millisecond)
	use()
	deadline := time.Now().Add(30 * time.Second) // generous: a loaded machine, not a target
	for time.Now().Before(deadline) {
		for _, c := range clients() {
			if c.Address == want.Address && c.UserAgent == want.UserAgent {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("client %s %q never appeared in recentClients; have %+v", want.Address, want.UserAgent, clients())
	return seenClient{}
}

// lastFive returns the five clients a token keeps of those seen: the newest first and, for
// clients seen within one tick of the verifier's clock (one time), by their address's and
// then their user agent's bytes.
func lastFive(seen []seenClient) []seenClient {
	seen = slices.Clone(seen)
	slices.SortFunc(seen, func(a, b seenClient) int {
		if c := cmp.Compare(b.LastSeen, a.LastSeen); c != 0 {
			return c
		}
		aa, ba := netip.MustParseAddr(a.Address).As16(), netip.MustParseAddr(b.Address).As16()
		if c := bytes.Compare(aa[:], ba[:]); c != 0 {
			return c
		}
		return strings.Compare(a.UserAgent, b.UserAgent)
	})
	return seen[:min(5, len(seen))]
}

// TestRecentClientsThroughNginx: clients behind a load balancer and nginx forward auth
// (nginx takes the client's address from the balancer's X-Forwarded-For and passes it on,
// tokenward trusts its last entry) use one token from several addresses and user agents;
// nginx asks two tokenward instances in turn (round robin), so each instance notes some of
// the clients and flushes them into the one list. The token's recentClients are then
// exactly the last five, newest first, read on either instance, on both engines.
func TestRecentClientsThroughNginx(t *testing.T) {
	nginx := findNginx(t)
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dir := t.TempDir()
		dsn := storetest.DSN(t, engine)
		srv := binary.Start(t, dir, dsn, "--trust-forwarded-for", "--usage-flush", "50ms")
		other := binary.Start(t, dir, dsn, "--trust-forwarded-for", "--usage-flush", "50ms")
		run := func(args ...string) string { t.Helper(); return binary.RunOn(t, dir, dsn, args...) }
		run("serviceaccount", "create", "sa::shipper", "--permission", "ingestion")
		shipper := run("token", "create", "sa::shipper")
		admin := run("token", "create", "admin@localhost")
		for _, secret := range []string{shipper, admin} {
			if status := awaitVerify(t, srv.URL, secret); status != 200 {
				t.Fatalf("token from the command line: /auth/verify got %d, want 200", status)
			}
		}
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
		t.Cleanup(app.Close)
		// The test client plays the load balancer in front of nginx, which asks both
		// instances in turn.
		conf := strings.Replace(nginxConf, "        listen {{listen}};\n",
			"        listen {{listen}};\n        set_real_ip_from 127.0.0.1;\n        real_ip_header X-Forwarded-For;\n", 1)
		conf = strings.Replace(conf, "upstream tokenward { server {{tokenward}}; }",
			"upstream tokenward { server {{tokenward}}; server "+strings.TrimPrefix(other.URL, "http://")+"; }", 1)
		proxy := startNginxConf(t, nginx, conf, srv.URL, app.URL)
		allowedBefore := []float64{forwardAuthAllowed(t, srv.URL), forwardAuthAllowed(t, other.URL)}

		long := strings.Repeat("Mozilla/5.0 (long) ", 40) // 760 bytes: kept to 512
		uses := []struct {
			forwarded string
			want      seenClient
		}{
			{"198.51.100.1", seenClient{Address: "198.51.100.1", UserAgent: "curl/8.5.0"}},
			{"10.1.1.1, 198.51.100.2", seenClient{Address: "198.51.100.2", UserAgent: "terraform/1.9.8"}}, // the balancer's entry counts
			{"2001:db8::10", seenClient{Address: "2001:db8::10", UserAgent: "python-requests/2.32.3"}},
			{"203.0.113.4", seenClient{Address: "203.0.113.4", UserAgent: "Go-http-client/1.1"}},
			{"203.0.113.4", seenClient{Address: "203.0.113.4", UserAgent: "Go-http-client/2.0"}}, // same address, another client
			{"203.0.113.5", seenClient{Address: "203.0.113.5", UserAgent: long}},
			{"2001:db8::11", seenClient{Address: "2001:db8::11", UserAgent: "k6/0.50"}},
		}
		clients := func() []seenClient { return recentClientsOf(t, srv.URL, admin, "sa::shipper") }
		// awaitVerify's own use, straight to tokenward: a client too, the oldest.
		seen := []seenClient{useOnce(t, func() {}, clients, seenClient{Address: "127.0.0.1", UserAgent: "Go-http-client/1.1"})}
		for _, u := range uses {
			want := u.want
			want.UserAgent = want.UserAgent[:min(len(want.UserAgent), 512)]
			seen = append(seen, useOnce(t, func() {
				status, _, _, raw := through(t, proxy, "GET", "/ingest/x", "", []string{
					"Authorization: Bearer " + shipper, "X-Forwarded-For: " + u.forwarded, "User-Agent: " + u.want.UserAgent})
				if status != 200 {
					t.Fatalf("through nginx from %s: %d %s", u.forwarded, status, raw)
				}
			}, clients, want))
		}
		for i, base := range []string{srv.URL, other.URL} {
			if n := forwardAuthAllowed(t, base) - allowedBefore[i]; n < 2 {
				t.Errorf("instance %d allowed %v of nginx's %d requests, want some of them (round robin)", i, n, len(uses))
			}
		}
		got, want := clients(), lastFive(seen)
		if !slices.Equal(got, want) {
			t.Errorf("recentClients\n got %+v\nwant %+v", got, want)
		}
		if onOther := recentClientsOf(t, other.URL, admin, "sa::shipper"); !slices.Equal(onOther, want) {
			t.Errorf("recentClients read on the other instance\n got %+v\nwant %+v", onOther, want)
		}
		// Each client was used after the one before was written: the times follow the order
		// of use (equal within one tick of the clock), so these are the last five used.
		for i := 1; i < len(seen); i++ {
			if seen[i].LastSeen < seen[i-1].LastSeen {
				t.Errorf("client %s seen at %v, before the client used before it (%v)", seen[i].Address, seen[i].LastSeen, seen[i-1].LastSeen)
			}
		}
		if len(got) != 5 || got[4].LastSeen < seen[3].LastSeen {
			t.Errorf("recentClients %+v are not the last five used", got)
		}
		// The org table finds the token by where it was used, and not by where it was not.
		for _, cidr := range []string{"2001:db8::/64", "203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24", "127.0.0.1"} {
			r, err := tokenward.ParseAddressRange(cidr)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, c := range got {
				if r.Contains(netip.MustParseAddr(c.Address)) {
					want = 1
				}
			}
			status, c := call(t, "POST", srv.URL+"/api/v2/search/token", admin,
				fmt.Sprintf(`{"query":[{"key":"clientAddress","value":%q},{"key":"account","value":"sa::shipper","matchingMethod":"EXACT"}]}`, cidr))
			items, _ := c["response"].(map[string]any)["items"].([]any)
			if status != 200 || len(items) != want {
				t.Errorf("search clientAddress %s: %d, %d tokens; want %d", cidr, status, len(items), want)
			}
		}
	})
}

// forwardAuthAllowed returns how many forward-auth requests an instance allowed, from its
// metrics (the API's own requests are not counted there).
func forwardAuthAllowed(t *testing.T, base string) float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("GET %s/metrics: %v", base, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	m := regexp.MustCompile(`(?m)^tokenward_forward_auth_decisions_total\{decision="allow"\} (\S+)$`).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("%s/metrics has no tokenward_forward_auth_decisions_total{decision=\"allow\"}", base)
	}
	n, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConsoleShowsRecentClients: a token's row shows its recent clients in a disclosure
// (address, the user agent cut short with the whole of it in a title, escaped, and how
// long ago), and the API Tokens table filters by "used from" an address or a CIDR, with a
// clear refusal of a malformed one.
func TestConsoleShowsRecentClients(t *testing.T) {
	dir := t.TempDir()
	dsn := "tokenward.db"
	srv := binary.Start(t, dir, dsn, "--trust-forwarded-for", "--usage-flush", "50ms")
	password := regexp.MustCompile(`shown this once: (\S+)`).FindStringSubmatch(srv.Stdout.String())[1]
	run := func(args ...string) string { t.Helper(); return binary.RunOn(t, dir, dsn, args...) }
	run("serviceaccount", "create", "sa::ci", "--permission", "ingestion")
	run("serviceaccount", "create", "sa::other", "--permission", "ingestion")
	ci := run("token", "create", "sa::ci", "--name", "pipeline")
	other := run("token", "create", "sa::other", "--name", "elsewhere")
	admin := run("token", "create", "admin@localhost")
	for _, secret := range []string{ci, other, admin} {
		if status := awaitVerify(t, srv.URL, secret); status != 200 {
			t.Fatalf("token from the command line: /auth/verify got %d, want 200", status)
		}
	}
	hostile := `<img src=x onerror="document.title='pwned'"> Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0`
	uses := []seenClient{
		{Address: "127.0.0.1", UserAgent: "Go-http-client/1.1"}, // awaitVerify's, without a proxy
		{Address: "198.51.100.20", UserAgent: "curl/8.5.0"},
		{Address: "2001:db8::20", UserAgent: hostile},
		{Address: "203.0.113.20", UserAgent: "terraform-provider-wavefront/5.1.0"},
	}
	clients := func() []seenClient { return recentClientsOf(t, srv.URL, admin, "sa::ci") }
	var seen []seenClient
	for _, u := range uses {
		seen = append(seen, useOnce(t, func() {
			if u.Address == "127.0.0.1" {
				return // awaitVerify's use
			}
			req, _ := http.NewRequest("GET", srv.URL+"/auth/verify", nil)
			req.Header.Set("Authorization", "Bearer "+ci)
			req.Header.Set("X-Forwarded-For", u.Address)
			req.Header.Set("User-Agent", u.UserAgent)
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("/auth/verify from %s: %v %v", u.Address, res, err)
			}
			res.Body.Close()
		}, clients, u))
	}
	order := lastFive(seen)                                       // all four, newest first
	req, _ := http.NewRequest("GET", srv.URL+"/auth/verify", nil) // the other token: from elsewhere
	req.Header.Set("Authorization", "Bearer "+other)
	req.Header.Set("X-Forwarded-For", "192.0.2.99")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Fatalf("/auth/verify of the other token: %v %v", res, err)
	}

	b := newBrowser(t, srv.URL)
	b.open("/console/signin")
	b.signIn("admin@localhost", password)

	t.Run("a service account's token shows its recent clients", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/service-accounts/sa::ci")
		if got := b.text("details.clients summary"); got != "Recent clients (4)" {
			t.Errorf("disclosure summary %q, want Recent clients (4)", got)
		}
		b.click("details.clients summary")
		b.shot("recent-clients-open")
		type item struct{ Address, Agent, Title, Ago, When string }
		items := value(b, chromedp.Evaluate[[]item](`[...document.querySelectorAll("details.clients li")].map(li => ({
			Address: li.querySelector(".address").innerText, Agent: li.querySelector(".agent").innerText,
			Title: li.querySelector(".agent").title, Ago: li.querySelector("time").innerText,
			When: li.querySelector("time").getAttribute("datetime")}))`))
		if len(items) != len(uses) {
			t.Fatalf("%d clients listed, want %d: %+v", len(items), len(uses), items)
		}
		for i, it := range items {
			want := order[i]
			if it.Address != want.Address || it.Title != want.UserAgent {
				t.Errorf("client %d: %s %q, want %s %q", i, it.Address, it.Title, want.Address, want.UserAgent)
			}
			if len(want.UserAgent) > 40 && (!strings.HasSuffix(it.Agent, "…") || len([]rune(it.Agent)) != 40 || !strings.HasPrefix(want.UserAgent, strings.TrimSuffix(it.Agent, "…"))) {
				t.Errorf("client %d: long user agent shown as %q, want its first 39 characters and …", i, it.Agent)
			} else if len(want.UserAgent) <= 40 && it.Agent != want.UserAgent {
				t.Errorf("client %d: user agent shown as %q, want %q", i, it.Agent, want.UserAgent)
			}
			if !regexp.MustCompile(`^(just now|\d+ minutes? ago)$`).MatchString(it.Ago) || it.When == "" {
				t.Errorf("client %d: seen %q (%s), want a relative time", i, it.Ago, it.When)
			}
		}
		if n := b.count("details.clients img"); n != 0 || value(b, chromedp.Evaluate[string]("document.title")) == "pwned" {
			t.Errorf("the user agent's markup was rendered (%d img elements)", n)
		}
	})

	t.Run("the API Tokens table filters by client address", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/accounts/api-tokens")
		b.type_("#client", "203.0.113.0/24")
		b.do(chromedp.SendKeys(chromedp.CSS("#client"), kb.Enter))
		b.waitURL("client=203.0.113.0%2F24")
		b.waitText("Used from 203.0.113.0/24")
		b.shot("recent-clients-filter")
		// The name's column found by its heading: administrators' tables start with a
		// selection column.
		rows := value(b, chromedp.Evaluate[[]string](`(() => {
			const col = [...document.querySelectorAll("table.tokens thead th")].findIndex(th => th.textContent.trim().startsWith("Token Name"));
			return [...document.querySelectorAll("table.tokens tbody tr")].map(tr => tr.cells[col].innerText);
		})()`))
		if len(rows) != 1 || rows[0] != "pipeline" {
			t.Errorf("rows used from 203.0.113.0/24: %q, want [pipeline]", rows)
		}
		if got := b.text("table.tokens details.clients summary"); got != "Recent clients (4)" {
			t.Errorf("the row's disclosure: %q, want Recent clients (4)", got)
		}
		b.open("/console/accounts/api-tokens?client=2001:db8::/32")
		if rows := b.count("table.tokens tbody tr"); rows != 1 {
			t.Errorf("%d rows used from 2001:db8::/32, want 1", rows)
		}
		b.open("/console/accounts/api-tokens?client=203.0.113.0/33")
		b.waitText("takes an IP address or a CIDR")
		if got := value(b, chromedp.Value(chromedp.CSS("#client"))); got != "203.0.113.0/33" {
			t.Errorf("the malformed value is not kept in its field: %q", got)
		}
	})
}
