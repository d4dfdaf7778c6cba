package auth_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

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
