package auth_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestCreateThenUseEverywhere: a token is usable on every instance as soon as the call that
// created it returned, whoever created it: the command line (a service without a verifier,
// over its own connection to the database), instance A or instance B. The instances poll
// once an hour and listen to nothing, so only the catch-up on a miss can make them see a
// token created elsewhere. 1,000 tries on each engine, from concurrent workers so that
// misses share catch-ups; every try uses the token on both instances.
func TestCreateThenUseEverywhere(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		dsn := storetest.DSN(t, engine)
		a, b := newPollingInstance(t, dsn, time.Hour), newPollingInstance(t, dsn, time.Hour)
		for _, in := range []*instance{a, b} {
			go in.verifier.Run(ctx, func(context.Context, func()) {})
		}
		cliDB, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer cliDB.Close()
		cli := tokenward.NewService(tokenward.Config{Store: cliDB}) // like `tokenward token create`

		const tries, accounts, workers = 1000, 50, 8 // 20 tokens per account: the cap
		for i := range accounts {
			if _, err := tokenward.NewOperator(cli).CreateServiceAccount(ctx, fmt.Sprintf("sa::rw-%d", i), tokenward.NewPermissionSet(tokenward.Ingestion), ""); err != nil {
				t.Fatal(err)
			}
		}
		writers := []struct {
			name    string
			service *tokenward.Service
		}{{"command line", cli}, {"instance A", a.service}, {"instance B", b.service}}
		users := map[string]*instance{"A": a, "B": b}

		var mu sync.Mutex
		refused := map[string]int{} // "writer → user" → refusals
		var firstErr error
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for i := range next {
					w := writers[i%len(writers)]
					sa := fmt.Sprintf("sa::rw-%d", i%accounts)
					secret, _, err := tokenward.NewOperator(w.service).GenerateToken(ctx, sa, fmt.Sprintf("try %d", i))
					if err != nil {
						mu.Lock()
						firstErr = cmpErr(firstErr, fmt.Errorf("try %d: generate by %s: %w", i, w.name, err))
						mu.Unlock()
						continue
					}
					for name, in := range users {
						p, err := in.service.Authenticate(ctx, secret.Reveal())
						if err != nil || p.Account != sa {
							mu.Lock()
							refused[w.name+" → instance "+name]++
							mu.Unlock()
						}
					}
				}
			})
		}
		for i := range tries {
			next <- i
		}
		close(next)
		wg.Wait()
		if firstErr != nil {
			t.Fatal(firstErr)
		}
		total := 0
		for path, n := range refused {
			total += n
			t.Errorf("%s: %d of about %d created-then-used tokens refused, want 0", path, n, tries/len(writers))
		}
		t.Logf("%s: %d tokens created (command line, A, B in turn), each used on A and B: %d refused", engine, tries, total)
		if a.verifier.Size() != tries || b.verifier.Size() != tries {
			t.Errorf("index sizes A %d, B %d; want %d each", a.verifier.Size(), b.verifier.Size(), tries)
		}
	})
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// newPollingInstance is newInstance with the given poll interval for Run.
func newPollingInstance(t *testing.T, dsn string, interval time.Duration) *instance {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v := auth.New(db, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)), interval)
	if err := v.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return &instance{service: tokenward.NewService(tokenward.Config{Store: db, Verifier: v}), verifier: v, db: db}
}

// TestMissesAnsweredFromMemory: a secret that was no token's after a catch-up is refused
// again without another catch-up (a mistyped or revoked token repeated by a client costs
// the database nothing), while a token of a deactivated account, which the index still
// holds, is looked up again on a miss: its reactivation on another instance holds on this
// one from the moment it returned.
func TestMissesAnsweredFromMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		dsn := storetest.DSN(t, engine)
		a, b := newPollingInstance(t, dsn, time.Hour), newPollingInstance(t, dsn, time.Hour)
		reg := prometheus.NewRegistry()
		a.verifier.Register(reg)
		catchUps := func() float64 {
			t.Helper()
			families, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range families {
				if f.GetName() == "tokenward_index_miss_catchups_total" {
					return f.GetMetric()[0].GetCounter().GetValue()
				}
			}
			t.Fatal("no tokenward_index_miss_catchups_total metric")
			return 0
		}
		refused := func(in *instance, secret string) bool {
			_, err := in.service.Authenticate(ctx, secret)
			return tokenward.ErrorCode(err) == tokenward.EUnauthorized
		}

		unknown := tokenward.NewSecret().Reveal()
		if !refused(a, unknown) {
			t.Fatal("an unknown secret verified")
		}
		first := catchUps()
		if first != 1 {
			t.Errorf("catch-ups after the first miss: %v, want 1", first)
		}
		for range 100 {
			refused(a, unknown)
		}
		if got := catchUps(); got != first {
			t.Errorf("catch-ups after repeating the unknown secret 100 times: %v, want still %v", got, first)
		}

		adminAccount, err := tokenward.NewOperator(b.service).CreateUser(ctx, "admin@example.com", tokenward.NewPermissionSet(tokenward.UserManagement), "")
		if err != nil {
			t.Fatal(err)
		}
		admin := tokenward.Principal{AccountID: adminAccount.ID, Account: adminAccount.Identifier, Kind: tokenward.UserAccount,
			Permissions: tokenward.NewPermissionSet(tokenward.UserManagement)}
		if _, err := b.service.CreateServiceAccount(ctx, admin, tokenward.ServiceAccountWrite{Identifier: "sa::bot"}); err != nil {
			t.Fatal(err)
		}
		bot, _, err := b.service.GenerateServiceAccountToken(ctx, admin, "sa::bot", "", tokenward.Lifetime{}, tokenward.Restrictions{})
		if err != nil {
			t.Fatal(err)
		}
		if refused(a, bot.Reveal()) {
			t.Fatal("a token generated on B is refused on A")
		}
		active := false
		if _, err := b.service.UpdateServiceAccount(ctx, admin, "sa::bot", tokenward.ServiceAccountWrite{Active: &active}); err != nil {
			t.Fatal(err)
		}
		if err := a.verifier.CatchUp(ctx); err != nil { // deactivation reaches A within its bound, not at once
			t.Fatal(err)
		}
		before := catchUps()
		for range 3 {
			if !refused(a, bot.Reveal()) {
				t.Fatal("a deactivated account's token verifies")
			}
		}
		if got := catchUps(); got == before {
			t.Errorf("a deactivated account's token was answered from memory (%v catch-ups before and after); its reactivation elsewhere would not be seen", got)
		}
		active = true
		if _, err := b.service.UpdateServiceAccount(ctx, admin, "sa::bot", tokenward.ServiceAccountWrite{Active: &active}); err != nil {
			t.Fatal(err)
		}
		if refused(a, bot.Reveal()) {
			t.Error("a token reactivated on B is refused on A after the reactivation returned")
		}

		if _, err := b.service.RevokeServiceAccountToken(ctx, admin, "sa::bot", bot.Reveal()); err != nil {
			t.Fatal(err)
		}
		if !refused(b, bot.Reveal()) {
			t.Error("a revoked token verifies on the instance that revoked it")
		}
	})
}
