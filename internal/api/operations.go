package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// metrics are the API's own Prometheus metrics. Counters with fixed labels are resolved
// once, so that counting on the verification path allocates nothing.
type metrics struct {
	verifyOK, verifyInvalid, verifyMissing prometheus.Counter
	verifySeconds                          prometheus.Histogram
	allow, denyUnauthenticated, denyPerm   prometheus.Counter
	requests                               *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	verifications := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokenward_verifications_total", Help: "Token verifications by outcome: ok, invalid (unknown, malformed or revoked), missing (no credentials).",
	}, []string{"outcome"})
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokenward_forward_auth_decisions_total", Help: "Forward-auth answers: allow, unauthenticated, forbidden.",
	}, []string{"decision"})
	m := &metrics{
		verifyOK: verifications.WithLabelValues("ok"), verifyInvalid: verifications.WithLabelValues("invalid"),
		verifyMissing: verifications.WithLabelValues("missing"),
		verifySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tokenward_verification_seconds", Help: "Time to verify a request's credentials, header parsing included.",
			Buckets: []float64{1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 5e-5, 1e-4, 1e-3, 1e-2},
		}),
		allow: decisions.WithLabelValues("allow"), denyUnauthenticated: decisions.WithLabelValues("unauthenticated"),
		denyPerm: decisions.WithLabelValues("forbidden"),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenward_http_requests_total", Help: "HTTP requests by route pattern and status.",
		}, []string{"route", "status"}),
	}
	reg.MustRegister(verifications, decisions, m.verifySeconds, m.requests)
	return m
}

// forwardAuth answers nginx auth_request, Traefik ForwardAuth and Envoy ext_authz (HTTP)
// for any method and any path below /auth/verify: 200 with headers naming the account, its
// type and permissions; 401 for missing or invalid credentials; 403 when a required
// permission is lacking. An address over its invalid-token budget also gets 401, with
// Retry-After: nginx's auth_request passes only 401 and 403 through and turns anything
// else (a 429) into a 500 for the caller.
func (s *Server) forwardAuth(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	if err == nil {
		err = requirePermissions(r, p)
	}
	h := w.Header()
	if err != nil {
		// Traefik hands a refusal to the client as it is (nginx and Envoy do not): it gets
		// the headers every other answer has. A 200 has only Cache-Control (ServeHTTP).
		setSecurityHeaders(h)
	}
	switch code := tokenward.ErrorCode(err); code {
	case "":
		s.metrics.allow.Inc()
		h["X-Tokenward-Account"] = []string{p.Account}
		h["X-Tokenward-Account-Type"] = accountTypeHeaders[accountType(p)]
		h["X-Tokenward-Permissions"] = s.permissionsHeader(p.Permissions)
		setExpiresHeader(w, p)
		w.WriteHeader(http.StatusOK)
	case tokenward.ETooMany:
		// Over the address's budget: 401, which auth_request passes through, with when to
		// try again; the answer is made once (limitedVerdict), as the other refusals are.
		s.metrics.denyUnauthenticated.Inc()
		edge.SetRetryAfter(w, err)
		writeCanned(w, limitedVerdict)
	case tokenward.EUnauthorized:
		s.metrics.denyUnauthenticated.Inc()
		s.fail(w, r, err)
	default:
		if code == tokenward.EForbidden {
			s.metrics.denyPerm.Inc()
		}
		s.fail(w, r, err)
	}
}

// requirePermissions checks every permission the request names, in ?permission= (repeated
// or comma-separated) and in X-Tokenward-Permission headers alike. All must hold: Envoy
// appends the client's own query string to the check's path, so taking only one source
// would let a client swap the proxy's required permission for one it holds.
func requirePermissions(r *http.Request, p tokenward.Principal) error {
	names := r.Header.Values("X-Tokenward-Permission")
	if r.URL.RawQuery != "" { // parsing an empty query would still make a map, per verdict
		names = append(r.URL.Query()["permission"], names...)
	}
	for _, list := range names {
		for _, name := range strings.Split(list, ",") {
			if strings.TrimSpace(name) == "" {
				continue
			}
			perm, err := tokenward.ParsePermission(name)
			if err != nil {
				return err
			}
			if err := tokenward.RequirePermission(p, perm); err != nil {
				return err
			}
		}
	}
	return nil
}

// accountType is the API's account type of an authenticated principal (always active).
func accountType(p tokenward.Principal) tokenward.AccountType {
	return tokenward.Account{Kind: p.Kind, Active: true}.Type()
}

// accountTypeHeaders are the X-Tokenward-Account-Type values, made once (see
// securityHeaders for why a header value may be shared).
var accountTypeHeaders = map[tokenward.AccountType][]string{
	tokenward.TypeUser:                   {string(tokenward.TypeUser)},
	tokenward.TypeServiceAccount:         {string(tokenward.TypeServiceAccount)},
	tokenward.TypeInactiveServiceAccount: {string(tokenward.TypeInactiveServiceAccount)},
}

// permissionsHeader is the X-Tokenward-Permissions value of set, made once per set: a
// verdict's header costs a map lookup, not a string built per request. There are at most as
// many sets as combinations of permissions, in practice a handful.
func (s *Server) permissionsHeader(set tokenward.PermissionSet) []string {
	if v, ok := s.headers.Load(set); ok {
		return v.([]string)
	}
	v, _ := s.headers.LoadOrStore(set, []string{joinPermissions(set)})
	return v.([]string)
}

func joinPermissions(set tokenward.PermissionSet) string {
	var b strings.Builder
	for i, p := range set.List() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(p))
	}
	return b.String()
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz is 200 when the instance can answer correctly: its index is built and caught up,
// and the database answers. A load balancer takes an instance that is not ready out of
// rotation; that instance still answers from its index meanwhile.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if s.ready != nil {
		if err := s.ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: " + err.Error() + "\n"))
			return
		}
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
}
