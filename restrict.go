package tokenward

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// Token restrictions (reference §14, beyond Wavefront): a token may be bound to networks,
// failing like an invalid token from anywhere else, and may carry a subset of its
// account's permissions, so that a leaked CI token cannot do what its account's people can.

// MaxAllowedCIDRs is how many networks one token may be bound to: enough for a few
// offices and runners, few enough that the check stays a short loop.
const MaxAllowedCIDRs = 32

// Restrictions is what a generate request asks of a new token beyond its name and
// lifetime. The zero value restricts nothing, as in Wavefront.
type Restrictions struct {
	// Networks the token works from, normalized (ParseAllowedCIDRs); nil: anywhere.
	Networks []netip.Prefix
	// Permissions the token carries, a subset of its account's; nil: all of the account's,
	// whatever they become.
	Permissions *PermissionSet
}

// ParseAllowedCIDRs returns the networks the list names, for a token's allowedCidrs: each
// entry a CIDR ("10.0.0.0/8", "2001:db8::/32") or a single address (as /32 or /128),
// IPv4-mapped IPv6 taken as IPv4, host bits cleared, sorted and without duplicates. A nil
// list is nil (anywhere). Errors: EInvalid naming the bad entry, for an empty list (a token
// that works from nowhere is a revoked one) and above MaxAllowedCIDRs.
func ParseAllowedCIDRs(list []string) ([]netip.Prefix, error) {
	if list == nil {
		return nil, nil
	}
	if len(list) == 0 {
		return nil, Errorf(EInvalid, "allowedCidrs lists no network; give null for a token that works from anywhere")
	}
	if len(list) > MaxAllowedCIDRs {
		return nil, Errorf(EInvalid, "allowedCidrs lists %d networks; at most %d are allowed", len(list), MaxAllowedCIDRs)
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := parseCIDR(strings.TrimSpace(s))
		if err != nil {
			return nil, Errorf(EInvalid, "allowedCidrs: %s is not a CIDR (like 10.0.0.0/8 or 2001:db8::/32) or an IP address", quoteShort(s))
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out), nil
}

// parseCIDR parses one network or address, normalized: IPv4-mapped IPv6 unmapped (as
// edge.CallerOf unmaps the caller's address, so both sides compare alike), no zone, host
// bits cleared.
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, Errorf(EInvalid, "bad address")
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, Errorf(EInvalid, "an IPv4-mapped network shorter than /96")
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// quoteShort quotes s for a message, cut to 64 bytes: the message names the bad entry
// without echoing a request's megabytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return Visible(`"` + s + `"`)
}

// CIDRStrings returns networks as text, nil for nil (anywhere): the API's allowedCidrs.
func CIDRStrings(networks []netip.Prefix) []string {
	if networks == nil {
		return nil
	}
	out := make([]string, len(networks))
	for i, p := range networks {
		out[i] = p.String()
	}
	return out
}

// AllowedFrom reports whether a caller at addr may use a token bound to networks (nil:
// anywhere). An unknown (invalid) address fails a bound token: the check cannot tell where
// it comes from. It allocates nothing.
func AllowedFrom(networks []netip.Prefix, addr netip.Addr) bool {
	if networks == nil {
		return true
	}
	addr = addr.Unmap()
	for _, p := range networks {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParsePermissionList returns the set the names list. Errors: EInvalid naming an unknown
// permission.
func ParsePermissionList(names []string) (PermissionSet, error) {
	var set PermissionSet
	for _, name := range names {
		p, err := ParsePermission(name)
		if err != nil {
			return 0, err
		}
		set |= NewPermissionSet(p)
	}
	return set, nil
}

// within returns r for a token of an account that holds held (named holder in messages):
// a permission subset must lie within held. A caller authenticated by a scoped token
// (scoped) passes on its own scope by default, so that such a token cannot mint one that
// can do more than itself. Errors: EInvalid naming a permission the account lacks.
func (r Restrictions) within(held PermissionSet, scoped bool, holder string) (Restrictions, error) {
	if r.Permissions == nil {
		if scoped {
			set := held
			r.Permissions = &set
		}
		return r, nil
	}
	if extra := *r.Permissions &^ held; extra != 0 {
		return r, Errorf(EInvalid, "permissions: %s does not hold %s; a token carries at most its account's permissions",
			holder, PermissionList(extra))
	}
	return r, nil
}

// TokenEdit is a change to a live token; nil fields stay as they are.
type TokenEdit struct {
	Name *string
	// Networks replaces the networks the token works from; pointing to nil: anywhere.
	Networks *[]netip.Prefix
}

// EditOwnToken changes the name and networks of one of the caller's live tokens, named by
// public id or secret, as one write. Errors: ENotFound, EInvalid.
func (s *Service) EditOwnToken(ctx context.Context, p Principal, ref string, edit TokenEdit) (Token, error) {
	if err := requireUserAccount(p); err != nil {
		return Token{}, err
	}
	return s.editToken(ctx, s.by(p), p.AccountID, ref, edit)
}

// EditServiceAccountToken is EditOwnToken for a service account's token, an
// administrator's. Errors: EForbidden, ENotFound, EInvalid.
func (s *Service) EditServiceAccountToken(ctx context.Context, p Principal, identifier, ref string, edit TokenEdit) (Token, error) {
	if err := RequireAccounts(p); err != nil {
		return Token{}, err
	}
	a, err := s.accountOf(ctx, identifier, ServiceAccount)
	if err != nil {
		return Token{}, err
	}
	return s.editToken(ctx, s.by(p), a.ID, ref, edit)
}

// editToken changes the live token of owner (anyOwner: of any account) that ref names: the
// one path of every edit. A change of networks changes what verifies, so it reaches this
// instance's index before the answer (and every other instance through the change row).
// Errors: ENotFound, EInvalid.
func (s *Service) editToken(ctx context.Context, by AuditEvent, owner int64, ref string, edit TokenEdit) (Token, error) {
	if edit.Name == nil && edit.Networks == nil {
		return Token{}, Errorf(EInvalid, "nothing to change: give tokenName, allowedCidrs or both")
	}
	t, err := s.tokenOf(ctx, owner, ref)
	if err != nil {
		return Token{}, err
	}
	if edit.Name != nil {
		name, err := NormalizeTokenName(*edit.Name)
		if err != nil {
			return Token{}, err
		}
		edit.Name = &name
	}
	edited, err := s.store.EditToken(ctx, t.ID, edit, by)
	if edit.Networks != nil {
		err = s.written(ctx, err, t.AccountID)
	}
	return edited, err
}

// perMinute remembers when each token's event of one kind was last recorded, so that a
// client retrying in a loop writes one audit event a minute, not one a request.
type perMinute struct {
	mu   sync.Mutex
	last map[int64]time.Time // by token seq
}

// due reports whether token seq's event may be recorded at now, and if so notes it. Past
// a thousand tokens it forgets those whose minute is over, so the map stays small.
func (m *perMinute) due(seq int64, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		m.last = map[int64]time.Time{}
	}
	if now.Sub(m.last[seq]) < time.Minute {
		return false
	}
	if len(m.last) >= 1000 {
		for k, at := range m.last {
			if now.Sub(at) >= time.Minute {
				delete(m.last, k)
			}
		}
	}
	m.last[seq] = now
	return true
}

// reportOutside records in the audit trail that p's token was presented from c, outside
// its networks, at most once a minute per token. The write runs in the background, so a
// client hammering with a bound token costs no database write per request; it never fails
// the request, which gets its 401 either way. WaitReports waits for it.
func (s *Service) reportOutside(p Principal, c Caller) {
	now := s.clock()
	if !s.outside.due(p.TokenSeq, now) {
		return
	}
	from := "an unknown address"
	if c.Address.IsValid() {
		from = c.Address.String()
	}
	s.reports.Add(1)
	go func() {
		defer s.reports.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		t, err := s.store.LiveTokenBySeq(ctx, p.TokenSeq)
		if err != nil {
			return
		}
		_ = s.store.RecordAudit(ctx, TokenUsedOutsideNetworks(AuditEvent{At: now, Source: from}, t))
	}()
}

// WaitReports waits until the audit events reported in the background so far are written:
// for a shutdown, and for tests that read them.
func (s *Service) WaitReports() { s.reports.Wait() }
