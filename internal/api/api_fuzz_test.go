package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/edge"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// fuzzAPI is one API server over SQLite for a whole fuzz target: every iteration talks to
// it over HTTP. Its state accumulates; admin and the fixtures are recreated when an
// iteration deletes or disables them.
type fuzzAPI struct {
	url     string
	client  *http.Client
	service *tokenward.Service
	logs    *testkit.Buffer // the warnings and errors logged since the last reset

	admin       string // an administrator with user_management and token_management
	adminSecret string

	// fixtures are what inputs name with placeholders; @saved is a saved search of admin.
	fixtures *testkit.FuzzFixtures
}

func newFuzzAPI(f *testing.F) *fuzzAPI {
	f.Helper()
	db := storetest.Open(f, store.SQLite)
	logs := &testkit.Buffer{Limit: 64 << 10}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	service, _ := newVerifiedService(f, db, time.Now, logger)
	srv := httptest.NewServer(api.New(service, api.Config{Org: "acme", Logger: logger}))
	f.Cleanup(srv.Close)
	client := srv.Client()
	client.Timeout = 10 * time.Second
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	e := &fuzzAPI{url: srv.URL, client: client, service: service, logs: logs,
		fixtures: &testkit.FuzzFixtures{Service: service, SavedQuery: `{"fixture":"account=sa"}`}}
	e.ensureFixtures(f)
	return e
}

// ensureAdmin makes adminSecret the token of a live administrator, creating a new one when
// an earlier request deleted the account, took its permissions or revoked the token.
func (e *fuzzAPI) ensureAdmin(t testing.TB) tokenward.Principal {
	t.Helper()
	ctx := context.Background()
	if e.adminSecret != "" {
		p, err := e.service.Authenticate(ctx, e.adminSecret)
		if err == nil && p.Permissions.Has(tokenward.UserManagement) && p.Permissions.Has(tokenward.TokenManagement) {
			return p
		}
	}
	e.admin = fmt.Sprintf("fuzz-admin-%d@example.com", e.fixtures.Fresh())
	if _, err := tokenward.NewOperator(e.service).CreateUser(ctx, e.admin,
		tokenward.NewPermissionSet(tokenward.UserManagement, tokenward.TokenManagement), ""); err != nil {
		t.Fatalf("create administrator %s: %v", e.admin, err)
	}
	secret, _, err := tokenward.NewOperator(e.service).GenerateToken(ctx, e.admin, "fuzz")
	if err != nil {
		t.Fatalf("token for %s: %v", e.admin, err)
	}
	e.adminSecret = secret.Reveal()
	p, err := e.service.Authenticate(ctx, e.adminSecret)
	if err != nil {
		t.Fatalf("a new administrator's token does not verify: %v", err)
	}
	return p
}

// ensureFixtures makes admin live and recreates the placeholders' fixtures that earlier
// requests removed.
func (e *fuzzAPI) ensureFixtures(t testing.TB) {
	t.Helper()
	e.fixtures.Ensure(t, e.ensureAdmin(t))
}

func fuzzIsHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// fuzzEscape keeps the characters a URL may carry as they are (and %XX escapes that are
// well formed) and escapes every other byte. In the path '?' is escaped too; inQuery keeps
// it.
func fuzzEscape(s string, inQuery bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && fuzzIsHex(s[i+1]) && fuzzIsHex(s[i+2]):
			b.WriteByte(c)
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
			b.WriteByte(c)
		case inQuery && c == '?':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// fuzzContainer checks that body is a response container whose status repeats the HTTP
// status, and returns its payload.
func fuzzContainer(t *testing.T, what string, code int, body []byte) json.RawMessage {
	t.Helper()
	var c struct {
		Status *struct {
			Result  string `json:"result"`
			Message string `json:"message"`
			Code    int    `json:"code"`
		} `json:"status"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &c); err != nil || c.Status == nil {
		t.Fatalf("%s: %d with body %q, not a response container (%v)", what, code, body, err)
	}
	if c.Status.Code != code {
		t.Fatalf("%s: status.code %d in a %d response: %s", what, c.Status.Code, code, body)
	}
	if want := map[bool]string{true: "OK", false: "ERROR"}[code < 300]; c.Status.Result != want {
		t.Fatalf("%s: status.result %q in a %d response: %s", what, c.Status.Result, code, body)
	}
	if code >= 300 && c.Response != nil {
		t.Fatalf("%s: an error container carries a response: %s", what, body)
	}
	return c.Response
}

// fuzzAnswersBare reports whether the OpenAPI document has req's route answer success
// with a bare model rather than a container.
func fuzzAnswersBare(t *testing.T, req *http.Request) bool {
	t.Helper()
	router, err := openAPIRouter()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	shape, err := successShape(router, req)
	return err == nil && shape == "bare"
}

type fuzzResponse struct {
	code   int
	header http.Header
	body   []byte
}

func (e *fuzzAPI) send(t *testing.T, req *http.Request) fuzzResponse {
	t.Helper()
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return fuzzResponse{code: res.StatusCode, header: res.Header, body: body}
}

var fuzzMethods = []string{
	http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions,
}

// Header choices of FuzzAPIRequests.
const (
	fuzzBearer = iota
	fuzzXAuthToken
	fuzzNoCredentials
	fuzzUnknownToken
	fuzzOtherScheme
	fuzzHeaderChoices
)

func FuzzAPIRequests(f *testing.F) {
	type seed struct {
		method byte
		path   string
		body   string
		header byte
	}
	const get, post, put, del, patch, head, options = 0, 1, 2, 3, 4, 5, 6
	seeds := []seed{
		{get, "apitoken", "", fuzzBearer},
		{get, "apitoken", "", fuzzXAuthToken},
		{get, "apitoken", "", fuzzNoCredentials},
		{get, "apitoken", "", fuzzUnknownToken},
		{get, "apitoken", "", fuzzOtherScheme},
		{head, "apitoken", "", fuzzBearer},
		{options, "apitoken", "", fuzzBearer},
		{patch, "apitoken", "{}", fuzzBearer},
		{post, "apitoken", "", fuzzBearer},
		{post, "apitoken", `{"tokenName":"ci"}`, fuzzBearer},
		{post, "apitoken", `{"tokenName":"` + strings.Repeat("x", 200) + `"}`, fuzzBearer},
		{post, "apitoken", `{"tokenName":"\u0000"}`, fuzzBearer},
		{post, "apitoken", `{"tokenName":1}`, fuzzBearer},
		{post, "apitoken", `{"tokenName":"a"}{"tokenName":"b"}`, fuzzBearer},
		{post, "apitoken", `{"tokenName":`, fuzzBearer},
		{post, "apitoken", "\xff\xfe", fuzzBearer},
		{put, "apitoken/tw_aaaaaaaaaaaaaaaa", `{"tokenName":"renamed"}`, fuzzBearer},
		{put, "apitoken/tw_aaaaaaaaaaaaaaaa", `{}`, fuzzBearer},
		{del, "apitoken/tw_aaaaaaaaaaaaaaaa", "", fuzzBearer},
		{del, "apitoken/00000000-0000-4000-8000-000000000000", "", fuzzBearer},
		{get, "apitoken/customertokens", "", fuzzBearer},
		{get, "apitoken/customertokens?limit=2&offset=1&sort=name", "", fuzzBearer},
		{get, "apitoken/customertokens/@token", "", fuzzBearer},
		{put, "apitoken/customertokens/revoke", `{"tokenID":"@token"}`, fuzzBearer},
		{put, "apitoken/customertokens/revoke", `["@token"]`, fuzzBearer},
		{post, "search/token", `{"query":[{"key":"account","value":"@sa","matchingMethod":"EXACT"}],"limit":10}`, fuzzBearer},
		{post, "search/token", `{"query":[{"key":"lastUsed","start":0,"end":9223372036854775807}]}`, fuzzBearer},
		{post, "search/token", `{"limit":1001}`, fuzzBearer},
		{post, "search/token", `{"sort":{"field":"nope"}}`, fuzzBearer},
		{post, "search/token/facets", `{"facetQuery":"fuzz","facets":["account","name"]}`, fuzzBearer},
		{post, "search/token/account", `{"facetQuery":"","limit":5}`, fuzzBearer},
		{post, "search/token/nofacet", `{}`, fuzzBearer},
		{get, "savedsearch", "", fuzzBearer},
		{post, "savedsearch", `{"entityType":"TOKEN","query":{"mine":"account=x"}}`, fuzzBearer},
		{post, "savedsearch", `{"entityType":"nope","query":{}}`, fuzzBearer},
		{get, "savedsearch/type/TOKEN?offset=0&limit=1", "", fuzzBearer},
		{get, "savedsearch/@saved", "", fuzzBearer},
		{put, "savedsearch/@saved", `{"entityType":"USER","query":{"renamed":"x"}}`, fuzzBearer},
		{del, "savedsearch/@saved", "", fuzzBearer},
		{get, "apitoken/serviceaccount/@sa", "", fuzzBearer},
		{post, "apitoken/serviceaccount/@sa", `{"tokenName":"deploy"}`, fuzzBearer},
		{put, "apitoken/serviceaccount/@sa/@token", `{"tokenName":"renamed"}`, fuzzBearer},
		{del, "apitoken/serviceaccount/@sa/@token", "", fuzzBearer},
		{get, "account/serviceaccount", "", fuzzBearer},
		{post, "account/serviceaccount", `{"identifier":"sa::ci","description":"CI","groups":["ingestion"],"active":true}`, fuzzBearer},
		{post, "account/serviceaccount", `{"identifier":"sa::bad name","groups":["token_management"]}`, fuzzBearer},
		{get, "account/serviceaccount/@sa", "", fuzzBearer},
		{put, "account/serviceaccount/@sa", `{"identifier":"@sa","description":"x","groups":[],"active":false}`, fuzzBearer},
		{post, "account/serviceaccount/@sa/activate", "", fuzzBearer},
		{post, "account/serviceaccount/@sa/deactivate", "", fuzzBearer},
		{post, "search/serviceaccount", `{"query":[{"key":"active","value":"true"}]}`, fuzzBearer},
		{get, "account?offset=0&limit=1000", "", fuzzBearer},
		{get, "account/@user", "", fuzzBearer},
		{del, "account/@user", "", fuzzBearer},
		{post, "account/deleteAccounts", `["@user","sa::nobody"]`, fuzzBearer},
		{post, "account/@user/grant/events_management", "", fuzzBearer},
		{post, "account/@sa/revoke/ingestion", "", fuzzBearer},
		{post, "account/grant/alerts_management", `["@user","@sa"]`, fuzzBearer},
		{post, "account/revoke/token_management", `["@sa"]`, fuzzBearer},
		{get, "account/user", "", fuzzBearer},
		{post, "account/user", `{"emailAddress":"new@example.com","groups":["ingestion"]}`, fuzzBearer},
		{post, "account/user", `{"emailAddress":"Not An Email","groups":["nope"]}`, fuzzBearer},
		{get, "account/user/admin", "", fuzzBearer},
		{post, "account/user/invite", `[{"emailAddress":"invited@example.com","groups":[]}]`, fuzzBearer},
		{get, "account/user/@user", "", fuzzBearer},
		{put, "account/user/@user", `{"identifier":"@user","groups":["ingestion","events_management"]}`, fuzzBearer},
		{post, "search/user", `{"query":[{"key":"identifier","value":"fuzz","matchingMethod":"STARTSWITH"}],"offset":0}`, fuzzBearer},
		{post, "account/validateAccounts", `["@user","@sa","nobody@example.com"]`, fuzzBearer},
		{post, "account/@user/addRoles", `["00000000-0000-4000-8000-000000000000"]`, fuzzBearer},
		{post, "account/@sa/addUserGroups", `[{"id":"x"}]`, fuzzBearer},
		{post, "account/@user/nope", `[]`, fuzzBearer},
		{get, "user", "", fuzzBearer},
		{post, "user?sendEmail=true", `{"emailAddress":"legacy+fuzz@example.com","groups":["ingestion"],"userGroups":null}`, fuzzBearer},
		{post, "user?sendEmail=maybe", `{"emailAddress":"x@example.com"}`, fuzzBearer},
		{get, "user/@user", "", fuzzBearer},
		{put, "user/@user", `{"identifier":"@user","groups":["ingestion"],"userGroups":[{"id":1}]}`, fuzzBearer},
		{post, "user/@user/grant", "group=ingestion", fuzzBearer},
		{post, "user/grant/ingestion", `["@user"]`, fuzzBearer},
		{post, "user/@user/addUserGroups", `[]`, fuzzBearer},
		{post, "user/validateUsers", `["@user","@sa"]`, fuzzBearer},
		{post, "user/deleteUsers", `["nobody@example.com"]`, fuzzBearer},
		{del, "user/@sa", "", fuzzBearer},
		{get, "role?offset=0&limit=2", "", fuzzBearer},
		{post, "role", `{"name":"fuzz-role","permissions":["ingestion"]}`, fuzzBearer},
		{put, "role/nope", `{"name":"x"}`, fuzzBearer},
		{post, "role/grant/ingestion", `["nope"]`, fuzzBearer},
		{post, "search/role", `{"query":[{"key":"limit","value":"d"},{"key":"name","value":"fuzz"}]}`, fuzzBearer},
		{get, "usergroup", "", fuzzBearer},
		{post, "usergroup", `{"name":"fuzz-group","roleIDs":[],"Roles":null}`, fuzzBearer},
		{post, "usergroup/nope/addUsers", `["@user"]`, fuzzBearer},
		{post, "search/usergroup", `{"query":[{"key":"name","value":"Everyone","matchingMethod":"EXACT"}]}`, fuzzBearer},
		{get, "audit", "", fuzzBearer},
		{get, "audit?actor=@user&target=@sa&action=token.&start=0&end=9223372036854775807&offset=0&limit=5", "", fuzzBearer},
		{get, "audit?start=-9223372036854775808&end=x&limit=-1", "", fuzzBearer},
		{get, "openapi.json", "", fuzzNoCredentials},
		{post, "openapi.json", "", fuzzNoCredentials},
		{get, "", "", fuzzBearer},
		{get, "nope", "", fuzzBearer},
		{get, "account/../apitoken", "", fuzzBearer},
		{get, "account/%2e%2e/apitoken", "", fuzzBearer},
		{get, "account/sa::x%2Fy", "", fuzzBearer},
		{get, "account/%00", "", fuzzBearer},
		{get, "account/é", "", fuzzBearer},
		{get, "apitoken//", "", fuzzBearer},
		{post, "search/token", `{"limit":1e400,"offset":-1}`, fuzzBearer},
		{post, "search/token", "null", fuzzBearer},
		{post, "search/token", `[]`, fuzzBearer},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, []byte(s.body), s.header)
	}
	e := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, methodIndex byte, rawPath string, body []byte, headerChoice byte) {
		if len(rawPath) > 2048 || len(body) > 64<<10 {
			t.Skip("too large for a fuzz iteration")
		}
		method := fuzzMethods[int(methodIndex)%len(fuzzMethods)]
		choice := int(headerChoice) % fuzzHeaderChoices
		if strings.ContainsRune(rawPath, '@') || bytes.ContainsRune(body, '@') {
			e.ensureFixtures(t)
		}
		e.ensureAdmin(t)
		p, query, hasQuery := strings.Cut(e.fixtures.Substitute(rawPath), "?")
		target := "/api/v2/" + fuzzEscape(p, false)
		if hasQuery {
			target += "?" + fuzzEscape(query, true)
		}
		reqBody := []byte(e.fixtures.Substitute(string(body)))
		req, err := http.NewRequest(method, e.url+target, bytes.NewReader(reqBody))
		if err != nil {
			t.Fatalf("request for %q: %v", target, err)
		}
		req.Header.Set("Content-Type", "application/json")
		switch choice {
		case fuzzBearer:
			req.Header.Set("Authorization", "Bearer "+e.adminSecret)
		case fuzzXAuthToken:
			req.Header.Set("X-AUTH-TOKEN", e.adminSecret)
		case fuzzUnknownToken:
			req.Header.Set("Authorization", "Bearer 00000000-0000-4000-8000-000000000000")
		case fuzzOtherScheme:
			req.Header.Set("Authorization", "Basic "+e.adminSecret)
		}
		e.logs.Reset()
		res := e.send(t, req)
		what := fmt.Sprintf("%s %s (header choice %d) with body %q", method, target, choice, reqBody)
		t.Logf("%s: %d", what, res.code)
		if res.code >= 500 {
			t.Fatalf("%s: %d %s\nserver log:\n%s", what, res.code, res.body, e.logs.String())
		}
		if badText := !utf8.ValidString(req.URL.Path) || strings.ContainsRune(req.URL.Path, 0) || len(req.URL.Path) > edge.MaxPathBytes; badText {
			// Text the service does not take is refused before routing, so an unclean path
			// that is also not valid text gets 400, not a redirect to more invalid text.
			if res.code != http.StatusBadRequest {
				t.Fatalf("%s: %d for a path that is not valid text, want 400", what, res.code)
			}
			return
		}
		if escaped := req.URL.EscapedPath(); testkit.CleanPath(escaped) != escaped {
			// net/http's ServeMux redirects an unclean path to the clean one (307 since Go
			// 1.22 for the clean path, 301 before).
			if res.code != http.StatusTemporaryRedirect && res.code != http.StatusMovedPermanently {
				t.Fatalf("%s: %d for an unclean path, want a redirect to %s", what, res.code, testkit.CleanPath(escaped))
			}
			return
		}
		authenticated := choice == fuzzBearer || choice == fuzzXAuthToken
		if authenticated && res.code == http.StatusUnauthorized {
			t.Fatalf("%s: 401 with a live administrator's token: %s", what, res.body)
		}
		isOpenAPI := req.URL.Path == "/api/v2/openapi.json" && (method == http.MethodGet || method == http.MethodHead)
		if !authenticated && res.code < 300 && !isOpenAPI {
			t.Fatalf("%s: %d without a valid token: %s", what, res.code, res.body)
		}
		if res.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: Cache-Control %q, want no-store", what, res.header.Get("Cache-Control"))
		}
		if method == http.MethodHead {
			if len(res.body) != 0 {
				t.Fatalf("%s: a HEAD response with a body: %q", what, res.body)
			}
			return
		}
		if isOpenAPI {
			if res.code != http.StatusOK || !json.Valid(res.body) {
				t.Fatalf("%s: %d, want 200 with the OpenAPI document", what, res.code)
			}
			return
		}
		if ct := res.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s: %d with Content-Type %q, want application/json", what, res.code, ct)
		}
		if res.code < 300 && fuzzAnswersBare(t, req) {
			// The model itself (reference §6): JSON, without a container's "status".
			var top map[string]json.RawMessage
			if !json.Valid(res.body) || json.Unmarshal(res.body, &top) == nil && top["status"] != nil {
				t.Fatalf("%s: %d with body %q, want a bare model", what, res.code, res.body)
			}
		} else {
			fuzzContainer(t, what, res.code, res.body)
		}
		if res.code == http.StatusUnauthorized && res.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s: 401 without WWW-Authenticate", what)
		}
		if res.code == http.StatusMethodNotAllowed && res.header.Get("Allow") == "" {
			t.Fatalf("%s: 405 without Allow", what)
		}
	})
}

// fuzzHeaderValue reports whether a client can send v as a header value.
func fuzzHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func FuzzCredentialHeaders(f *testing.F) {
	// @admin stands for the administrator's secret, @ADMIN for it in upper case: the
	// fuzzer cannot guess a secret, but it can mangle the ways of presenting one.
	for _, s := range [][2]string{
		{"Bearer @admin", ""},
		{"bearer @admin", ""},
		{"BEARER   @ADMIN  ", ""},
		{"Bearer\t@admin", ""},
		{"Bearer @admin", "garbage"},
		{"", "@admin"},
		{"", "Bearer @admin"},
		{"", "bearer @ADMIN"},
		{"", " @admin "},
		{"Basic @admin", "@admin"},
		{"Bearer", "@admin"},
		{"Bearer ", ""},
		{"@admin", ""},
		{"Bearer @admin @admin", ""},
		{"Bearer @admin,Bearer @admin", ""},
		{"Bearer {@admin}", ""},
		{"Bearer 00000000-0000-4000-8000-000000000000", ""},
		{"Bearer tw_aaaaaaaaaaaaaaaa", ""},
		{"Bearer " + strings.Repeat("a", 4000), ""},
		{"", "Bearer"},
		{"", "Bearer "},
		{"", "Bearer  Bearer @admin"},
		{"", ""},
		{"Bearer é", "\x80"},
	} {
		f.Add(s[0], s[1])
	}
	e := newFuzzAPI(f)
	f.Fuzz(func(t *testing.T, authorization, xAuthToken string) {
		if len(authorization) > 8<<10 || len(xAuthToken) > 8<<10 || !fuzzHeaderValue(authorization) || !fuzzHeaderValue(xAuthToken) {
			t.Skip("not a header value a client can send")
		}
		e.ensureAdmin(t)
		secret := e.adminSecret
		sub := strings.NewReplacer("@admin", secret, "@ADMIN", strings.ToUpper(secret))
		authorization, xAuthToken = sub.Replace(authorization), sub.Replace(xAuthToken)
		// The canonical ways of presenting the secret must work.
		mustPass := authorization == "Bearer "+secret ||
			authorization == "" && (xAuthToken == secret || xAuthToken == "Bearer "+secret)
		mayPass := strings.Contains(strings.ToLower(authorization+"\n"+xAuthToken), secret)
		var codes []int
		for _, target := range []string{"/api/v2/apitoken", "/auth/verify"} {
			req, err := http.NewRequest(http.MethodGet, e.url+target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if authorization != "" {
				req.Header.Set("Authorization", authorization)
			}
			if xAuthToken != "" {
				req.Header.Set("X-AUTH-TOKEN", xAuthToken)
			}
			e.logs.Reset()
			res := e.send(t, req)
			what := fmt.Sprintf("GET %s with Authorization %q and X-AUTH-TOKEN %q", target,
				strings.ReplaceAll(authorization, secret, "<secret>"), strings.ReplaceAll(xAuthToken, secret, "<secret>"))
			switch {
			case res.code != http.StatusOK && res.code != http.StatusUnauthorized:
				t.Fatalf("%s: %d %s, want 200 or 401\nserver log:\n%s", what, res.code, res.body, e.logs.String())
			case res.code == http.StatusOK && !mayPass:
				t.Fatalf("%s: 200 without the secret", what)
			case res.code == http.StatusUnauthorized && mustPass:
				t.Fatalf("%s: 401 for a canonical credential", what)
			case res.code == http.StatusUnauthorized && res.header.Get("WWW-Authenticate") == "":
				t.Fatalf("%s: 401 without WWW-Authenticate", what)
			}
			if target == "/auth/verify" && res.code == http.StatusOK {
				if got := res.header.Get("X-Tokenward-Account"); got != e.admin {
					t.Fatalf("%s: X-Tokenward-Account %q, want %q", what, got, e.admin)
				}
			} else {
				fuzzContainer(t, what, res.code, res.body)
			}
			codes = append(codes, res.code)
		}
		if codes[0] != codes[1] {
			t.Fatalf("Authorization %q and X-AUTH-TOKEN %q: the API answered %d, forward auth %d",
				strings.ReplaceAll(authorization, secret, "<secret>"), strings.ReplaceAll(xAuthToken, secret, "<secret>"), codes[0], codes[1])
		}
	})
}
