// Package api serves tokenward's REST API, compatible with the accounts and API-token part
// of the Wavefront v2 API: every route is listed in routes.go, every error and most answers
// are Wavefront response containers (the reference's §6 and §10 list the answers that are
// bare models or "dual"), and every rule comes from tokenward.Service.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
	"github.com/tokenward/tokenward/internal/limit"
)

// DefaultOrg is the organization's name when the configuration names none.
const DefaultOrg = "tokenward"

// Config is what the API needs besides the service.
type Config struct {
	Org     string // the organization's name, reported as "customer"; empty means DefaultOrg
	Logger  *slog.Logger
	Console http.Handler // the web console, served under /console/; nil for none
	// Ready reports whether the instance can answer correctly (index built, database
	// reachable); nil means always ready.
	Ready func(context.Context) error
	// Metrics is the registry served at /metrics; the API registers its own metrics in it.
	// nil makes a private one.
	Metrics *prometheus.Registry
	// InvalidTokens limits requests with invalid tokens per source address (nil: none).
	// Valid tokens are never counted or refused.
	InvalidTokens *limit.Limiter
	// LogEveryVerdict logs each forward-auth request as any other request; by default their
	// verdicts are counted and logged once a second (verdictlog.go).
	LogEveryVerdict bool
	// LeakReports limits unauthenticated revoke-by-value requests per source address (nil:
	// 60 an hour, reference §14).
	LeakReports *limit.Limiter
	// TrustForwardedFor counts failures against X-Forwarded-For (see ClientAddress).
	TrustForwardedFor bool
}

// Server is the HTTP API.
type Server struct {
	service   *tokenward.Service
	org       string
	logger    *slog.Logger
	mux       *http.ServeMux
	console   http.Handler
	ready     func(context.Context) error
	registry  *prometheus.Registry
	metrics   *metrics
	invalid   *limit.Limiter
	leaks     *limit.Limiter
	verdicts  *verdictLog // nil: forward auth logs each request
	headers   sync.Map    // tokenward.PermissionSet → its X-Tokenward-Permissions value
	recorders sync.Pool   // *statusRecorder
	trustXFF  bool
	table     []edge.Route // every route behind authentication, for Routes
}

// New returns the API over service.
func New(service *tokenward.Service, cfg Config) *Server {
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	if cfg.Org == "" {
		cfg.Org = DefaultOrg // clients reject an empty customer
	}
	if cfg.LeakReports == nil {
		cfg.LeakReports = limit.New(limit.Rule{Burst: 60, Per: time.Hour}, time.Now)
	}
	s := &Server{leaks: cfg.LeakReports, service: service, org: cfg.Org, logger: cfg.Logger, mux: http.NewServeMux(), console: cfg.Console,
		ready: cfg.Ready, registry: cfg.Metrics, metrics: newMetrics(cfg.Metrics), invalid: cfg.InvalidTokens,
		trustXFF: cfg.TrustForwardedFor}
	if !cfg.LogEveryVerdict {
		s.verdicts = newVerdictLog(s.metrics.requests, "/auth/verify", "/auth/verify/")
	}
	s.recorders.New = func() any { return new(statusRecorder) }
	s.routes()
	return s
}

// ServeHTTP serves a request with recovery, security headers and one log line per request.
// The log line names the route pattern, never the path: a path may carry a token's secret.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := s.recorders.Get().(*statusRecorder)
	*rec = statusRecorder{ResponseWriter: w, status: http.StatusOK}
	h := rec.Header()
	if isVerifyPath(r.URL.Path) {
		// A verdict is for the proxy, which shows a browser none of a 200's headers; its
		// refusals carry the others (forwardAuth). Not caching it is the one that matters.
		h["Cache-Control"] = noStore
	} else {
		setSecurityHeaders(h)
	}
	if r.TLS != nil {
		// Served over HTTPS by tokenward itself (--tls-cert): browsers keep to HTTPS for a
		// year. Not includeSubDomains: other hosts of the domain are not ours to decide.
		// Behind a TLS-terminating proxy the proxy sets it.
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				s.logger.Warn("request aborted midway", "method", r.Method, "route", r.Pattern, "remote", r.RemoteAddr)
				s.metrics.requests.WithLabelValues(r.Pattern, "aborted").Inc()
				panic(v)
			}
			s.logger.Error("panic serving request", "method", r.Method, "route", r.Pattern, "panic", v, "stack", string(debug.Stack()))
			if !rec.wrote {
				writeError(rec, errors.New("panic"))
			}
		}
		if s.verdicts == nil || !s.verdicts.note(s.logger, r.Pattern, rec.status, s.metrics.requests, start) {
			s.logger.Info("request", "method", r.Method, "route", r.Pattern, "status", rec.status,
				"duration_ms", float64(time.Since(start).Microseconds())/1000, "remote", r.RemoteAddr)
			s.metrics.requests.WithLabelValues(r.Pattern, strconv.Itoa(rec.status)).Inc()
		}
		s.putRecorder(rec) // last: the lines above read it (an aborted request re-panicked before)
	}()
	if strings.HasPrefix(r.URL.Path, "/console/") && !strings.HasPrefix(path.Clean(r.URL.Path)+"/", "/console/") {
		// A console path that climbs out of it ("/console/..", from a link or form whose id
		// is ".."): to the console's start, where ServeMux would send it to the clean path
		// outside. 307, as ServeMux's, keeps the method. (Not a verdict path: the security
		// headers are already set.)
		http.Redirect(rec, r, "/console/", http.StatusTemporaryRedirect)
		return
	}
	// The console checks its own requests, to answer them with a page.
	if !strings.HasPrefix(r.URL.Path, "/console/") {
		if err := edge.CheckRequestText(r); err != nil {
			setSecurityHeaders(h)
			writeError(rec, err)
			return
		}
	}
	s.mux.ServeHTTP(rec, r)
}

// securityHeaders go on every answer. The values are shared by every response rather than
// made per request (http.Header.Set allocates a slice a call, four per verdict); sharing is
// safe because net/http only reads them, and Header.Add on a shared key appends to a full
// slice, which copies it. Cache-Control: answers may carry a new secret, console pages too.
var noStore = []string{"no-store"}

var securityHeaders = http.Header{
	"X-Content-Type-Options": {"nosniff"},
	"X-Frame-Options":        {"DENY"},
	"Referrer-Policy":        {"no-referrer"},
	"Cache-Control":          noStore,
}

func setSecurityHeaders(h http.Header) {
	for name, values := range securityHeaders {
		h[name] = values
	}
}

// putRecorder returns rec to the pool once its request is answered: a recorder a request,
// made on the verification path, was an allocation net/http does not need.
func (s *Server) putRecorder(rec *statusRecorder) {
	*rec = statusRecorder{}
	s.recorders.Put(rec)
}

// statusRecorder remembers the status written, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// status is the "status" member of every response container.
type status struct {
	Result  string `json:"result"`
	Message string `json:"message"`
	Code    int    `json:"code"`
}

// container is Wavefront's response container; an error has no "response".
type container struct {
	Status   status `json:"status"`
	Response any    `json:"response,omitempty"`
}

// writeOK writes payload in an OK container with status 200.
func writeOK(w http.ResponseWriter, payload any) {
	writeJSON(w, http.StatusOK, container{Status: status{Result: "OK", Code: http.StatusOK}, Response: payload})
}

// writeError writes err as an ERROR container with the status its code maps to. Internal
// errors are reported as a generic message; their details belong in the server log.
func writeError(w http.ResponseWriter, err error) {
	c, ok := cannedErrors[err]
	if !ok {
		c = errorAnswer(err)
		edge.SetRetryAfter(w, err)
	}
	writeCanned(w, c)
}

// writeCanned writes an error's whole answer.
func writeCanned(w http.ResponseWriter, c cannedError) {
	h := w.Header()
	if c.challenge != nil {
		h["Www-Authenticate"] = c.challenge
	}
	h["Content-Type"] = jsonContentType
	w.WriteHeader(c.status)
	w.Write(c.body)
}

// errorAnswer is the answer to err: its status, its WWW-Authenticate challenge (401 only)
// and the ERROR container.
func errorAnswer(err error) cannedError {
	code := edge.StatusOf(tokenward.ErrorCode(err))
	c := cannedError{status: code, body: encodeJSON(container{Status: status{Result: "ERROR", Message: tokenward.ErrorMessage(err), Code: code}})}
	if err == tokenward.ErrNoCredentials {
		c.challenge = []string{`Bearer realm="tokenward"`}
	} else if code == http.StatusUnauthorized {
		c.challenge = []string{`Bearer realm="tokenward", error="invalid_token"`}
	}
	return c
}

// cannedError is the whole answer to an error. Those every refused verification gets are
// made once (cannedErrors): the 401 path then answers without encoding the same JSON on
// every request (see securityHeaders for why header values may be shared).
type cannedError struct {
	status    int
	challenge []string
	body      []byte
}

var jsonContentType = []string{"application/json"}

var cannedErrors = map[error]cannedError{
	tokenward.ErrInvalidToken:  errorAnswer(tokenward.ErrInvalidToken),
	tokenward.ErrNoCredentials: errorAnswer(tokenward.ErrNoCredentials),
}

// limitedVerdict is forward auth's answer to an address over its invalid-token budget
// (with its Retry-After): 401, not 429, which nginx's auth_request would turn into a 500.
var limitedVerdict = errorAnswer(&tokenward.Error{Code: tokenward.EUnauthorized, Message: invalidBudgetMessage})

// verifyPath is forward auth's route, and the root of the paths it also answers.
const verifyPath = "/auth/verify"

// isVerifyPath says whether the mux routes path to forward auth.
func isVerifyPath(path string) bool {
	return path == verifyPath || strings.HasPrefix(path, verifyPath+"/")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(code)
	w.Write(encodeJSON(v))
}

// encodeJSON is v as the API writes JSON: invisible characters escaped, a final newline.
func encodeJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"status":{"result":"ERROR","message":"the answer could not be encoded","code":500}}`)
	}
	return append(escapeInvisible(b), '\n')
}

// escapeInvisible writes the invisible format characters of a JSON text (bidirectional
// overrides, zero-width characters) as \u escapes, as encoding/json already does for
// control characters: the values decode the same, and a person reading an export (the
// audit trail keeps what requests sent) sees them. They can only occur inside strings.
func escapeInvisible(b []byte) []byte {
	if !slices.ContainsFunc(b, func(c byte) bool { return c >= 0xC2 }) {
		return b // ASCII: nothing to do, the common case
	}
	var out []byte
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if !unicode.Is(unicode.Cf, r) {
			out = append(out, b[i:i+size]...)
		} else if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += size
	}
	return out
}

// decodeBody decodes a JSON request body into v. An empty body leaves v as it is when
// optional is true and is an EInvalid error otherwise. Unknown fields are ignored: clients
// send legacy fields that must not fail a request.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, edge.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return tokenward.Errorf(tokenward.ETooLarge, "the request body is larger than %d bytes", edge.MaxBodyBytes)
	}
	if err != nil {
		return tokenward.Errorf(tokenward.EInvalid, "the request body could not be read")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return nil
		}
		return tokenward.Errorf(tokenward.EInvalid, "a JSON request body is required")
	}
	if !utf8.Valid(body) {
		return tokenward.Errorf(tokenward.EInvalid, "the request body must be valid UTF-8")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(v); err != nil {
		return invalidJSON(err)
	}
	if dec.More() {
		return tokenward.Errorf(tokenward.EInvalid, "the request body holds more than one JSON value")
	}
	var text any
	if err := json.Unmarshal(body, &text); err != nil {
		return invalidJSON(err)
	}
	return edge.CheckJSONText(text)
}

// invalidJSON turns a decoding error into a message that says what was wrong and where,
// without quoting the input (which may hold a secret).
func invalidJSON(err error) error {
	var own *tokenward.Error
	if errors.As(err, &own) {
		return own // a decoder of ours said what was wrong
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return tokenward.Errorf(tokenward.EInvalid, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return tokenward.Errorf(tokenward.EInvalid, "field %q must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return tokenward.Errorf(tokenward.EInvalid, "the request body must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return tokenward.Errorf(tokenward.EInvalid, "malformed JSON: the body ends early")
	default:
		return tokenward.Errorf(tokenward.EInvalid, "malformed JSON request body")
	}
}

// jsonKind names a Go kind in JSON's words.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	default:
		return "a number"
	}
}
