package loadtest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/api"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// countingSource counts the database reads the verifier makes.
type countingSource struct {
	auth.Source
	changeLogReads, accountReads atomic.Int64
}

func (c *countingSource) ChangesSince(ctx context.Context, seq int64, limit int) ([]auth.Change, error) {
	c.changeLogReads.Add(1)
	return c.Source.ChangesSince(ctx, seq, limit)
}

func (c *countingSource) AccountVerificationState(ctx context.Context, id int64) (auth.VerificationState, []auth.LiveToken, error) {
	c.accountReads.Add(1)
	return c.Source.AccountVerificationState(ctx, id)
}

// TestUnknownTokenFlood sends /auth/verify a flood of random tokens (each one new, so
// neither the index nor its memory of absent secrets knows it) from concurrency workers,
// with no invalid-token limiter (a flood from many addresses), while the command line
// creates a token every 50 ms that is used at once through the same server. It prints the
// database reads the flood cost per second and fails when the change-log queries pass
// the documented bound (one per auth.MissCatchUpGap, the poll being an hour here) or a
// token created during the flood is refused. Sizes: as TestForwardAuthLoad (1 s when
// TOKENWARD_LOAD is not 1).
func TestUnknownTokenFlood(t *testing.T) {
	d := time.Second
	if os.Getenv("TOKENWARD_LOAD") == "1" {
		d = envDuration(t, "TOKENWARD_LOAD_DURATION", 5*time.Second)
	}
	const concurrency = 32
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		db := storetest.Open(t, engine)
		src := &countingSource{Source: db}
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		verifier := auth.New(src, time.Now, logger, time.Hour)
		if err := verifier.Load(ctx); err != nil {
			t.Fatal(err)
		}
		go verifier.Run(ctx, func(context.Context, func()) {})
		service := tokenward.NewService(tokenward.Config{Store: db, Now: time.Now, Verifier: verifier})
		cli := tokenward.NewService(tokenward.Config{Store: db}) // like `tokenward token create`
		if _, err := tokenward.NewOperator(cli).CreateServiceAccount(ctx, "sa::flood", tokenward.NewPermissionSet(tokenward.Ingestion), ""); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(api.New(service, api.Config{Org: "acme", Logger: logger}))
		t.Cleanup(srv.Close)
		client := &http.Client{Transport: &http.Transport{MaxIdleConns: 2 * concurrency, MaxIdleConnsPerHost: concurrency}}
		t.Cleanup(client.CloseIdleConnections)

		// The command line creates tokens during the flood; each must verify at once.
		var created, refused atomic.Int64
		var wg sync.WaitGroup
		floodDone := make(chan struct{})
		wg.Go(func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-floodDone:
					return
				case <-tick.C:
				}
				if i >= tokenward.MaxTokensPerAccount {
					continue
				}
				secret, _, err := tokenward.NewOperator(cli).GenerateToken(ctx, "sa::flood", fmt.Sprintf("during the flood %d", i))
				if err != nil {
					t.Errorf("generate during the flood: %v", err)
					return
				}
				created.Add(1)
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/auth/verify", nil)
				req.Header.Set("Authorization", "Bearer "+secret.Reveal())
				res, err := client.Do(req)
				if err != nil {
					t.Errorf("verify a token created during the flood: %v", err)
					return
				}
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					refused.Add(1)
				}
			}
		})

		changeLog, accounts := src.changeLogReads.Load(), src.accountReads.Load()
		r := run(client, target{name: "random tokens", url: srv.URL + "/auth/verify", check: func(res *http.Response) string {
			if res.StatusCode != http.StatusUnauthorized {
				return fmt.Sprintf("status %d", res.StatusCode)
			}
			return ""
		}}, func() string { return "Bearer " + tokenward.NewSecret().Reveal() }, concurrency, d)
		changeLog, accounts = src.changeLogReads.Load()-changeLog, src.accountReads.Load()-accounts
		close(floodDone)
		wg.Wait()

		bound := float64(time.Second / auth.MissCatchUpGap)
		report := fmt.Sprintf("%s: flood of random tokens, %d workers, %s: %d requests (%.0f/s), p50 %s, p99 %s; "+
			"change-log queries %d (%.1f/s, bound %.0f/s per instance + the poll); account reads %d (for the %d tokens the command line created meanwhile, %d refused)\n",
			engine, concurrency, r.elapsed.Round(time.Millisecond), r.requests, r.rate(), round(r.p50), round(r.p99),
			changeLog, float64(changeLog)/r.elapsed.Seconds(), bound, accounts, created.Load(), refused.Load())
		fmt.Print(report)
		t.Log(report)

		requireCorrect(t, "flood", r)
		if most := int64(r.elapsed.Seconds()*bound) + 2; changeLog > most {
			t.Errorf("the flood cost %d change-log queries in %s, want at most %d (one per %s)", changeLog, r.elapsed, most, auth.MissCatchUpGap)
		}
		if refused.Load() > 0 {
			t.Errorf("%d of %d tokens created by the command line during the flood were refused, want 0", refused.Load(), created.Load())
		}
	})
}
