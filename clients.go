package tokenward

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// Where a token was used (reference §14, recentClients): each token remembers the last
// MaxRecentClients distinct clients it verified for, a client being an (address, user agent)
// pair, so that an owner can tell a leaked token in use elsewhere from their own scripts.
// The verifier notes them in memory and writes them with last-used times, never on the
// verification path; the store keeps the newest MaxRecentClients per token.

// MaxRecentClients is how many distinct clients a token remembers.
const MaxRecentClients = 5

// MaxUserAgentLength is the most bytes of a user agent kept. The text is the caller's to
// choose: unbounded, one client could fill the database with one token.
const MaxUserAgentLength = 512

// RecentClient is one client a token was used from: its address (behind trusted proxies
// the forwarded one), its user agent as sent (CleanUserAgent), and when it was last seen.
type RecentClient struct {
	Address   netip.Addr
	UserAgent string
	LastSeen  time.Time
}

// ClientAddressOf returns a as recent clients record it: an IPv4 address in IPv6 form
// unmapped, without a zone, so that one client is one address whatever the listener. It
// allocates nothing.
func ClientAddressOf(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}

// CapUserAgent returns ua cut to at most MaxUserAgentLength bytes, at a character boundary
// when ua is UTF-8 text. It allocates nothing (the result shares ua's bytes), so the
// verification path can compare with it.
func CapUserAgent(ua string) string {
	if len(ua) <= MaxUserAgentLength {
		return ua
	}
	cut := MaxUserAgentLength
	for cut > MaxUserAgentLength-utf8.UTFMax && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
}

// CleanUserAgent returns ua as it can be stored as text on both engines and shown: cut by
// CapUserAgent, invalid UTF-8 and NUL bytes (which PostgreSQL text refuses) replaced by
// U+FFFD. Display goes through Visible all the same: the text is the caller's.
func CleanUserAgent(ua string) string {
	ua = CapUserAgent(ua)
	if utf8.ValidString(ua) && strings.IndexByte(ua, 0) < 0 {
		return ua
	}
	ua = strings.ReplaceAll(strings.ToValidUTF8(ua, "\uFFFD"), "\x00", "\uFFFD")
	return CapUserAgent(ua)
}

// AddressRange is a search value of the key clientAddress: every address from First to
// Last, both in 16-byte form (an IPv4 address as IPv4-mapped IPv6), which is how the store
// keeps clients' addresses, so that a CIDR is a range of bytes on both engines.
type AddressRange struct {
	First, Last [16]byte
}

// ParseAddressRange reads a clientAddress value: a CIDR ("203.0.113.0/24",
// "2001:db8::/32"; host bits are ignored) or one address. Errors: EInvalid.
func ParseAddressRange(s string) (AddressRange, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			return AddressRange{}, Errorf(EInvalid, "key \"clientAddress\" takes an IP address or a CIDR such as 203.0.113.0/24 or 2001:db8::/32, not %q", s)
		}
		a = a.WithZone("")
		p = netip.PrefixFrom(a, a.BitLen())
	}
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	r := AddressRange{First: p.Masked().Addr().As16()}
	r.Last = r.First
	for i := bits; i < 128; i++ {
		r.Last[i/8] |= 0x80 >> (i % 8)
	}
	return r, nil
}

// Contains reports whether the range holds a (in its recorded form, ClientAddressOf).
func (r AddressRange) Contains(a netip.Addr) bool {
	b := ClientAddressOf(a).As16()
	return string(b[:]) >= string(r.First[:]) && string(b[:]) <= string(r.Last[:])
}
