package tokenward

import (
	"context"
	"fmt"
	"time"
)

// The token lifecycle sweep (issue 14, reference §13): what happens to tokens with time
// alone, with nobody asking. Expiry itself needs no sweep (Authenticate refuses from the
// expiry instant on, by the service's clock); the sweep records what people must be told
// (token.expiring 30, 7 and 1 days ahead, token.expired) and enforces the policy's idle
// timeout, which depends on every instance's last-used times and so cannot be judged on
// the verification path.
//
// serve runs Operator.SweepLifecycle on every instance each minute. Each notice and each
// idle disabling is a conditional UPDATE of the token's row in the transaction that also
// writes its audit event, so that it is recorded exactly once however many instances
// sweep at the same moment, and again after a restart.

// FirstExpiryNotice is how long before its expiry a token gets its first notice. The
// thresholds are 30, 7 and 1 days: the sweep records token.expiring at each (the store's
// conditional UPDATE holds them, with the index of migration 0015 that finds the tokens
// due). A token gets the notice of the smallest threshold it is within when a sweep first
// sees it so, then each smaller one once: a token generated with 5 days to live gets the
// 7-day and the 1-day notices, never the 30-day one, and a token the sweep first sees 12
// hours before its expiry gets the 1-day notice alone. A larger threshold's notice never
// follows a smaller one's. A rotation, which gives the token a new expiry, starts its
// notices again.
const FirstExpiryNotice = 30 * 24 * time.Hour

// MinIdleTimeout is the shortest idle timeout a policy may set: the sweep runs each minute
// and allows a margin over the usage flush, so a shorter one could not be honoured.
const MinIdleTimeout = time.Hour

// DefaultIdleMargin is how much longer than the idle timeout a token must look unused in
// the database before the sweep disables it. A use on another instance reaches the
// database at that instance's next usage flush (--usage-flush, 5 s by default), so a token
// in use anywhere never looks unused for longer than the timeout plus this margin.
const DefaultIdleMargin = time.Minute

// IdleCutoff disables the enabled, unexpired tokens of one kind of account whose last
// activity (the latest of generation, rotation and use) is before Before.
type IdleCutoff struct {
	Kind   AccountKind
	Before time.Time
}

// LifecycleStore is what the sweep needs from the database. Each write runs in
// transactions that hold its audit events and, when it changes what verifies, a change
// of each account concerned.
type LifecycleStore interface {
	// NoticeExpiries records token.expiring for every live, enabled token whose next
	// threshold (30, 7 or 1 days before its expiry) was reached at by.At, and token.expired for those that
	// expired, each once per token (and per expiry: a rotation starts again), and returns
	// how many it recorded.
	NoticeExpiries(ctx context.Context, by AuditEvent) (int, error)
	// DisableIdleTokens disables the live, enabled tokens unexpired at by.At that a cutoff
	// names, recording token.idle_disabled and a change of each account concerned, and
	// returns how many; dryRun only counts them.
	DisableIdleTokens(ctx context.Context, cutoffs []IdleCutoff, by AuditEvent, dryRun bool) (int, error)
}

// Sweep is what one lifecycle sweep recorded.
type Sweep struct {
	Notices      int // token.expiring and token.expired events
	IdleDisabled int
}

// sweeper is the actor the audit trail names for what the sweep records.
var sweeper = Principal{Account: "tokenward", Source: "lifecycle sweep"}

// SweepLifecycle records the due expiry notices and disables the tokens idle for longer
// than the policy allows, as of the service's clock. It flushes this instance's usage
// first and judges idleness with the service's idle margin, so that a token used on any
// instance within its timeout is never disabled; when the flush fails it disables
// nothing. Running it again, on this or any instance, records nothing twice.
func (o *Operator) SweepLifecycle(ctx context.Context) (Sweep, error) {
	s := o.s
	by := s.by(sweeper)
	var out Sweep
	var err error
	if out.Notices, err = s.store.NoticeExpiries(ctx, by); err != nil {
		return out, err
	}
	policy, err := s.store.TokenPolicy(ctx)
	if err != nil {
		return out, err
	}
	out.IdleDisabled, err = s.disableIdle(ctx, policy, by, false)
	return out, err
}

// disableIdle disables (dryRun: counts) the tokens idle for longer than policy allows at
// by.At, after flushing this instance's usage, and has this instance's verifier refuse
// them before it returns.
func (s *Service) disableIdle(ctx context.Context, policy TokenPolicy, by AuditEvent, dryRun bool) (int, error) {
	cutoffs := s.idleCutoffs(policy, by.At)
	if len(cutoffs) == 0 {
		return 0, nil
	}
	if s.verifier != nil {
		if err := s.verifier.FlushUsage(ctx); err != nil {
			return 0, fmt.Errorf("record token usage before judging idle tokens: %w", err)
		}
	}
	n, err := s.store.DisableIdleTokens(ctx, cutoffs, by, dryRun)
	if dryRun || n == 0 {
		return n, err
	}
	return n, s.written(ctx, err)
}

// idleCutoffs returns the cutoff of each kind of account whose tokens have an idle
// timeout: now minus the timeout and the margin.
func (s *Service) idleCutoffs(policy TokenPolicy, now time.Time) []IdleCutoff {
	var out []IdleCutoff
	for _, kind := range []AccountKind{UserAccount, ServiceAccount} {
		if idle := policy.For(kind).IdleTimeout; idle > 0 {
			out = append(out, IdleCutoff{Kind: kind, Before: now.Add(-idle - s.idleMargin)})
		}
	}
	return out
}

// Why a listed token no longer works (reference §13 disabledReason).
const (
	DisabledExpired = "expired"
	DisabledIdle    = "idle"
)

// DisabledReason says why t no longer works at now: DisabledIdle when the sweep disabled
// it before it expired, DisabledExpired from its expiry instant on, "" while it works.
func (t Token) DisabledReason(now time.Time) string {
	expired := !t.Expires.IsZero() && !now.Before(t.Expires)
	switch {
	case !t.IdleDisabled.IsZero() && (!expired || t.IdleDisabled.Before(t.Expires)):
		return DisabledIdle
	case expired:
		return DisabledExpired
	}
	return ""
}
