package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/auth"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// seqOf returns the internal number of the token with that secret, which flushes name.
func seqOf(t *testing.T, db *store.DB, s tokenward.Secret) int64 {
	t.Helper()
	p, err := db.PrincipalByDigest(context.Background(), s.Digest())
	if err != nil {
		t.Fatal(err)
	}
	return p.TokenSeq
}

// clientsOf renders a token's recent clients as "address|user agent|ms since t0".
func clientsOf(t *testing.T, db *store.DB, a tokenward.Account, id string) []string {
	t.Helper()
	live, err := db.LiveTokens(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range live {
		if tok.ID == id {
			var out []string
			for _, c := range tok.RecentClients {
				out = append(out, fmt.Sprintf("%s|%s|%d", c.Address, c.UserAgent, c.LastSeen.Sub(t0).Milliseconds()))
			}
			return out
		}
	}
	t.Fatalf("token %s not live", id)
	return nil
}

func rowsOf(t *testing.T, db *store.DB, seq int64) int {
	t.Helper()
	var n int
	if err := db.WriteBatch(context.Background(), func(tx *sql.Tx) error {
		return tx.QueryRow(`SELECT count(*) FROM token_clients WHERE token_seq = $1`, seq).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRecordUsageKeepsTheNewestFiveClients: flushes of more than five distinct clients of
// a token keep exactly the five seen last, newest first; a time never moves backwards; a
// client is an (address, user agent) pair, an IPv4 address the same client however it is
// written; user agents are stored capped and as valid text; another token is untouched.
func TestRecordUsageKeepsTheNewestFiveClients(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		db := storetest.Open(t, engine)
		ctx := context.Background()
		owner := newAccount(t, db, "jane@example.com", tokenward.UserAccount)
		tok, secret := newToken(t, db, owner, "a")
		other, otherSecret := newToken(t, db, owner, "b")
		seq, otherSeq := seqOf(t, db, secret), seqOf(t, db, otherSecret)
		ms := func(n int64) int64 { return t0.UnixMilli() + n }
		use := func(seq int64, addr, agent string, at int64) auth.ClientUse {
			return auth.ClientUse{TokenSeq: seq, Address: netip.MustParseAddr(addr), UserAgent: agent, LastSeen: ms(at)}
		}
		long := strings.Repeat("é", tokenward.MaxUserAgentLength) // twice the bytes allowed
		flushes := []struct {
			name    string
			clients []auth.ClientUse
			want    []string
			other   []string
		}{
			{"four clients and one of another token", []auth.ClientUse{
				use(seq, "203.0.113.1", "curl/8.5", 1000),
				use(seq, "203.0.113.1", "terraform/1.9", 2000), // same address, another agent: another client
				use(seq, "2001:db8::1", "curl/8.5", 3000),
				use(seq, "::ffff:198.51.100.7", "bad\xff\x00agent", 4000),
				use(otherSeq, "192.0.2.9", "other", 1500),
			}, []string{
				"198.51.100.7|bad\uFFFD\uFFFDagent|4000", "2001:db8::1|curl/8.5|3000",
				"203.0.113.1|terraform/1.9|2000", "203.0.113.1|curl/8.5|1000",
			}, []string{"192.0.2.9|other|1500"}},
			{"a repeat, a stale time, three new clients (one twice in the batch)", []auth.ClientUse{
				use(seq, "203.0.113.1", "curl/8.5", 5000),          // moves forward
				use(seq, "2001:db8::1", "curl/8.5", 10),            // an older time: kept at 3000
				use(seq, "198.51.100.7", "bad\xff\x00agent", 6000), // the mapped address's client
				use(seq, "192.0.2.1", long, 7000),
				use(seq, "192.0.2.2", "", 8000),
				use(seq, "192.0.2.2", "", 7500),
			}, []string{
				"192.0.2.2||8000", "192.0.2.1|" + tokenward.CapUserAgent(long) + "|7000",
				"198.51.100.7|bad\uFFFD\uFFFDagent|6000", "203.0.113.1|curl/8.5|5000", "2001:db8::1|curl/8.5|3000",
			}, []string{"192.0.2.9|other|1500"}},
			{"clients at one instant: the order of their bytes decides, at the cut too", []auth.ClientUse{
				use(seq, "192.0.2.3", "b", 9000),
				use(seq, "192.0.2.3", "a", 9000),
				use(seq, "192.0.2.4", "z", 6000), // ties with 198.51.100.7, whose bytes sort after
			}, []string{
				"192.0.2.3|a|9000", "192.0.2.3|b|9000", "192.0.2.2||8000",
				"192.0.2.1|" + tokenward.CapUserAgent(long) + "|7000", "192.0.2.4|z|6000",
			}, []string{"192.0.2.9|other|1500"}},
		}
		for _, f := range flushes {
			used := map[int64]int64{}
			for _, c := range f.clients {
				used[c.TokenSeq] = max(used[c.TokenSeq], c.LastSeen)
			}
			if err := db.RecordUsage(ctx, used, f.clients); err != nil {
				t.Fatalf("%s: RecordUsage: %v", f.name, err)
			}
			if got := clientsOf(t, db, owner, tok.ID); !slices.Equal(got, f.want) {
				t.Errorf("%s: recent clients\n got %q\nwant %q", f.name, got, f.want)
			}
			if got := clientsOf(t, db, owner, other.ID); !slices.Equal(got, f.other) {
				t.Errorf("%s: the other token's clients %q, want %q", f.name, got, f.other)
			}
			if n := rowsOf(t, db, seq); n != len(f.want) {
				t.Errorf("%s: %d rows kept, want %d", f.name, n, len(f.want))
			}
		}
		if got := len(tokenward.CapUserAgent(long)); got > tokenward.MaxUserAgentLength || got < tokenward.MaxUserAgentLength-1 {
			t.Errorf("capped user agent is %d bytes, want %d or one less (a whole character)", got, tokenward.MaxUserAgentLength)
		}
		// Every answer carries them: a single token and the organization's listing.
		one, err := db.LiveTokenByID(ctx, tok.ID)
		if err != nil || len(one.RecentClients) != tokenward.MaxRecentClients || one.RecentClients[0].UserAgent != "a" {
			t.Errorf("LiveTokenByID: %+v, %v; want the five clients", one.RecentClients, err)
		}
		var listed []tokenward.Token
		if err := db.EachLiveTokenOfOrg(ctx, func(t tokenward.Token) error { listed = append(listed, t); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(listed) != 2 || len(listed[0].RecentClients) != 5 || len(listed[1].RecentClients) != 1 ||
			listed[0].RecentClients[4].LastSeen != time.UnixMilli(ms(6000)).UTC() {
			t.Errorf("EachLiveTokenOfOrg: %+v; want both tokens with their clients", listed)
		}
	})
}
