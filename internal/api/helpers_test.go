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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// env is a tokenward API served over real HTTP on one engine.
type env struct {
	t       *testing.T
	url     string
	dsn     string // the database's, for storetest.Fingerprint
	server  *api.Server
	service *tokenward.Service
	logs    *testkit.Buffer
	router  routers.Router
	// clock is the service's and the index's clock: a fixed start, moved only by the test.
	clock    *testkit.Clock
	verifier *auth.Verifier
	// secrets collects every secret the test saw, for the log check at the end.
	mu      sync.Mutex
	secrets []string
}

var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return legacyrouter.NewRouter(doc)
})

// newVerifiedService returns a service over db that verifies as serve does, from the
// in-memory index caught up by each write, the service and the index reading one clock,
// now. It fails the test when the index cannot be built.
func newVerifiedService(t testing.TB, db *store.DB, now func() time.Time, logger *slog.Logger) (*tokenward.Service, *auth.Verifier) {
	t.Helper()
	verifier := auth.New(db, now, logger, time.Hour)
	if err := verifier.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return tokenward.NewService(tokenward.Config{Store: db, Now: now, Verifier: verifier}), verifier
}

func newEnv(t *testing.T, engine store.Engine) *env {
	t.Helper()
	return newEnvWith(t, engine, nil)
}

// newEnvWith is newEnv with a change to the API's configuration.
func newEnvWith(t *testing.T, engine store.Engine, configure func(*api.Config)) *env {
	t.Helper()
	router, err := openAPIRouter()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	db, dsn := storetest.OpenDSN(t, engine)
	clock := testkit.NewClock()
	logs := &testkit.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	service, verifier := newVerifiedService(t, db, clock.Now, logger)
	cfg := api.Config{Org: "acme", Logger: logger}
	if configure != nil {
		configure(&cfg)
	}
	server := api.New(service, cfg)
	srv := httptest.NewServer(server)
	t.Cleanup(srv.Close)
	e := &env{t: t, url: srv.URL, dsn: dsn, server: server, service: service, logs: logs, router: router, clock: clock, verifier: verifier}
	t.Cleanup(e.checkLogsHoldNoSecret)
	return e
}

// checkLogsHoldNoSecret fails the test when any secret it used appears in the server log.
func (e *env) checkLogsHoldNoSecret() {
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		e.t.Errorf("the server logged no request line; the secret check below would prove nothing")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if strings.Contains(logs, s) {
			e.t.Errorf("secret ...%s appears in the server log", s[len(s)-4:])
		}
	}
}

func (e *env) remember(secret string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, secret)
	return secret
}

// user creates a user account with perms and returns a secret of a token of its own.
func (e *env) user(email string, perms ...tokenward.Permission) string {
	e.t.Helper()
	ctx := context.Background()
	if _, err := tokenward.NewOperator(e.service).CreateUser(ctx, email, tokenward.NewPermissionSet(perms...), ""); err != nil {
		e.t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return e.token(email)
}

// token generates a token for an existing account, as the CLI does, and returns its secret.
func (e *env) token(account string) string {
	e.t.Helper()
	secret, _, err := tokenward.NewOperator(e.service).GenerateToken(context.Background(), account, "setup")
	if err != nil {
		e.t.Fatalf("GenerateToken(%s): %v", account, err)
	}
	return e.remember(secret.Reveal())
}

// response is what a request got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// container decodes the response container, failing the test when the body is not one
// whose status repeats the HTTP status.
func (r response) container(t *testing.T) (result, message string, payload json.RawMessage) {
	t.Helper()
	var c struct {
		Status *struct {
			Result  string `json:"result"`
			Message string `json:"message"`
			Code    int    `json:"code"`
		} `json:"status"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(r.Body, &c); err != nil || c.Status == nil {
		t.Fatalf("body %q is not a response container (%v)", r.Body, err)
	}
	if c.Status.Code != r.Status {
		t.Errorf("status.code = %d, want the HTTP status %d", c.Status.Code, r.Status)
	}
	if want := map[bool]string{true: "OK", false: "ERROR"}[r.Status < 300]; c.Status.Result != want {
		t.Errorf("status.result = %q, want %q", c.Status.Result, want)
	}
	if r.Status >= 300 && c.Response != nil {
		t.Errorf("error container carries a response: %s", c.Response)
	}
	return c.Status.Result, c.Status.Message, c.Response
}

// do sends a request with the given headers ("Authorization: Bearer X" style strings) and
// validates the response against the OpenAPI document when the route is documented.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	got, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		e.t.Errorf("%s %s: Cache-Control = %q, want no-store", method, path, res.Header.Get("Cache-Control"))
	}
	e.validate(req, res, got)
	return response{Status: res.StatusCode, Header: res.Header, Body: got}
}

// bearer returns an Authorization header for secret.
func bearer(secret string) string { return "Authorization: Bearer " + secret }

func (e *env) validate(req *http.Request, res *http.Response, body []byte) {
	e.t.Helper()
	route, params, err := e.router.FindRoute(req)
	for _, v := range params {
		if v == "" { // the legacy router lets {param} match nothing; the server does not
			err = fmt.Errorf("empty path parameter")
		}
	}
	if err != nil {
		// Only requests that no route serves may be missing from the document.
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
			e.t.Errorf("%s %s answered %d but is not in the OpenAPI document: %v", req.Method, req.URL.Path, res.StatusCode, err)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		e.t.Errorf("%s %s: response %d does not match the OpenAPI document: %v", req.Method, req.URL.Path, res.StatusCode, err)
	}
}

// apiToken is a UserApiToken as a client decodes it.
type apiToken struct {
	TokenID       string    `json:"tokenID"`
	TokenName     string    `json:"tokenName"`
	Account       string    `json:"account"`
	AccountType   string    `json:"accountType"`
	DateGenerated int64     `json:"dateGenerated"`
	LastUsed      *int64    `json:"lastUsed"`
	ExpiresAt     *int64    `json:"expiresAt"`
	Disabled      *string   `json:"disabledReason"`
	AllowedCidrs  *[]string `json:"allowedCidrs"` // nil: null
	Permissions   *[]string `json:"permissions"`  // nil: null
}

// tokens decodes an OK container holding a token list.
func (r response) tokens(t *testing.T) []apiToken {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d (%s), want 200", r.Status, r.Body)
	}
	_, _, payload := r.container(t)
	var ts []apiToken
	if err := json.Unmarshal(payload, &ts); err != nil {
		t.Fatalf("response %s is not a token list: %v", payload, err)
	}
	return ts
}

// token decodes an OK container holding one token.
func (r response) token(t *testing.T) apiToken {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d (%s), want 200", r.Status, r.Body)
	}
	_, _, payload := r.container(t)
	var tok apiToken
	if err := json.Unmarshal(payload, &tok); err != nil {
		t.Fatalf("response %s is not a token: %v", payload, err)
	}
	return tok
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// serviceAccount creates a service account with perms and returns a secret of a token of it.
func (e *env) serviceAccount(id string, perms ...tokenward.Permission) string {
	e.t.Helper()
	if _, err := tokenward.NewOperator(e.service).CreateServiceAccount(context.Background(), id, tokenward.NewPermissionSet(perms...), ""); err != nil {
		e.t.Fatalf("CreateServiceAccount(%s): %v", id, err)
	}
	return e.token(id)
}

// bare decodes a 200 answer that is the model itself, failing the test when it is not
// (when it carries a response container's "status"). v may be nil.
func (r response) bare(t *testing.T, v any) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d (%s), want 200", r.Status, r.Body)
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(r.Body, &top) == nil {
		if _, ok := top["status"]; ok {
			t.Fatalf("body %.300s has a \"status\"; want the bare model, no container", r.Body)
		}
	} else if !json.Valid(r.Body) || r.Body[0] != '[' {
		t.Fatalf("body %.300s is neither a JSON object nor an array", r.Body)
	}
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			t.Fatalf("bare body %.300s: %v", r.Body, err)
		}
	}
}

// dual decodes a 200 "dual" answer (reference §10): a response container whose payload's
// fields are also repeated, equal, at the top level. v may be nil.
func (r response) dual(t *testing.T, v any) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d (%s), want 200", r.Status, r.Body)
	}
	_, _, payload := r.container(t)
	var inner, top map[string]json.RawMessage
	if err := json.Unmarshal(payload, &inner); err != nil || len(inner) == 0 {
		t.Fatalf("dual answer's response %.300s is not an object (%v)", payload, err)
	}
	if err := json.Unmarshal(r.Body, &top); err != nil {
		t.Fatal(err)
	}
	for k, want := range inner {
		if got, ok := top[k]; !ok || !bytes.Equal(got, want) {
			t.Errorf("dual answer: top-level %q = %s, want %s as in response", k, got, want)
		}
	}
	if len(top) != len(inner)+2 {
		t.Errorf("dual answer has %d top-level keys, want the %d of response plus status and response", len(top), len(inner))
	}
	if v != nil {
		if err := json.Unmarshal(payload, v); err != nil {
			t.Fatalf("dual response %.300s: %v", payload, err)
		}
	}
}

// successShape says how the OpenAPI document has a route answer success: "bare" (the model
// itself), "dual" (a container whose payload is repeated at the top level) or "container".
// The document is held to what the server sends by every test's validation.
func successShape(router routers.Router, req *http.Request) (string, error) {
	route, _, err := router.FindRoute(req)
	if err != nil {
		return "", err
	}
	ok := route.Operation.Responses.Status(http.StatusOK)
	if ok == nil || ok.Value == nil || ok.Value.Content.Get("application/json") == nil {
		return "", fmt.Errorf("%s %s documents no JSON 200 answer", req.Method, req.URL.Path)
	}
	schema := ok.Value.Content.Get("application/json").Schema.Value
	switch {
	case !slices.Contains(schema.Required, "status"):
		return "bare", nil
	case slices.Contains(schema.Required, "identifier"):
		return "dual", nil
	default:
		return "container", nil
	}
}

// shape is successShape for a request the test sends.
func (e *env) shape(method, path string) string {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	shape, err := successShape(e.router, req)
	if err != nil {
		e.t.Fatalf("shape of %s %s: %v", method, path, err)
	}
	return shape
}

// principal returns whom a token's secret speaks for, to make fixtures through the service.
func (e *env) principal(secret string) tokenward.Principal {
	e.t.Helper()
	p, err := e.service.Authenticate(context.Background(), secret)
	if err != nil {
		e.t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// role creates a role holding perms, as the administrator p, and returns its id.
func (e *env) role(p tokenward.Principal, name string, perms ...tokenward.Permission) string {
	e.t.Helper()
	set := tokenward.NewPermissionSet(perms...)
	r, err := e.service.CreateRole(context.Background(), p, tokenward.RoleWrite{Name: &name, Permissions: &set})
	if err != nil {
		e.t.Fatalf("CreateRole(%s): %v", name, err)
	}
	return r.ID
}

// group creates a user group holding roles, as the administrator p, and returns its id.
func (e *env) group(p tokenward.Principal, name string, roles ...string) string {
	e.t.Helper()
	g, err := e.service.CreateGroup(context.Background(), p, tokenward.GroupWrite{Name: &name, Roles: &roles})
	if err != nil {
		e.t.Fatalf("CreateGroup(%s): %v", name, err)
	}
	return g.ID
}
