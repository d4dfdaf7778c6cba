package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
	"github.com/tokenward/tokenward/internal/web"
)

// hostileRoute is one route of the API (an operation of the OpenAPI document) or of the
// console (a pattern of internal/web), and the kind of body it reads.
type hostileRoute struct {
	method, pattern string
	body            string // "object", "array", "form" or ""
}

// Where a hostile string goes.
const (
	inPath = iota
	inQuery
	inBody
	places
)

// hostileRoutes lists every route: the OpenAPI document's operations and the console's
// route table, so that a new page cannot be missed.
func hostileRoutes(t testing.TB) []hostileRoute {
	type operation struct {
		RequestBody struct {
			Content map[string]struct {
				Schema struct {
					Ref  string `json:"$ref"`
					Type string `json:"type"`
				} `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Type string `json:"type"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var routes []hostileRoute
	for p, ops := range doc.Paths {
		for m, raw := range ops {
			r := hostileRoute{method: strings.ToUpper(m), pattern: p}
			if !slices.Contains([]string{"GET", "POST", "PUT", "DELETE", "PATCH"}, r.method) {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatal(err)
			}
			for ct, c := range op.RequestBody.Content {
				typ := c.Schema.Type
				if c.Schema.Ref != "" {
					typ = doc.Components.Schemas[c.Schema.Ref[strings.LastIndex(c.Schema.Ref, "/")+1:]].Type
				}
				r.body = map[bool]string{true: "form", false: typ}[strings.Contains(ct, "form")]
			}
			routes = append(routes, r)
		}
	}
	for _, route := range web.New(tokenward.NewService(tokenward.Config{}), web.Config{}).Routes() {
		method, pattern, _ := strings.Cut(route.Pattern, " ")
		r := hostileRoute{method: method, pattern: strings.TrimSuffix(pattern, "{$}")}
		if r.method == "POST" {
			r.body = "form"
		}
		routes = append(routes, r)
	}
	if len(routes) < 120 {
		t.Fatalf("found %d routes; the OpenAPI document or internal/web moved", len(routes))
	}
	slices.SortFunc(routes, func(a, b hostileRoute) int { return strings.Compare(a.method+a.pattern, b.method+b.pattern) })
	return routes
}

// hostileEnv is the API with its console on PostgreSQL, with fixtures that the routes'
// other path parameters name, so that a request reaches as far as it can.
type hostileEnv struct {
	url, dsn      string
	client        *http.Client
	admin, cookie string
	fixtures      map[string]string // path parameter → an existing thing
	logs          *testkit.Buffer
}

func newHostileEnv(f testing.TB) *hostileEnv {
	db, dsn := storetest.OpenDSN(f, store.Postgres)
	clock := testkit.NewClock()
	logs := &testkit.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	service, _ := newVerifiedService(f, db, clock.Now, logger)
	srv := httptest.NewServer(api.New(service, api.Config{Org: "acme", Logger: logger,
		Console: web.New(service, web.Config{Org: "acme", Logger: logger})}))
	f.Cleanup(srv.Close)
	client := srv.Client()
	client.Timeout = 20 * time.Second
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	e := &hostileEnv{url: srv.URL, dsn: dsn, client: client, logs: logs, fixtures: map[string]string{}}

	ctx := context.Background()
	const password = "correct horse battery staple"
	must := func(err error) {
		f.Helper()
		if err != nil {
			f.Fatal(err)
		}
	}
	_, err := tokenward.NewOperator(service).CreateUser(ctx, "admin@example.com", tokenward.NewPermissionSet(tokenward.UserManagement, tokenward.TokenManagement), password)
	must(err)
	secret, _, err := tokenward.NewOperator(service).GenerateToken(ctx, "admin@example.com", "fuzz")
	must(err)
	e.admin = secret.Reveal()
	p, err := service.Authenticate(ctx, e.admin)
	must(err)
	signIn, err := service.SignIn(ctx, tokenward.SignInAttempt{Email: "admin@example.com", Password: password, Address: "127.0.0.1"})
	must(err)
	e.cookie = "tokenward_session=" + signIn.Session
	_, err = tokenward.NewOperator(service).CreateUser(ctx, "jane@example.com", 0, "")
	must(err)
	_, err = tokenward.NewOperator(service).CreateServiceAccount(ctx, "sa::bot", 0, "")
	must(err)
	_, saTokens, err := service.GenerateServiceAccountToken(ctx, p, "sa::bot", "ci", tokenward.Lifetime{}, tokenward.Restrictions{})
	must(err)
	saToken := saTokens[0]
	role, err := service.CreateRole(ctx, p, tokenward.RoleWrite{Name: ptr("viewers")})
	must(err)
	group, err := service.CreateGroup(ctx, p, tokenward.GroupWrite{Name: ptr("devs")})
	must(err)
	saved, err := service.CreateSavedSearch(ctx, p, "TOKEN", "name=mine")
	must(err)
	tokens, err := service.OwnTokens(ctx, p)
	must(err)
	hook, _, err := service.CreateWebhook(ctx, p, tokenward.Webhook{URL: "https://hooks.example.com/", Events: []string{"account.*"}, Active: true})
	must(err)
	_, err = tokenward.NewOperator(service).CreateServiceAccount(ctx, "sa::hooked", 0, "")
	must(err)
	deliveries, err := service.WebhookDeliveries(ctx, p, hook.ID, 0, 1)
	must(err)
	for k, v := range map[string]string{
		"saId": "sa::bot", "token": saToken.ID, "tokenId": saToken.ID, "permission": "ingestion", "facet": "name",
		"entityType": "TOKEN", "op": "add", "rest": "x", "role": role.ID, "group": group.ID, "saved": saved.ID,
		"own": tokens[0].ID, "user": "jane@example.com", "sa": "sa::bot",
		"webhook": hook.ID, "d": fmt.Sprint(deliveries.Items[0].ID),
	} {
		e.fixtures[k] = v
	}
	return e
}

func ptr[T any](v T) *T { return &v }

// fill gives a pattern's path parameters their fixtures, except the one named hostile,
// which gets the hostile string.
func (e *hostileEnv) fill(pattern string, hostile *string) string {
	segments := strings.Split(pattern, "/")
	for i, s := range segments {
		if !strings.HasPrefix(s, "{") {
			continue
		}
		name := strings.Trim(s, "{}.$")
		value := e.fixtures[name]
		if name == "id" { // what an {id} names depends on what the path is about
			prev := strings.Join(segments[:i], "/")
			switch {
			case strings.HasSuffix(prev, "serviceaccount"), strings.HasSuffix(prev, "service-accounts"):
				value = e.fixtures["sa"]
			case strings.HasSuffix(prev, "role"), strings.HasSuffix(prev, "roles"):
				value = e.fixtures["role"]
			case strings.HasSuffix(prev, "usergroup"), strings.HasSuffix(prev, "groups"):
				value = e.fixtures["group"]
			case strings.HasSuffix(prev, "savedsearch"), strings.HasSuffix(prev, "saved"):
				value = e.fixtures["saved"]
			case strings.HasSuffix(prev, "webhook"), strings.HasSuffix(prev, "webhooks"):
				value = e.fixtures["webhook"]
			case strings.HasSuffix(prev, "apitoken"), strings.HasSuffix(prev, "customertokens"), strings.HasSuffix(prev, "tokens"):
				value = e.fixtures["own"]
			default:
				value = e.fixtures["user"]
			}
		}
		if hostile != nil {
			value, hostile = *hostile, nil
		}
		segments[i] = url.PathEscape(value)
	}
	return strings.Join(segments, "/")
}

// jsonString writes s as a JSON string keeping its bytes: encoding/json would replace
// invalid UTF-8 with U+FFFD, and the point is to send it as it is.
func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteString(`\` + string(c))
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// hostileBody is a body of the route's kind with h wherever the route might read text.
func hostileBody(kind string, variant uint8, h string) string {
	j := jsonString(h)
	switch kind {
	case "form":
		v := url.Values{}
		for _, k := range []string{"group", "name", "description", "identifier", "email", "password", "token", "role", "member", "account", "q", "tokenName", "permission"} {
			v.Set(k, h)
		}
		return v.Encode()
	case "array":
		if variant%2 == 1 {
			return `[{"emailAddress":` + j + `,"groups":[` + j + `]}]`
		}
		return `[` + j + `]`
	case "object":
		return [...]string{
			`{"tokenName":` + j + `,"identifier":` + j + `,"description":` + j + `,"name":` + j + `,"emailAddress":` + j +
				`,"query":[{"key":"name","value":` + j + `}],"facetQuery":` + j + `,"facets":[` + j + `],"tokenID":` + j +
				`,"permissions":[` + j + `],"groups":[` + j + `],"userGroups":[` + j + `],"roles":[` + j + `],"entityType":"TOKEN"}`,
			`{"tokenName":` + j + `}`,
			`{"name":` + j + `,"description":` + j + `}`,
			`{"identifier":` + j + `,"description":` + j + `}`,
			`{"query":[{"key":"freetext","value":` + j + `}]}`,
			`{"emailAddress":` + j + `,"identifier":"x@example.com","credential":` + j + `}`,
		}[int(variant)%6]
	}
	return ""
}

// hostile makes s text that no engine may store: it already is when it holds a NUL or is
// not valid UTF-8; otherwise a NUL or an invalid byte goes into its middle.
func hostile(s string, invalidByte bool) string {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return s
	}
	insert := "\x00"
	if invalidByte {
		insert = "\xff"
	}
	return s[:len(s)/2] + insert + s[len(s)/2:]
}

// TestHostileTextEveryRoute sends every route (each operation of the OpenAPI document and
// each console route) a string no engine can store (a NUL, invalid UTF-8) in its path, its
// query and its body, on PostgreSQL: the engine that once answered such text with 500.
// Every answer must be a 4xx (400 when the text is in the path or query: the edge refuses
// it before anything reads it), and the data must be unchanged. FuzzHostileText then
// varies the text, the route and the body.
func TestHostileTextEveryRoute(t *testing.T) {
	routes := hostileRoutes(t)
	e := newHostileEnv(t)
	for i, r := range routes {
		for place := range places {
			e.probe(t, r, uint8(place|(i%2)<<2|(i%6)<<3), fmt.Sprintf("every-route-%d", i))
		}
	}
}

// FuzzHostileText is TestHostileTextEveryRoute with the text, the route (by index), the
// place and the body's shape chosen by the fuzzer; CI runs it on PostgreSQL.
func FuzzHostileText(f *testing.F) {
	routes := hostileRoutes(f)
	for i := 0; i < len(routes); i += 16 {
		f.Add(uint16(i), uint8(i%places), fmt.Sprintf("seed-%d", i))
	}
	f.Add(uint16(0), uint8(inBody|4), "\xff\xfe")
	f.Add(uint16(1), uint8(inQuery), "a\x00b")
	e := newHostileEnv(f)
	f.Fuzz(func(t *testing.T, index uint16, place uint8, text string) {
		e.probe(t, routes[int(index)%len(routes)], place, text)
	})
}

// probe sends route r the text made hostile, in the place that place's low bits choose
// (bit 2 picks a NUL or an invalid byte, the bits above the body's shape), and checks the
// answer and that the data did not change.
func (e *hostileEnv) probe(t *testing.T, r hostileRoute, place uint8, text string) {
	t.Helper()
	h := hostile(text, place&4 != 0)
	where := int(place) % places
	if where == inPath && !strings.Contains(r.pattern, "{") {
		where = inQuery
	}
	if where == inBody && r.body == "" {
		where = inQuery
	}
	var path, body string
	if where == inPath {
		path = e.fill(r.pattern, &h)
	} else {
		path = e.fill(r.pattern, nil)
	}
	if where == inQuery {
		path += "?limit=10&q=" + url.QueryEscape(h)
	}
	if where == inBody {
		body = hostileBody(r.body, place>>3, h)
	}
	req, err := http.NewRequest(r.method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s %q: %v", r.method, path, err)
	}
	switch r.body {
	case "form":
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case "object", "array":
		req.Header.Set("Content-Type", "application/json")
	}
	if strings.HasPrefix(r.pattern, "/console/") {
		req.Header.Set("Cookie", e.cookie)
	} else {
		req.Header.Set("Authorization", "Bearer "+e.admin)
	}

	before := storetest.Fingerprint(t, e.dsn, "audit_events", "signin_budgets")
	e.logs.Reset()
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s %q: %v", r.method, r.pattern, path, err)
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	what := fmt.Sprintf("%s %s with %q in the %s", r.method, r.pattern, h, [...]string{"path", "query", "body"}[where])
	switch {
	case res.StatusCode >= 500 || res.StatusCode < 400:
		t.Errorf("%s: %d, want a 4xx\n%.300s\nserver log:\n%s", what, res.StatusCode, answer, e.logs.String())
	case where != inBody && res.StatusCode != 400:
		t.Errorf("%s: %d, want 400 from the edge\n%.300s", what, res.StatusCode, answer)
	}
	if after := storetest.Fingerprint(t, e.dsn, "audit_events", "signin_budgets"); after != before {
		t.Errorf("%s changed the data:\nbefore:\n%s\nafter:\n%s", what, before, after)
	}
}
