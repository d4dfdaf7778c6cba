package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// clockedInstance is an instance whose service and verifier read one settable clock, and
// whose verifier does not run (Run would advance a clock of its own).
func clockedInstance(t *testing.T, dsn string, clock *testkit.Clock) *instance {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v := auth.New(db, clock.Now, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
	if err := v.Load(context.Background()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return &instance{service: tokenward.NewService(tokenward.Config{Store: db, Verifier: v, Now: clock.Now}), verifier: v, db: db}
}

// recentClients renders the token's recent clients as "address|user agent|seconds after
// start", as the database holds them.
func recentClients(t *testing.T, db *store.DB, id string, start time.Time) []string {
	t.Helper()
	tok, err := db.LiveTokenByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range tok.RecentClients {
		out = append(out, fmt.Sprintf("%s|%s|%d", c.Address, c.UserAgent, int(c.LastSeen.Sub(start)/time.Second)))
	}
	return out
}

// TestRecentClientsFromTwoInstances: two instances verify one token for clients that
// overlap, then flush at the same moment; the token keeps the five clients seen last by
// either, each at the later of the two instances' times, newest first. Nothing is written
// before a flush; a client that fell out comes back when it is seen again.
func TestRecentClientsFromTwoInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		dsn := storetest.DSN(t, engine)
		clock := testkit.NewClock()
		start := clock.Now()
		a, b := clockedInstance(t, dsn, clock), clockedInstance(t, dsn, clock)
		tokenward.NewOperator(a.service).CreateUser(ctx, "jane@example.com", 0, "")
		secret, tok, err := tokenward.NewOperator(a.service).GenerateToken(ctx, "jane@example.com", "ci")
		if err != nil {
			t.Fatal(err)
		}
		if err := b.verifier.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		caller := func(addr, agent string) tokenward.Caller {
			return tokenward.Caller{Address: netip.MustParseAddr(addr), UserAgent: agent}
		}
		uses := []struct {
			on     *instance
			caller tokenward.Caller
		}{
			{a, caller("203.0.113.1", "curl/8.5")},
			{b, caller("203.0.113.2", "curl/8.5")},
			{a, caller("2001:db8::7", "terraform/1.9")},
			{b, caller("203.0.113.1", "curl/8.5")}, // a's first client, later on b
			{a, caller("::ffff:198.51.100.3", "python-requests/2.32")},
			{b, caller("198.51.100.4", "")},
			{a, caller("198.51.100.5", "Go-http-client/1.1")},
			{a, caller("198.51.100.5", "Go-http-client/1.1")}, // repeated on a: one client
			{b, caller("203.0.113.9", "<script>alert(1)</script>")},
			{a, tokenward.Caller{UserAgent: "no address"}}, // the command line: no client
		}
		for _, u := range uses {
			clock.Advance(time.Second)
			if _, err := u.on.service.AuthenticateFrom(ctx, secret.Reveal(), u.caller); err != nil {
				t.Fatalf("AuthenticateFrom(%v): %v", u.caller, err)
			}
		}
		if got := recentClients(t, a.db, tok.ID, start); len(got) != 0 {
			t.Fatalf("clients written before any flush: %q", got)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, in := range []*instance{a, b} {
			wg.Go(func() { errs[i] = in.verifier.FlushUsage(ctx) })
		}
		wg.Wait()
		if err := cmpErrs(errs); err != nil {
			t.Fatalf("FlushUsage: %v", err)
		}
		want := []string{
			"203.0.113.9|<script>alert(1)</script>|9", "198.51.100.5|Go-http-client/1.1|8",
			"198.51.100.4||6", "198.51.100.3|python-requests/2.32|5", "203.0.113.1|curl/8.5|4",
		}
		if got := recentClients(t, a.db, tok.ID, start); !slices.Equal(got, want) {
			t.Errorf("after both flushes\n got %q\nwant %q", got, want)
		}
		fresh, err := a.db.LiveTokenByID(ctx, tok.ID)
		if err != nil || fresh.LastUsed.Sub(start) != 10*time.Second {
			t.Errorf("lastUsed %v, %v; want the newest use, 10s after start", fresh.LastUsed.Sub(start), err)
		}

		// 2001:db8::7 fell out; seen again on b, it is the newest, and 203.0.113.1 falls out.
		clock.Advance(time.Second)
		if _, err := b.service.AuthenticateFrom(ctx, secret.Reveal(), caller("2001:db8::7", "terraform/1.9")); err != nil {
			t.Fatal(err)
		}
		for _, in := range []*instance{a, b} { // a has nothing new: its flush writes nothing
			if err := in.verifier.FlushUsage(ctx); err != nil {
				t.Fatal(err)
			}
		}
		want = append([]string{"2001:db8::7|terraform/1.9|11"}, want[:4]...)
		if got := recentClients(t, a.db, tok.ID, start); !slices.Equal(got, want) {
			t.Errorf("after a client came back\n got %q\nwant %q", got, want)
		}
	})
}

// TestRefusedUsesAreNoUses: a use the service refuses (from outside the token's networks,
// or after its expiry) moves neither the token's last use nor its recent clients, so
// that refused requests cannot keep an idle token alive; the uses it accepts do.
func TestRefusedUsesAreNoUses(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		clock := testkit.NewClock()
		start := clock.Now()
		a := clockedInstance(t, storetest.DSN(t, engine), clock)
		op := tokenward.NewOperator(a.service)
		if _, err := op.CreateUser(ctx, "jane@example.com", tokenward.NewPermissionSet(tokenward.TokenManagement), ""); err != nil {
			t.Fatal(err)
		}
		bound, boundTok, err := op.GenerateTokenFor(ctx, "jane@example.com", "bound", tokenward.Lifetime{},
			tokenward.Restrictions{Networks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
		if err != nil {
			t.Fatal(err)
		}
		short, shortTok, err := op.GenerateTokenFor(ctx, "jane@example.com", "short", tokenward.Lifetime{In: time.Minute}, tokenward.Restrictions{})
		if err != nil {
			t.Fatal(err)
		}
		use := func(secret tokenward.Secret, addr string, accepted bool) {
			t.Helper()
			clock.Advance(time.Second)
			_, err := a.service.AuthenticateFrom(ctx, secret.Reveal(), tokenward.Caller{Address: netip.MustParseAddr(addr), UserAgent: "curl/8.5"})
			if accepted != (err == nil) {
				t.Fatalf("use from %s: %v, want accepted %v", addr, err, accepted)
			}
		}
		use(bound, "10.1.2.3", true)      // +1s
		use(short, "203.0.113.1", true)   // +2s
		use(bound, "203.0.113.66", false) // +3s: outside
		clock.Advance(time.Minute)
		use(short, "203.0.113.2", false) // +64s: expired
		if err := a.verifier.FlushUsage(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			id      string
			clients []string
			used    time.Duration
		}{
			{boundTok.ID, []string{"10.1.2.3|curl/8.5|1"}, time.Second},
			{shortTok.ID, []string{"203.0.113.1|curl/8.5|2"}, 2 * time.Second},
		} {
			if got := recentClients(t, a.db, c.id, start); !slices.Equal(got, c.clients) {
				t.Errorf("token %s: recent clients %q, want only the accepted use %q", c.id, got, c.clients)
			}
			tok, err := a.db.LiveTokenByID(ctx, c.id)
			if err != nil || tok.LastUsed.Sub(start) != c.used {
				t.Errorf("token %s: last used %v after start (%v), want %v: the accepted use", c.id, tok.LastUsed.Sub(start), err, c.used)
			}
		}
	})
}

func cmpErrs(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// TestRecentClientsOfManyClientsInMemory: one instance sees more distinct clients of a
// token between two flushes than a token keeps; the flush writes the newest five.
func TestRecentClientsOfManyClientsInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		clock := testkit.NewClock()
		start := clock.Now()
		in := clockedInstance(t, storetest.DSN(t, engine), clock)
		tokenward.NewOperator(in.service).CreateUser(ctx, "jane@example.com", 0, "")
		secret, tok, err := tokenward.NewOperator(in.service).GenerateToken(ctx, "jane@example.com", "ci")
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := 1; i <= 12; i++ {
			clock.Advance(time.Second)
			addr := fmt.Sprintf("192.0.2.%d", i)
			if _, ok := in.verifier.Verify(secret.Digest(), tokenward.Caller{Address: netip.MustParseAddr(addr), UserAgent: "agent"}); !ok {
				t.Fatal("token not verified")
			}
			want = append([]string{fmt.Sprintf("%s|agent|%d", addr, i)}, want...)
		}
		if err := in.verifier.FlushUsage(ctx); err != nil {
			t.Fatal(err)
		}
		if got := recentClients(t, in.db, tok.ID, start); !slices.Equal(got, want[:tokenward.MaxRecentClients]) {
			t.Errorf("got %q\nwant %q", got, want[:tokenward.MaxRecentClients])
		}
	})
}

// failingFlushes is a database whose next usage writes fail, as when it goes away for a
// while.
type failingFlushes struct {
	*store.DB
	fail int
}

func (f *failingFlushes) RecordUsage(ctx context.Context, used map[int64]int64, clients []auth.ClientUse) error {
	if f.fail > 0 {
		f.fail--
		return errors.New("the database is away")
	}
	return f.DB.RecordUsage(ctx, used, clients)
}

// TestRecentClientsKeptAcrossFailedFlushes: clients noted while flushes fail are written by
// the first flush that succeeds (with no use since), each once at its newest time.
func TestRecentClientsKeptAcrossFailedFlushes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		clock := testkit.NewClock()
		start := clock.Now()
		db := storetest.Open(t, engine)
		src := &failingFlushes{DB: db}
		v := auth.New(src, clock.Now, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
		if err := v.Load(ctx); err != nil {
			t.Fatal(err)
		}
		service := tokenward.NewService(tokenward.Config{Store: db, Verifier: v, Now: clock.Now})
		tokenward.NewOperator(service).CreateUser(ctx, "jane@example.com", 0, "")
		secret, tok, err := tokenward.NewOperator(service).GenerateToken(ctx, "jane@example.com", "ci")
		if err != nil {
			t.Fatal(err)
		}
		a := tokenward.Caller{Address: netip.MustParseAddr("192.0.2.1"), UserAgent: "a"}
		b := tokenward.Caller{Address: netip.MustParseAddr("192.0.2.2"), UserAgent: "b"}
		src.fail = 3
		for i, c := range []tokenward.Caller{a, b, a} { // a flush after each use fails
			clock.Advance(time.Second)
			if _, ok := v.Verify(secret.Digest(), c); !ok {
				t.Fatal("token not verified")
			}
			if err := v.FlushUsage(ctx); err == nil {
				t.Fatalf("flush %d succeeded while the database is away", i+1)
			}
		}
		if got := recentClients(t, db, tok.ID, start); len(got) != 0 {
			t.Fatalf("written by a failed flush: %q", got)
		}
		if err := v.FlushUsage(ctx); err != nil { // back, and no use since
			t.Fatal(err)
		}
		if got := recentClients(t, db, tok.ID, start); !slices.Equal(got, []string{"192.0.2.1|a|3", "192.0.2.2|b|2"}) {
			t.Errorf("after the database came back: %q, want a at 3s and b at 2s", got)
		}
	})
}
