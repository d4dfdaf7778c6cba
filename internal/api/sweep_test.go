package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

const day = 24 * time.Hour

// secondInstance is another tokenward instance on e's database, as serve would run it: its
// own connections, verification index and service, on e's clock.
func secondInstance(t *testing.T, e *env) (*tokenward.Service, *auth.Verifier) {
	t.Helper()
	db, err := store.Open(context.Background(), e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newVerifiedService(t, db, e.clock.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// sweepBoth runs the lifecycle sweep on both instances at once and returns what they
// recorded together.
func sweepBoth(t *testing.T, services ...*tokenward.Service) tokenward.Sweep {
	t.Helper()
	var mu sync.Mutex
	var total tokenward.Sweep
	var wg sync.WaitGroup
	for _, s := range services {
		wg.Go(func() {
			got, err := tokenward.NewOperator(s).SweepLifecycle(context.Background())
			if err != nil {
				t.Errorf("SweepLifecycle: %v", err)
			}
			mu.Lock()
			total.Notices += got.Notices
			total.IdleDisabled += got.IdleDisabled
			mu.Unlock()
		})
	}
	wg.Wait()
	return total
}

// ownTokenIDs returns the public ids of the caller's tokens by name.
func (e *env) ownTokenIDs(t *testing.T, secret string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tok := range e.do("GET", "/api/v2/apitoken", "", bearer(secret)).tokens(t) {
		out[tok.TokenName] = tok.TokenID
	}
	return out
}

// TestLifecycleSweepNoticesOnce: two instances sweeping at the same moments record each
// token's expiry notices once: the smallest threshold a token is within when first swept
// (a 5-day token gets the 7-day notice, never the 30-day one), each smaller one as the
// clock reaches it, then token.expired; sweeping again records nothing.
func TestLifecycleSweepNoticesOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		jane := e.user("jane@example.com", tokenward.TokenManagement)
		start := e.clock.Now()
		for _, tc := range []struct {
			name string
			life time.Duration
		}{{"month", 40 * day}, {"five", 5 * day}, {"half", 12 * time.Hour}} {
			tokens := e.do("POST", "/api/v2/apitoken", fmt.Sprintf(`{"tokenName":%q,"expiresInSeconds":%d}`, tc.name, int64(tc.life/time.Second)), bearer(jane)).tokens(t)
			e.remember(tokens[len(tokens)-1].TokenID)
		}
		ids := e.ownTokenIDs(t, jane)
		other, _ := secondInstance(t, e)

		steps := []struct {
			at   time.Duration // after the tokens were generated
			want int
		}{
			{0, 2},                         // five: 7 days; half: 1 day
			{10*day + time.Millisecond, 3}, // month: 30 days; five and half expired
			{33*day + time.Millisecond, 1}, // month: 7 days
			{39*day + time.Millisecond, 1}, // month: 1 day
			{40 * day, 1},                  // month expired
		}
		for _, step := range steps {
			e.clock.Set(start.Add(step.at))
			if got := sweepBoth(t, e.service, other); got.Notices != step.want || got.IdleDisabled != 0 {
				t.Errorf("at +%s: the sweeps recorded %+v, want %d notices", step.at, got, step.want)
			}
			if got := sweepBoth(t, e.service, other); got.Notices != 0 {
				t.Errorf("at +%s, sweeping again: %d notices, want 0", step.at, got.Notices)
			}
		}

		want := map[string][]string{
			"month": {"token.expiring 30", "token.expiring 7", "token.expiring 1", "token.expired"},
			"five":  {"token.expiring 7", "token.expired"},
			"half":  {"token.expiring 1", "token.expired"},
			"setup": nil,
		}
		admin := tokenward.Principal{Permissions: tokenward.NewPermissionSet(tokenward.UserManagement)}
		for name, events := range want {
			page, err := e.service.AuditTrail(context.Background(), admin, tokenward.AuditFilter{Target: tokenward.TokenTarget(ids[name], "jane@example.com")})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range slices.Backward(page.Items) {
				switch ev.Action {
				case tokenward.AuditTokenExpiring:
					days := strings.TrimPrefix(strings.SplitN(ev.Detail, ";", 2)[0], "daysLeft: ")
					got = append(got, ev.Action+" "+days)
				case tokenward.AuditTokenExpired:
					got = append(got, ev.Action)
				default:
					continue
				}
				if ev.Actor != "tokenward" || ev.Source != "lifecycle sweep" {
					t.Errorf("%s: %s by %q from %q, want the lifecycle sweep", name, ev.Action, ev.Actor, ev.Source)
				}
			}
			if !slices.Equal(got, events) {
				t.Errorf("token %s: events %q, want %q", name, got, events)
			}
		}
	})
}

// TestIdleTimeout: with a 30-day idle timeout for user tokens, the sweep disables the
// token unused for longer (after the idle margin, not before), never one used within the
// window on this instance (not yet flushed) or another (flushed as its flusher does), nor
// one rotated within it; the disabled token fails on both instances, is listed with
// disabledReason "idle" and one token.idle_disabled event; the dry run counts what a
// policy would disable and changes nothing; a rotation enables the token again.
func TestIdleTimeout(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		ctx := context.Background()
		admin := e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
		jane := e.user("jane@example.com", tokenward.TokenManagement)
		bot := e.serviceAccount("sa::bot", tokenward.Ingestion)
		gen := func(name string) string {
			tokens := e.do("POST", "/api/v2/apitoken", `{"tokenName":"`+name+`"}`, bearer(jane)).tokens(t)
			return e.remember(tokens[len(tokens)-1].TokenID)
		}
		idle := gen("idle")
		gen("rotated") // its secret is replaced below
		local := gen("local")
		ids := e.ownTokenIDs(t, jane)
		other, otherIndex := secondInstance(t, e)
		start := e.clock.Now()

		var effect struct {
			Affected struct{ ExpireSooner, IdleDisabled int } `json:"affected"`
		}
		policy := `{"userTokens":{"idleTimeoutSeconds":2592000},"serviceAccountTokens":{}}`
		for _, path := range []string{"/api/v2/apitoken/policy?dryRun=true", "/api/v2/apitoken/policy"} {
			e.do("PUT", path, policy, bearer(admin)).object(t, &effect)
			if effect.Affected.IdleDisabled != 0 {
				t.Errorf("PUT %s at once: idleDisabled %d, want 0", path, effect.Affected.IdleDisabled)
			}
		}
		var got struct {
			UserTokens struct {
				Idle *int64 `json:"idleTimeoutSeconds"`
			} `json:"userTokens"`
		}
		if e.do("GET", "/api/v2/apitoken/policy", "", bearer(admin)).object(t, &got); got.UserTokens.Idle == nil || *got.UserTokens.Idle != 2592000 {
			t.Errorf("the policy's idleTimeoutSeconds = %v, want 2592000", got.UserTokens.Idle)
		}

		e.clock.Set(start.Add(20 * day))
		rotatedID := ids["rotated"]
		res := e.do("POST", "/api/v2/apitoken/customertokens/"+rotatedID+"/rotate", `{}`, bearer(admin)).tokens(t)
		rotated := e.remember(res[len(res)-1].TokenID)

		e.clock.Set(start.Add(29 * day))
		if _, err := other.Authenticate(ctx, jane); err != nil { // jane's own token, on the other instance
			t.Fatalf("jane's token on the other instance: %v", err)
		}
		if err := otherIndex.FlushUsage(ctx); err != nil { // as its flusher does every few seconds
			t.Fatal(err)
		}

		e.clock.Set(start.Add(30*day + 30*time.Second))
		if got := sweepBoth(t, e.service, other); got.IdleDisabled != 0 {
			t.Errorf("30 days and 30 s after generation, within the idle margin: %d disabled, want 0", got.IdleDisabled)
		}
		e.clock.Set(start.Add(30*day + 2*time.Minute))
		if res := e.do("GET", "/api/v2/apitoken", "", bearer(local)); res.Status != 200 { // noted in memory only
			t.Fatalf("the local token before the sweep: %d", res.Status)
		}
		if got, err := tokenward.NewOperator(e.service).SweepLifecycle(ctx); err != nil || got.IdleDisabled != 1 {
			t.Fatalf("the sweep past the timeout: %+v, %v; want the idle token alone disabled", got, err)
		}
		if got := sweepBoth(t, e.service, other); got.IdleDisabled != 0 {
			t.Errorf("sweeping again: %d disabled, want 0", got.IdleDisabled)
		}

		if res := e.do("GET", "/auth/verify", "", bearer(idle)); res.Status != 401 {
			t.Errorf("the idle token on this instance: %d, want 401", res.Status)
		}
		if err := otherIndex.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Authenticate(ctx, idle); err != tokenward.ErrInvalidToken {
			t.Errorf("the idle token on the other instance: %v, want ErrInvalidToken", err)
		}
		for name, secret := range map[string]string{"jane's own": jane, "rotated": rotated, "local": local, "sa::bot's": bot, "admin's": admin} {
			if res := e.do("GET", "/auth/verify", "", bearer(secret)); res.Status != 200 {
				t.Errorf("the %s token after the sweep: %d, want 200", name, res.Status)
			}
		}
		for _, tok := range e.do("GET", "/api/v2/apitoken", "", bearer(jane)).tokens(t) {
			if isIdle := tok.TokenName == "idle"; (tok.Disabled != nil && *tok.Disabled == "idle") != isIdle || (tok.Disabled == nil) == isIdle {
				t.Errorf("token %s: disabledReason %v, want idle only for the idle one", tok.TokenName, tok.Disabled)
			}
		}
		adminP := e.principal(admin)
		page, err := e.service.AuditTrail(ctx, adminP, tokenward.AuditFilter{Action: tokenward.AuditTokenIdleDisabled})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 || page.Items[0].Target != tokenward.TokenTarget(ids["idle"], "jane@example.com") {
			t.Errorf("token.idle_disabled events %+v, want one, of the idle token", page.Items)
		}

		// Two hours on, a one-hour timeout would disable jane's own, the rotated and the
		// local token (last used two hours ago, above), not the admin's (used by the
		// request itself), nor the disabled one again, nor sa::bot's (no timeout for
		// service accounts). The dry run changes nothing.
		e.clock.Advance(2 * time.Hour)
		e.do("PUT", "/api/v2/apitoken/policy?dryRun=true", `{"userTokens":{"idleTimeoutSeconds":3600}}`, bearer(admin)).object(t, &effect)
		if effect.Affected.IdleDisabled != 3 {
			t.Errorf("dry run of a one-hour timeout: idleDisabled %d, want 3", effect.Affected.IdleDisabled)
		}
		if e.do("GET", "/api/v2/apitoken/policy", "", bearer(admin)).object(t, &got); got.UserTokens.Idle == nil || *got.UserTokens.Idle != 2592000 {
			t.Errorf("after the dry run, idleTimeoutSeconds = %v, want 2592000", got.UserTokens.Idle)
		}
		for _, tok := range e.do("GET", "/api/v2/apitoken", "", bearer(jane)).tokens(t) {
			if tok.TokenName != "idle" && tok.Disabled != nil {
				t.Errorf("after the dry run, token %s: disabledReason %s", tok.TokenName, *tok.Disabled)
			}
		}

		res = e.do("POST", "/api/v2/apitoken/customertokens/"+ids["idle"]+"/rotate", `{}`, bearer(admin)).tokens(t)
		revived := e.remember(res[len(res)-1].TokenID)
		if res := e.do("GET", "/auth/verify", "", bearer(revived)); res.Status != 200 {
			t.Errorf("the idle token rotated: %d, want 200", res.Status)
		}
		if tok := e.do("GET", "/api/v2/apitoken/customertokens/"+ids["idle"], "", bearer(admin)); !strings.Contains(string(tok.Body), `"disabledReason":null`) {
			t.Errorf("the idle token rotated: %s, want disabledReason null", tok.Body)
		}
	})
}

// TestIdleTimeoutBounds: an idle timeout below an hour or above ten years is a 400 that
// names the field; null is none.
func TestIdleTimeoutBounds(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement)
		for body, status := range map[string]int{
			`{"userTokens":{"idleTimeoutSeconds":3599}}`:                400,
			`{"serviceAccountTokens":{"idleTimeoutSeconds":0}}`:         400,
			`{"serviceAccountTokens":{"idleTimeoutSeconds":-1}}`:        400,
			`{"userTokens":{"idleTimeoutSeconds":315360001}}`:           400,
			`{"userTokens":{"idleTimeoutSeconds":"3600"}}`:              400,
			`{"userTokens":{"idleTimeoutSeconds":3600}}`:                200,
			`{"serviceAccountTokens":{"idleTimeoutSeconds":null}}`:      200,
			`{"serviceAccountTokens":{"idleTimeoutSeconds":315360000}}`: 200,
		} {
			res := e.do("PUT", "/api/v2/apitoken/policy?dryRun=true", body, bearer(admin))
			_, msg, _ := res.container(t)
			if res.Status != status || status == 400 && !strings.Contains(msg, "idleTimeout") && !strings.Contains(msg, "idle timeout") {
				t.Errorf("PUT %s: %d %q, want %d naming the idle timeout", body, res.Status, msg, status)
			}
		}
	})
}

// TestTokenSearchByExpiry: expiresAt is a search key (a range; EXACT "" is never) and a
// sort field in which never sorts as the latest; the console's "expires within 7 days"
// and "expired" filters are those conditions.
func TestTokenSearchByExpiry(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement, tokenward.TokenManagement)
		for name, life := range map[string]time.Duration{"soon": 3 * day, "later": 10 * day, "hour": time.Hour, "week": 7 * day} {
			tokens := e.do("POST", "/api/v2/apitoken", fmt.Sprintf(`{"tokenName":%q,"expiresInSeconds":%d}`, name, int64(life/time.Second)), bearer(admin)).tokens(t)
			e.remember(tokens[len(tokens)-1].TokenID)
		}
		e.clock.Advance(2 * time.Hour)
		now := e.clock.Now()
		search := func(conds []tokenward.SearchCondition, sort string) string {
			body, _ := json.Marshal(tokenward.SearchRequest{Query: conds, Sort: &tokenward.SearchSort{Field: "expiresAt", Ascending: sort == "asc"}})
			var page tokenPage
			e.do("POST", "/api/v2/search/token", string(body), bearer(admin)).object(t, &page)
			return names(page.Items)
		}
		for _, tc := range []struct {
			name  string
			conds []tokenward.SearchCondition
			sort  string
			want  string
		}{
			{"every token, soonest first", nil, "asc", "hour,soon,week,later,setup"},
			{"every token, latest first", nil, "desc", "setup,later,week,soon,hour"},
			{"expires within 7 days", tokenward.ExpiresWithin7Days.Conditions(now), "asc", "soon,week"},
			{"expired", tokenward.AlreadyExpired.Conditions(now), "asc", "hour"},
			{"never", []tokenward.SearchCondition{{Key: "expiresAt", Value: "", MatchingMethod: tokenward.MatchExact}}, "asc", "setup"},
			{"not never", []tokenward.SearchCondition{{Key: "expiresAt", Value: "", MatchingMethod: tokenward.MatchExact, Negated: true}}, "desc", "later,week,soon,hour"},
		} {
			if got := search(tc.conds, tc.sort); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
			}
		}
		// At generation, the week token expires 7 days from now exactly: within 7 days.
		e.clock.Advance(-2 * time.Hour)
		if got := search(tokenward.ExpiresWithin7Days.Conditions(e.clock.Now()), "asc"); got != "hour,soon,week" {
			t.Errorf("expires within 7 days at generation: %s, want hour,soon,week", got)
		}
		if res := e.do("POST", "/api/v2/search/token", `{"query":[{"key":"expiresAt","value":"soon"}]}`, bearer(admin)); res.Status != 400 {
			t.Errorf("expiresAt without a range: %d, want 400", res.Status)
		}
	})
}
