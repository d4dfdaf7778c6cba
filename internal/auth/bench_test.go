package auth_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/cmd/tokenward-bench/seed"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// benchTokens is how many tokens the benchmarks seed: TOKENWARD_BENCH_TOKENS, default
// 100,000 (1,000,000 for the figures the README quotes).
func benchTokens(b *testing.B) int {
	if v := os.Getenv("TOKENWARD_BENCH_TOKENS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 20 {
			b.Fatalf("TOKENWARD_BENCH_TOKENS=%q: want a number of at least 20", v)
		}
		return n
	}
	return 100_000
}

func seededDB(b *testing.B, engine store.Engine, tokens int) *store.DB {
	b.Helper()
	db := storetest.Open(b, engine)
	start := time.Now()
	if err := seed.Fill(context.Background(), db, seed.Spec{Accounts: tokens / 20, TokensPerAccount: 20,
		ServiceShare: 0.25, NeverUsedShare: 0.2, Now: time.Now()}); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d tokens in %v", tokens/20*20, time.Since(start).Round(time.Millisecond))
	return db
}

// BenchmarkVerify measures verification of a known and an unknown token (secret text to
// principal: parse, SHA-256, index lookup, usage note with the caller's address and user
// agent, one repeated client as a script is) beside a baseline of one SHA-256
// plus one lookup in a plain map of the same size, in the same run, serially and from
// GOMAXPROCS goroutines (run with -cpu 1,2 to see how each scales).
func BenchmarkVerify(b *testing.B) {
	n := benchTokens(b)
	db := seededDB(b, store.SQLite, n)
	v := auth.New(db, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
	if err := v.Load(context.Background()); err != nil {
		b.Fatal(err)
	}
	if v.Size() != n/20*20 {
		b.Fatalf("index holds %d tokens, want %d", v.Size(), n/20*20)
	}
	// As in serve: Run keeps the index current and advances the clock usage is noted with.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go v.Run(ctx, func(context.Context, func()) {})
	caller := tokenward.Caller{Address: netip.MustParseAddr("203.0.113.7"),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}
	verifyFrom := func(text string, c tokenward.Caller) bool {
		s, ok := tokenward.ParseSecret(text)
		if !ok {
			return false
		}
		_, ok = v.Verify(s.Digest(), c)
		return ok
	}
	verify := func(text string) bool { return verifyFrom(text, caller) }
	known, unknown := seed.Secret(n/2).Reveal(), tokenward.NewSecret().Reveal()
	if !verify(known) || verify(unknown) {
		b.Fatal("the known token must verify and the unknown one must not")
	}
	// A token bound to three networks and scoped to one permission: verification plus the
	// network check AuthenticateFrom makes.
	scope := tokenward.NewPermissionSet(tokenward.Ingestion)
	networks, err := tokenward.ParseAllowedCIDRs([]string{"10.0.0.0/8", "192.168.0.0/16", "127.0.0.0/8"})
	if err != nil {
		b.Fatal(err)
	}
	op := tokenward.NewOperator(tokenward.NewService(tokenward.Config{Store: db, Verifier: v}))
	if _, err := op.CreateUser(context.Background(), "bench@example.com", scope, ""); err != nil {
		b.Fatal(err)
	}
	restricted, _, err := op.GenerateTokenFor(context.Background(), "bench@example.com", "bench",
		tokenward.Lifetime{}, tokenward.Restrictions{Networks: networks, Permissions: &scope})
	if err != nil {
		b.Fatal(err)
	}
	local := tokenward.Caller{Address: netip.MustParseAddr("127.0.0.1"), UserAgent: "bench/1"}
	verifyRestricted := func(text string) bool {
		s, ok := tokenward.ParseSecret(text)
		if !ok {
			return false
		}
		p, ok := v.Verify(s.Digest(), local)
		return ok && tokenward.AllowedFrom(p.AllowedNetworks, local.Address)
	}
	if !verifyRestricted(restricted.Reveal()) {
		b.Fatal("the restricted token must verify from 127.0.0.1")
	}
	baseline := make(map[[32]byte]int64, n)
	for i := range n {
		baseline[sha256.Sum256([]byte(seed.Secret(i)))] = int64(i)
	}
	b.Run("known", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			verify(known)
		}
	})
	b.Run("unknown", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			verify(unknown)
		}
	})
	b.Run("known-restricted", func(b *testing.B) {
		b.ReportAllocs()
		text := restricted.Reveal()
		for b.Loop() {
			verifyRestricted(text)
		}
	})
	b.Run("baseline-sha256-map", func(b *testing.B) {
		b.ReportAllocs()
		var buf [36]byte
		for b.Loop() {
			copy(buf[:], known)
			_ = baseline[sha256.Sum256(buf[:])]
		}
	})
	// The parallel baseline scales with cores by construction (nothing shared is written):
	// known-parallel against it, at -cpu 1 and 2 in the same run, shows whether verification
	// scales as well on a machine that other work shares.
	b.Run("baseline-sha256-map-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var buf [36]byte
			for pb.Next() {
				copy(buf[:], known)
				_ = baseline[sha256.Sum256(buf[:])]
			}
		})
	})
	b.Run("known-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				verify(known)
			}
		})
	})
	// Without a caller's address nothing is noted of the client (the command line): what
	// verification cost before recent clients, in the same run, so that known against it
	// is the cost of noting the client.
	b.Run("known-no-client", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			verifyFrom(known, tokenward.Caller{})
		}
	})
	// The cost of noting the client, as a ratio robust to a machine others share: blocks
	// of verifications with and without a client alternate, each block timed, so that the
	// load's changes fall on both alike.
	b.Run("client-cost", func(b *testing.B) {
		const block = 2000
		var with, without time.Duration
		for b.Loop() {
			start := time.Now()
			for range block {
				verifyFrom(known, caller)
			}
			mid := time.Now()
			for range block {
				verifyFrom(known, tokenward.Caller{})
			}
			with, without = with+mid.Sub(start), without+time.Since(mid)
		}
		b.ReportMetric(float64(with)/float64(without), "with/without")
		b.ReportMetric(float64(with)/float64(b.N*block), "ns/verify-with-client")
		b.ReportMetric(float64(without)/float64(b.N*block), "ns/verify-without")
	})
	b.Run("known-no-client-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				verifyFrom(known, tokenward.Caller{})
			}
		})
	})
}

// BenchmarkLoadIndex measures building the index from the database at start, on each
// engine, and the memory it holds per token (heap after a GC, less the heap before).
func BenchmarkLoadIndex(b *testing.B) {
	n := benchTokens(b)
	for _, engine := range storetest.Engines {
		b.Run(string(engine), func(b *testing.B) {
			db := seededDB(b, engine, n)
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			var perToken float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				v := auth.New(db, time.Now, logger, time.Hour)
				if err := v.Load(context.Background()); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perToken = float64(after.HeapAlloc-before.HeapAlloc) / float64(v.Size())
				runtime.KeepAlive(v)
			}
			b.ReportMetric(perToken, "bytes/token")
			b.ReportMetric(float64(n/20*20), "tokens")
		})
	}
}
