package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestVerdictsCountedNotLogged: by default forward-auth verdicts get no log line each but
// are counted (the metrics) and summed up in one line once a second has passed; other
// requests are logged as before, and LogEveryVerdict logs each verdict.
func TestVerdictsCountedNotLogged(t *testing.T) {
	e := newEnv(t, store.SQLite)
	valid := e.user("jane@example.com")
	e.do("GET", "/api/v2/apitoken", "", bearer(valid)) // a request line, as before
	for range 5 {
		e.do("GET", "/auth/verify", "", bearer(valid))
		e.do("GET", "/auth/verify", "", bearer(tokenward.NewSecret().Reveal()))
	}
	if strings.Contains(e.logs.String(), `"route":"/auth/verify"`) {
		t.Errorf("a forward-auth verdict was logged on its own line")
	}
	time.Sleep(time.Second) // the summary is due a second after the last one (real time)
	e.do("GET", "/auth/verify", "", bearer(valid))
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"forward auth verdicts","status_200":6,"status_401":5`) {
		t.Errorf("no summary of the 11 verdicts in the log:\n%s", logs)
	}
	metrics := e.do("GET", "/metrics", "").Body
	for _, want := range []string{`tokenward_http_requests_total{route="/auth/verify",status="200"} 6`, `tokenward_http_requests_total{route="/auth/verify",status="401"} 5`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	every := newEnvWith(t, store.SQLite, func(cfg *api.Config) { cfg.LogEveryVerdict = true })
	token := every.user("bob@example.com")
	every.do("GET", "/auth/verify", "", bearer(token))
	if !strings.Contains(every.logs.String(), `"route":"/auth/verify"`) {
		t.Errorf("LogEveryVerdict: the verdict has no line of its own")
	}
}

// BenchmarkForwardAuth measures a valid token's forward-auth verdict through the whole API
// handler (no network), with the default counted verdicts and with a log line each (to a
// discarding handler: the formatting is the cost). Compare the two in one run.
func BenchmarkForwardAuth(b *testing.B) {
	db := storetest.Open(b, store.SQLite)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	service, _ := newVerifiedService(b, db, time.Now, logger)
	if _, err := tokenward.NewOperator(service).CreateUser(context.Background(), "jane@example.com", 0, ""); err != nil {
		b.Fatal(err)
	}
	secret, _, err := tokenward.NewOperator(service).GenerateToken(context.Background(), "jane@example.com", "bench")
	if err != nil {
		b.Fatal(err)
	}
	for _, every := range []bool{false, true} {
		name := map[bool]string{false: "counted", true: "logged"}[every]
		b.Run(name, func(b *testing.B) {
			h := api.New(service, api.Config{Org: "acme", Logger: logger, LogEveryVerdict: every})
			req := httptest.NewRequest(http.MethodGet, "/auth/verify", nil)
			req.Header.Set("Authorization", "Bearer "+secret.Reveal())
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps its header map between requests, as
// net/http's own writer makes one a request: what a verdict allocates beyond it is ours.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// TestForwardAuthAllocations pins what a valid token's verdict allocates in the handler:
// the account's header value and net/http's route match, nothing per header, per log line
// or per metric. (Allocation counts do not depend on the machine's load.)
func TestForwardAuthAllocations(t *testing.T) {
	db := storetest.Open(t, store.SQLite)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	service, _ := newVerifiedService(t, db, time.Now, logger)
	if _, err := tokenward.NewOperator(service).CreateUser(context.Background(), "jane@example.com", 0, ""); err != nil {
		t.Fatal(err)
	}
	secret, _, err := tokenward.NewOperator(service).GenerateToken(context.Background(), "jane@example.com", "bench")
	if err != nil {
		t.Fatal(err)
	}
	h := api.New(service, api.Config{Org: "acme", Logger: logger})
	for _, c := range []struct {
		name   string
		header string // the credential's header, as net/http stores it
		secret string
		status int
		most   float64
	}{
		{"valid: the account header, the route match", "Authorization", "Bearer " + secret.Reveal(), 200, 2},
		{"unknown: the route match", "Authorization", "Bearer " + tokenward.NewSecret().Reveal(), 401, 1},
		{"valid in X-Auth-Token: as in Authorization", "X-Auth-Token", secret.Reveal(), 200, 2},
	} {
		req := httptest.NewRequest(http.MethodGet, "/auth/verify", nil)
		req.Header[c.header] = []string{c.secret}
		w := &discardWriter{h: make(http.Header, 16)}
		allocs := testing.AllocsPerRun(1000, func() {
			clear(w.h)
			h.ServeHTTP(w, req)
			if w.code != c.status {
				t.Fatalf("%s: status %d", c.name, w.code)
			}
		})
		if allocs > c.most {
			t.Errorf("%s: a verdict allocates %.1f times, want at most %.0f", c.name, allocs, c.most)
		}
		t.Logf("%s: %.1f allocations a verdict", c.name, allocs)
	}
}
