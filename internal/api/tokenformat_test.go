package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

var prefixedSecret = regexp.MustCompile(`^` + tokenward.SecretPattern + `$`)

// TestTokenFormat (issue 15 part 1, reference §14): the policy's tokenFormat is uuid until
// set; set to prefixed, every new secret (generated, rotated, a service account's, one
// made with its account) is prefixed and verifies, one with a character changed does not,
// and secrets already issued keep working; the change is audited; set back, new secrets
// are UUIDs again and the prefixed ones still verify.
func TestTokenFormat(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
		jane := e.user("jane@example.com", tokenward.TokenManagement)
		e.serviceAccount("sa::bot", tokenward.Ingestion)

		format := func() string {
			var policy struct {
				TokenFormat string `json:"tokenFormat"`
			}
			e.do("GET", "/api/v2/apitoken/policy", "", bearer(admin)).object(t, &policy)
			return policy.TokenFormat
		}
		if f := format(); f != "uuid" {
			t.Fatalf("the initial tokenFormat = %q, want uuid", f)
		}
		for _, body := range []string{`{"tokenFormat":"PREFIXED"}`, `{"tokenFormat":"twt"}`, `{"tokenFormat":1}`} {
			if res := e.do("PUT", "/api/v2/apitoken/policy", body, bearer(admin)); res.Status != 400 {
				t.Errorf("PUT policy %s: %d, want 400", body, res.Status)
			}
		}
		if res := e.do("PUT", "/api/v2/apitoken/policy", `{"tokenFormat":"prefixed"}`, bearer(admin)); res.Status != 200 {
			t.Fatalf("PUT tokenFormat prefixed: %d %s", res.Status, res.Body)
		}
		if f := format(); f != "prefixed" {
			t.Fatalf("tokenFormat after PUT = %q, want prefixed", f)
		}
		events, err := e.service.AuditTrail(context.Background(), e.principal(admin), tokenward.AuditFilter{Action: tokenward.AuditPolicyUpdate})
		if err != nil || len(events.Items) != 1 || !strings.Contains(events.Items[0].Detail, "token format: prefixed") {
			t.Errorf("policy.update events %+v, %v; want one naming the token format", events.Items, err)
		}

		verifies := func(what, secret string) {
			t.Helper()
			if res := e.do("GET", "/auth/verify", "", bearer(secret)); res.Status != 200 {
				t.Errorf("%s: /auth/verify %d, want 200", what, res.Status)
			}
		}
		isPrefixed := func(what, secret string) string {
			t.Helper()
			e.remember(secret)
			if !prefixedSecret.MatchString(secret) {
				t.Errorf("%s: the new secret is not prefixed (length %d)", what, len(secret))
			}
			verifies(what, secret)
			return secret
		}
		verifies("jane's UUID secret under prefixed", jane)

		list := e.do("POST", "/api/v2/apitoken", `{"tokenName":"ci"}`, bearer(jane)).tokens(t)
		generated := isPrefixed("generated", list[len(list)-1].TokenID)
		janeID := e.do("GET", "/api/v2/apitoken", "", bearer(jane)).tokens(t)[0].TokenID
		list = e.do("POST", "/api/v2/apitoken/"+janeID+"/rotate", `{"gracePeriodSeconds":0}`, bearer(jane)).tokens(t)
		isPrefixed("rotated", list[len(list)-1].TokenID)
		list = e.do("POST", "/api/v2/apitoken/serviceaccount/sa::bot", `{"tokenName":"deploy"}`, bearer(admin)).tokens(t)
		isPrefixed("service account's", list[len(list)-1].TokenID)
		_, secret, _, err := e.service.CreateServiceAccountWithToken(context.Background(), e.principal(admin),
			tokenward.ServiceAccountWrite{Identifier: "sa::made"}, "first", tokenward.Lifetime{})
		if err != nil {
			t.Fatal(err)
		}
		isPrefixed("a new service account's", secret.Reveal())

		// One character changed: 401 everywhere, like any invalid token.
		changed := byte('a')
		if generated[20] == 'a' {
			changed = 'b'
		}
		tampered := generated[:20] + string(changed) + generated[21:]
		for _, path := range []string{"/auth/verify", "/api/v2/apitoken"} {
			if res := e.do("GET", path, "", bearer(tampered)); res.Status != 401 {
				t.Errorf("a prefixed secret with one character changed: GET %s %d, want 401", path, res.Status)
			}
		}

		// Back to uuid (a PUT without tokenFormat): new secrets are UUIDs, prefixed ones work.
		if res := e.do("PUT", "/api/v2/apitoken/policy", `{}`, bearer(admin)); res.Status != 200 {
			t.Fatalf("PUT {}: %d %s", res.Status, res.Body)
		}
		if f := format(); f != "uuid" {
			t.Fatalf("tokenFormat after PUT {} = %q, want uuid", f)
		}
		list = e.do("POST", "/api/v2/apitoken", ``, bearer(generated)).tokens(t)
		if s := e.remember(list[len(list)-1].TokenID); len(s) != 36 {
			t.Errorf("a secret generated under uuid has %d characters, want a UUID", len(s))
		} else {
			verifies("a UUID secret after switching back", s)
		}
		verifies("a prefixed secret after switching back", generated)
	})
}

// TestWrongChecksumNeverReachesTheDatabase (issue 15 part 1, "Done means"): on both
// engines, a real prefixed secret with any one character changed gets 401 from
// /auth/verify and the API with zero lookups in the verification index and zero token
// queries to the database (both counted by wrappers around the real ones), served as
// serve serves; without an index too. A right secret, as the control, is looked up.
func TestWrongChecksumNeverReachesTheDatabase(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		clock := testkit.NewClock()
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		index := auth.New(db, clock.Now, logger, time.Hour)
		if err := index.Load(ctx); err != nil {
			t.Fatal(err)
		}
		counted := &countingStore{DB: db}
		verifier := &countingVerifier{Verifier: index}
		service := tokenward.NewService(tokenward.Config{Store: counted, Now: clock.Now, Verifier: verifier})
		op := tokenward.NewOperator(service)
		if _, err := op.SetTokenPolicy(ctx, tokenward.TokenPolicy{Format: tokenward.TokenFormatPrefixed}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := op.CreateServiceAccount(ctx, "sa::bot", tokenward.NewPermissionSet(tokenward.Ingestion), ""); err != nil {
			t.Fatal(err)
		}
		secret, _, err := op.GenerateToken(ctx, "sa::bot", "scanned")
		if err != nil {
			t.Fatal(err)
		}
		good := secret.Reveal()
		if !prefixedSecret.MatchString(good) {
			t.Fatalf("the generated secret is not prefixed (length %d)", len(good))
		}
		srv := httptest.NewServer(api.New(service, api.Config{Org: "acme", Logger: logger}))
		defer srv.Close()
		get := func(path, secret string) int {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+secret)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			return res.StatusCode
		}
		if code := get("/auth/verify", good); code != 200 {
			t.Fatalf("the right secret: %d, want 200", code)
		}

		counted.n.Store(0)
		verifier.n.Store(0)
		tampered := 0
		for i := len(tokenward.SecretPrefix); i < len(good); i++ {
			for _, c := range []byte{'0', 'Z', 'z'} {
				if good[i] == c {
					continue
				}
				bad := good[:i] + string(c) + good[i+1:]
				for _, path := range []string{"/auth/verify", "/api/v2/apitoken"} {
					if code := get(path, bad); code != 401 {
						t.Fatalf("GET %s with one character changed: %d, want 401", path, code)
					}
				}
				if _, err := tokenward.NewService(tokenward.Config{Store: counted}).Authenticate(ctx, bad); err != tokenward.ErrInvalidToken {
					t.Fatalf("Authenticate from the database with one character changed: %v, want ErrInvalidToken", err)
				}
				tampered++
			}
		}
		if n, m := counted.n.Load(), verifier.n.Load(); n != 0 || m != 0 {
			t.Fatalf("%d secrets with a wrong checksum: %d token queries to the database, %d index lookups; want 0", tampered, n, m)
		}
		// The control: the right secret is looked up, in the index and (without one) the database.
		if code := get("/auth/verify", good); code != 200 || verifier.n.Load() == 0 {
			t.Fatalf("the right secret: %d after %d index lookups, want 200 after one", code, verifier.n.Load())
		}
		if _, err := tokenward.NewService(tokenward.Config{Store: counted}).Authenticate(ctx, good); err != nil || counted.n.Load() != 1 {
			t.Fatalf("the right secret from the database: %v after %d queries, want success after one", err, counted.n.Load())
		}
	})
}

// countingStore counts the token lookups by secret digest of the real store.
type countingStore struct {
	*store.DB
	n atomic.Int64
}

func (s *countingStore) PrincipalByDigest(ctx context.Context, d tokenward.Digest) (tokenward.Principal, error) {
	s.n.Add(1)
	return s.DB.PrincipalByDigest(ctx, d)
}

func (s *countingStore) LiveTokenByDigest(ctx context.Context, d tokenward.Digest) (tokenward.Token, error) {
	s.n.Add(1)
	return s.DB.LiveTokenByDigest(ctx, d)
}

func (s *countingStore) TokenByReplacedDigest(ctx context.Context, d tokenward.Digest) (tokenward.Token, error) {
	s.n.Add(1)
	return s.DB.TokenByReplacedDigest(ctx, d)
}

// countingVerifier counts the lookups in the real verification index.
type countingVerifier struct {
	*auth.Verifier
	n atomic.Int64
}

func (v *countingVerifier) Verify(d tokenward.Digest, c tokenward.Caller) (tokenward.Principal, bool) {
	v.n.Add(1)
	return v.Verifier.Verify(d, c)
}

func (v *countingVerifier) VerifyCurrent(ctx context.Context, d tokenward.Digest, c tokenward.Caller) (tokenward.Principal, bool) {
	v.n.Add(1)
	return v.Verifier.VerifyCurrent(ctx, d, c)
}
