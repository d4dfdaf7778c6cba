package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// bulkFixture is a database with an administrator (who signs in with a password, so the
// administrator guard is armed) and service accounts holding tokens, and a service on a
// settable clock.
type bulkFixture struct {
	db     *store.DB
	svc    *tokenward.Service
	clock  *testkit.Clock
	admin  tokenward.Principal
	tokens []tokenward.Token // the service accounts' tokens, in creation order
}

func newBulkFixture(t *testing.T, engine store.Engine, accounts, perAccount int) *bulkFixture {
	t.Helper()
	db := storetest.Open(t, engine)
	f := &bulkFixture{db: db, clock: testkit.NewClock()}
	f.svc = tokenward.NewService(tokenward.Config{Store: db, Now: f.clock.Now})
	a := tokenward.Account{Identifier: "admin@example.com", Kind: tokenward.UserAccount, Active: true,
		Permissions: tokenward.NewPermissionSet(tokenward.UserManagement), Created: t0}
	if err := db.CreateAccount(context.Background(), &a, "not-a-real-hash", at(t0)); err != nil {
		t.Fatal(err)
	}
	f.admin = tokenward.Principal{AccountID: a.ID, Account: a.Identifier, Kind: tokenward.UserAccount,
		Permissions: a.Permissions, Source: "192.0.2.7"}
	for i := range accounts {
		sa := newAccount(t, db, fmt.Sprintf("sa::bulk-%d", i), tokenward.ServiceAccount)
		for j := range perAccount {
			tok, _ := newToken(t, db, sa, fmt.Sprintf("t%d-%d", i, j))
			f.tokens = append(f.tokens, tok)
		}
	}
	return f
}

// revocations returns, per token target, the number of token.revoke events, and the number
// of those that name job.
func (f *bulkFixture) revocations(t *testing.T, job string) (map[string]int, int) {
	t.Helper()
	page, err := f.db.AuditEvents(context.Background(), tokenward.AuditFilter{Action: tokenward.AuditTokenRevoke, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	per, byJob := map[string]int{}, 0
	for _, e := range page.Items {
		per[e.Target]++
		if e.Detail == "bulk revocation "+job {
			byJob++
		}
	}
	return per, byJob
}

// checkRevokedOnce fails the test unless every fixture token is revoked with exactly one
// revocation event, byJob of them naming the job, and a change was recorded for each
// token's account after changesBefore (so every instance's verifier drops them).
func (f *bulkFixture) checkRevokedOnce(t *testing.T, job string, changesBefore int64, byJob int) {
	t.Helper()
	ctx := context.Background()
	per, named := f.revocations(t, job)
	if named != byJob {
		t.Errorf("revocation events naming the job: %d, want %d", named, byJob)
	}
	for _, tok := range f.tokens {
		if n := per[tokenward.TokenTarget(tok.ID, tok.Account)]; n != 1 {
			t.Errorf("token %s of %s: %d revocation events, want exactly 1", tok.ID, tok.Account, n)
		}
		if _, err := f.db.LiveTokenByID(ctx, tok.ID); tokenward.ErrorCode(err) != tokenward.ENotFound {
			t.Errorf("token %s still live after the job: %v", tok.ID, err)
		}
	}
	changes, err := f.db.ChangesSince(ctx, changesBefore, 1000)
	if err != nil {
		t.Fatal(err)
	}
	changed := map[int64]bool{}
	for _, c := range changes {
		changed[c.AccountID] = true
	}
	for _, tok := range f.tokens {
		if !changed[tok.AccountID] {
			t.Errorf("no change recorded for account %s: other instances would keep its tokens", tok.Account)
		}
	}
}

// TestRevokeJobExactlyOnceAfterACrash runs a job with a runner that dies after two batches
// (its lease left to lapse), while one of the job's tokens is revoked by hand; a second
// runner takes the job over once the lease lapsed, the first one's later attempt is
// refused, and every token ends revoked with exactly one revocation event each.
func TestRevokeJobExactlyOnceAfterACrash(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		f := newBulkFixture(t, engine, 5, 9)
		changesBefore, err := f.db.LatestChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		total := len(f.tokens)
		query := &tokenward.SearchRequest{Query: []tokenward.SearchCondition{{Key: "account", Value: "sa::bulk-", MatchingMethod: tokenward.MatchStartsWith}}}
		wrong := total + 1
		if _, err := f.svc.StartRevokeJob(ctx, f.admin, tokenward.RevokeRequest{Query: query, ExpectedCount: &wrong}); tokenward.ErrorCode(err) != tokenward.EConflict {
			t.Fatalf("a job with expectedCount %d of %d matches: got %v, want a conflict", wrong, total, err)
		}
		job, err := f.svc.StartRevokeJob(ctx, f.admin, tokenward.RevokeRequest{Query: query, ExpectedCount: &total})
		if err != nil {
			t.Fatal(err)
		}
		if job.Total != total || job.State() != tokenward.JobRunning {
			t.Fatalf("new job: total %d, state %s; want %d, running", job.Total, job.State(), total)
		}

		first := f.svc.NewRevokeRunner(7, time.Minute)
		for range 2 {
			if worked, err := first.Step(ctx); !worked || err != nil {
				t.Fatalf("first runner's step: worked %v, err %v", worked, err)
			}
		}
		// Meanwhile an administrator revokes one of the tokens not yet reached by hand.
		byHand := f.tokens[total-1]
		if _, err := f.svc.RevokeOrgToken(ctx, f.admin, byHand.ID); err != nil {
			t.Fatal(err)
		}
		// The first runner dies here. A second one finds nothing to take while its lease holds.
		second := f.svc.NewRevokeRunner(7, time.Minute)
		if worked, err := second.Step(ctx); worked || err != nil {
			t.Fatalf("second runner before the lease lapsed: worked %v, err %v; want nothing to do", worked, err)
		}
		if j, _ := f.svc.RevokeJobOf(ctx, f.admin, job.ID); j.Done != 14 {
			t.Fatalf("after two batches of 7: done %d, want 14", j.Done)
		}
		f.clock.Advance(61 * time.Second)
		if worked, err := second.Step(ctx); !worked || err != nil {
			t.Fatalf("second runner after the lease lapsed: worked %v, err %v", worked, err)
		}
		// The first runner comes back to life: its claim no longer holds the job.
		if worked, err := first.Step(ctx); !worked || err != nil {
			t.Fatalf("first runner after the takeover: worked %v, err %v; want its batch refused quietly", worked, err)
		}
		if j, _ := f.svc.RevokeJobOf(ctx, f.admin, job.ID); j.Done != 21 {
			t.Fatalf("after the takeover's batch and the old runner's attempt: done %d, want 21", j.Done)
		}
		for steps := 0; ; steps++ {
			worked, err := second.Step(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !worked {
				break
			}
			if steps > total {
				t.Fatal("the job does not finish")
			}
		}
		got, err := f.svc.RevokeJobOf(ctx, f.admin, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State() != tokenward.JobDone || got.Done != total || got.Failed != 0 {
			t.Errorf("finished job: state %s, done %d, failed %d; want done, %d, 0", got.State(), got.Done, got.Failed, total)
		}
		f.checkRevokedOnce(t, job.ID, changesBefore, total-1)
		// Each revocation is an event for webhooks too: the job's and the one by hand.
		events, err := f.db.Events(ctx, tokenward.EventTokenRevoked)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, raw := range events {
			var e struct{ Token struct{ ID string } }
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			ids[e.Token.ID] = true
		}
		if len(events) != total || len(ids) != total {
			t.Errorf("%d token.revoked events for %d tokens, want one each of %d", len(events), len(ids), total)
		}
	})
}

// TestRevokeJobKeepsAnAdministrator: a job never revokes the last usable administrator's
// only way in; that token fails, the rest of the job is revoked, and the job ends failed.
func TestRevokeJobKeepsAnAdministrator(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		f := newBulkFixture(t, engine, 1, 3)
		// The only usable administrator is one without a password, with one token; the
		// fixture's administrator loses user_management for this.
		boss := newAccount(t, f.db, "boss@example.com", tokenward.UserAccount, tokenward.UserManagement)
		bossToken, _ := newToken(t, f.db, boss, "only way in")
		none := tokenward.NewPermissionSet()
		if err := f.db.UpdateAccounts(ctx, []tokenward.AccountChange{{ID: f.admin.AccountID, Permissions: &none}}, at(t0)); err != nil {
			t.Fatal(err)
		}
		ids := []string{f.tokens[0].ID, bossToken.ID, f.tokens[1].ID, f.tokens[2].ID, "tw_nosuchtoken", f.tokens[0].ID}
		job, err := f.svc.StartRevokeJob(ctx, f.admin, tokenward.RevokeRequest{IDs: ids})
		if err != nil {
			t.Fatal(err)
		}
		if job.Total != 4 {
			t.Fatalf("job total %d, want 4 (live tokens named, each once)", job.Total)
		}
		runner := f.svc.NewRevokeRunner(10, time.Minute)
		for {
			worked, err := runner.Step(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !worked {
				break
			}
		}
		got, _ := f.svc.RevokeJobOf(ctx, f.admin, job.ID)
		if got.State() != tokenward.JobFailed || got.Done != 3 || got.Failed != 1 {
			t.Errorf("job: state %s, done %d, failed %d; want failed, 3, 1", got.State(), got.Done, got.Failed)
		}
		if _, err := f.db.LiveTokenByID(ctx, bossToken.ID); err != nil {
			t.Errorf("the last administrator's token was revoked: %v", err)
		}
		for _, tok := range f.tokens {
			if _, err := f.db.LiveTokenByID(ctx, tok.ID); tokenward.ErrorCode(err) != tokenward.ENotFound {
				t.Errorf("token %s still live: %v", tok.ID, err)
			}
		}
	})
}

// TestRevokeJobClaimedByOne: runners claiming one job at once, as instances do, get it
// exactly once between them.
func TestRevokeJobClaimedByOne(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		f := newBulkFixture(t, engine, 1, 2)
		if _, err := f.svc.StartRevokeJob(ctx, f.admin, tokenward.RevokeRequest{Account: "sa::bulk-0"}); err != nil {
			t.Fatal(err)
		}
		now := f.clock.Now()
		var wg sync.WaitGroup
		claimed := make([]bool, 8)
		errs := make([]error, len(claimed))
		for i := range claimed {
			wg.Go(func() {
				_, err := f.db.ClaimRevokeJob(ctx, fmt.Sprintf("runner-%d", i), now, now.Add(time.Minute))
				claimed[i] = err == nil
				if tokenward.ErrorCode(err) != tokenward.ENotFound {
					errs[i] = err
				}
			})
		}
		wg.Wait()
		n := 0
		for i, ok := range claimed {
			if ok {
				n++
			}
			if errs[i] != nil {
				t.Errorf("claim %d: %v", i, errs[i])
			}
		}
		if n != 1 {
			t.Errorf("%d runners claimed the job, want exactly 1", n)
		}
	})
}

// TestStartRevokeJobRefusals: malformed requests are refused with the right code, and leave
// no job and no audit event behind.
func TestStartRevokeJobRefusals(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		f := newBulkFixture(t, engine, 1, 2)
		two, three, negative := 2, 3, -1
		all := &tokenward.SearchRequest{}
		tooMany := make([]string, tokenward.MaxRevokeIDs+1)
		for i := range tooMany {
			tooMany[i] = fmt.Sprintf("tw_%d", i)
		}
		reader := f.admin
		reader.Permissions = tokenward.NewPermissionSet(tokenward.TokenManagement)
		for _, tc := range []struct {
			name string
			p    tokenward.Principal
			req  tokenward.RevokeRequest
			want string
		}{
			{"nothing", f.admin, tokenward.RevokeRequest{}, tokenward.EInvalid},
			{"ids and account", f.admin, tokenward.RevokeRequest{IDs: []string{f.tokens[0].ID}, Account: "sa::bulk-0"}, tokenward.EInvalid},
			{"empty ids", f.admin, tokenward.RevokeRequest{IDs: []string{}}, tokenward.EInvalid},
			{"too many ids", f.admin, tokenward.RevokeRequest{IDs: tooMany}, tokenward.EInvalid},
			{"query without expectedCount", f.admin, tokenward.RevokeRequest{Query: all}, tokenward.EInvalid},
			{"negative expectedCount", f.admin, tokenward.RevokeRequest{Query: all, ExpectedCount: &negative}, tokenward.EInvalid},
			{"unknown search key", f.admin, tokenward.RevokeRequest{Query: &tokenward.SearchRequest{Query: []tokenward.SearchCondition{{Key: "secret", Value: "x"}}}, ExpectedCount: &two}, tokenward.EInvalid},
			{"unknown account", f.admin, tokenward.RevokeRequest{Account: "sa::nobody"}, tokenward.ENotFound},
			{"account, expectedCount off", f.admin, tokenward.RevokeRequest{Account: "sa::bulk-0", ExpectedCount: &three}, tokenward.EConflict},
			{"all tokens, count changed", f.admin, tokenward.RevokeRequest{Query: all, ExpectedCount: &three}, tokenward.EConflict},
			{"without user_management", reader, tokenward.RevokeRequest{Account: "sa::bulk-0"}, tokenward.EForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := f.svc.StartRevokeJob(ctx, tc.p, tc.req); tokenward.ErrorCode(err) != tc.want {
					t.Errorf("got %v, want code %s", err, tc.want)
				}
			})
		}
		page, err := f.db.AuditEvents(ctx, tokenward.AuditFilter{Action: tokenward.AuditTokenRevokeBulk, Limit: 10})
		if err != nil || page.Total != 0 {
			t.Errorf("refused requests left %d job events (%v), want none", page.Total, err)
		}
		if _, err := f.svc.RevokeJobOf(ctx, f.admin, "not-a-job"); tokenward.ErrorCode(err) != tokenward.ENotFound {
			t.Errorf("RevokeJobOf(not-a-job) = %v, want not found", err)
		}
		// A job that matches nothing is finished as soon as it exists.
		none := &tokenward.SearchRequest{Query: []tokenward.SearchCondition{{Key: "name", Value: "no such name"}}}
		zero := 0
		j, err := f.svc.StartRevokeJob(ctx, f.admin, tokenward.RevokeRequest{Query: none, ExpectedCount: &zero})
		if err != nil || j.State() != tokenward.JobDone || j.Total != 0 {
			t.Errorf("empty job: %+v, %v; want done with total 0", j, err)
		}
	})
}
