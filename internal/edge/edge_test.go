package edge_test

import (
	"net/http/httptest"
	"testing"

	"github.com/tokenward/tokenward/internal/edge"
)

func TestCallerOf(t *testing.T) {
	for _, c := range []struct {
		name, remote, xff string
		trust             bool
		want              string // "" for an invalid address
	}{
		{"remote address", "192.0.2.7:4000", "", false, "192.0.2.7"},
		{"IPv6", "[2001:db8::1]:4000", "", false, "2001:db8::1"},
		{"IPv4-mapped IPv6 is IPv4", "[::ffff:127.0.0.1]:4000", "", false, "127.0.0.1"},
		{"forwarded for, untrusted", "127.0.0.1:4000", "203.0.113.9", false, "127.0.0.1"},
		{"forwarded for, trusted: the last hop", "127.0.0.1:4000", "198.51.100.1, 203.0.113.9", true, "203.0.113.9"},
		{"forwarded garbage, trusted", "127.0.0.1:4000", "not-an-address", true, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/auth/verify", nil)
			r.RemoteAddr = c.remote
			r.Header.Set("User-Agent", "probe/1")
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			got := edge.CallerOf(r, c.trust)
			if (c.want == "" && got.Address.IsValid()) || (c.want != "" && got.Address.String() != c.want) {
				t.Fatalf("address %v, want %q", got.Address, c.want)
			}
			if got.UserAgent != "probe/1" {
				t.Fatalf("user agent %q", got.UserAgent)
			}
		})
	}
}
