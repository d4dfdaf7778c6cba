package tokenward

import (
	"context"
	"fmt"
	"time"
)

// Token lifetimes (reference §13, beyond Wavefront): a token may expire, and the
// organization's policy may give new tokens a default lifetime and cap how long any may
// live, separately for user and service-account tokens. No policy keeps Wavefront's
// behaviour: tokens live until revoked.

// Lifetime is what a generate request asks of a new token's expiry. The zero value asks
// for the policy's default.
type Lifetime struct {
	In    time.Duration // > 0: expire this long after generation
	Never bool          // never expire (refused when the policy has a maximum)
}

// LifetimeLimits is the policy for one kind of account's tokens; zero: no such limit.
type LifetimeLimits struct {
	Default time.Duration // the lifetime of a token generated without one
	Max     time.Duration // no token lives longer (EInvalid above it)
	// IdleTimeout disables a token unused for this long (sweep.go): between MinIdleTimeout
	// and MaxLifetime.
	IdleTimeout time.Duration
}

// TokenPolicy is the organization's token lifetime policy and the format of its new
// tokens' secrets.
type TokenPolicy struct {
	UserTokens           LifetimeLimits
	ServiceAccountTokens LifetimeLimits
	Format               TokenFormat // of new secrets; "" is TokenFormatUUID
	Updated              time.Time
	UpdatedBy            string
}

// For returns the limits of kind's tokens.
func (p TokenPolicy) For(kind AccountKind) LifetimeLimits {
	if kind == ServiceAccount {
		return p.ServiceAccountTokens
	}
	return p.UserTokens
}

// PolicyEffect is what a policy change does to the existing tokens: how many get an earlier
// expiry (a new maximum applies to them from the moment it is set) and how many a new idle
// timeout disables at once (they have been unused for longer already).
type PolicyEffect struct {
	ExpireSooner int
	IdleDisabled int
}

// PolicyStore is what the lifetime policy needs from the database.
type PolicyStore interface {
	// TokenPolicy returns the policy; the zero policy when none was ever set.
	TokenPolicy(ctx context.Context) (TokenPolicy, error)
	// SetTokenPolicy stores p and gives every live token whose expiry lies beyond now plus
	// its kind's new maximum (or that never expires) that expiry, all in one transaction
	// recording a change for every instance; dryRun counts them and changes nothing.
	SetTokenPolicy(ctx context.Context, p TokenPolicy, dryRun bool, by AuditEvent) (PolicyEffect, error)
}

// MaxLifetime is the longest lifetime the policy and a request may name: ten years.
const MaxLifetime = 10 * 365 * 24 * time.Hour

// check refuses negative or absurd limits and a default above the maximum.
func (l LifetimeLimits) check(which string) error {
	for _, d := range []time.Duration{l.Default, l.Max} {
		if d < 0 || d > MaxLifetime {
			return Errorf(EInvalid, "%s: a lifetime is between 1 second and %s", which, MaxLifetime)
		}
	}
	if l.IdleTimeout != 0 && (l.IdleTimeout < MinIdleTimeout || l.IdleTimeout > MaxLifetime) {
		return Errorf(EInvalid, "%s: an idle timeout is between %s and %s", which, MinIdleTimeout, MaxLifetime)
	}
	if l.Max > 0 && l.Default > l.Max {
		return Errorf(EInvalid, "%s: the default lifetime (%s) is above the maximum (%s)", which, l.Default, l.Max)
	}
	return nil
}

// newSecret returns when a token of kind generated at now with the lifetime asked expires
// (zero: never), within the policy, and a fresh secret in the policy's format. Errors:
// EInvalid naming the limit.
func (s *Service) newSecret(ctx context.Context, kind AccountKind, asked Lifetime, now time.Time) (time.Time, Secret, error) {
	if asked.In < 0 || asked.In > MaxLifetime || (asked.Never && asked.In != 0) {
		return time.Time{}, "", Errorf(EInvalid, "expiresInSeconds must be between 1 and %d, or neverExpires true", int64(MaxLifetime/time.Second))
	}
	policy, err := s.store.TokenPolicy(ctx)
	if err != nil {
		return time.Time{}, "", err
	}
	expires, err := policy.expiry(kind, asked, now)
	if err != nil {
		return time.Time{}, "", err
	}
	return expires, policy.Format.NewSecret(), nil
}

// expiry returns when a token of kind generated at now with the lifetime asked expires
// (zero: never), within the policy. Errors: EInvalid naming the limit.
func (policy TokenPolicy) expiry(kind AccountKind, asked Lifetime, now time.Time) (time.Time, error) {
	limits := policy.For(kind)
	life := asked.In
	switch {
	case asked.Never && limits.Max > 0:
		return time.Time{}, Errorf(EInvalid, "the organization's tokens expire within %s at most; a token that never expires is not allowed", limits.Max)
	case asked.Never:
		return time.Time{}, nil
	case life == 0:
		life = limits.Default
	case limits.Max > 0 && life > limits.Max:
		return time.Time{}, Errorf(EInvalid, "expiresInSeconds %d is above the organization's maximum token lifetime of %d seconds (%s)",
			int64(life/time.Second), int64(limits.Max/time.Second), limits.Max)
	}
	if life == 0 {
		life = limits.Max // a maximum without a default: the longest allowed
	}
	if life == 0 {
		return time.Time{}, nil
	}
	return now.Add(life), nil
}

// TokenPolicy returns the organization's token lifetime policy. Errors: EForbidden.
func (s *Service) TokenPolicy(ctx context.Context, p Principal) (TokenPolicy, error) {
	if err := RequireAccounts(p); err != nil {
		return TokenPolicy{}, err
	}
	return s.store.TokenPolicy(ctx)
}

// LifetimeLimitsFor returns the policy's limits for kind's tokens to any authenticated
// caller: whoever may generate a token may know the limits it is generated under (the
// policy itself, who set it and when, is the administrators': TokenPolicy).
func (s *Service) LifetimeLimitsFor(ctx context.Context, p Principal, kind AccountKind) (LifetimeLimits, error) {
	if p.AccountID == 0 {
		return LifetimeLimits{}, Errorf(EUnauthorized, "authentication required")
	}
	policy, err := s.store.TokenPolicy(ctx)
	return policy.For(kind), err
}

// SetTokenPolicy replaces the policy and returns what it did to the existing tokens; with
// dryRun it only counts. A new maximum applies to existing tokens from now: none lives
// longer than now plus the maximum; a new idle timeout disables at once the tokens unused
// for longer (as the next sweep would). Errors: EForbidden, EInvalid; an error after the
// policy was stored (disabling the idle tokens) leaves it stored, and the next sweep
// disables them.
func (s *Service) SetTokenPolicy(ctx context.Context, p Principal, policy TokenPolicy, dryRun bool) (PolicyEffect, error) {
	if err := RequireAccounts(p); err != nil {
		return PolicyEffect{}, err
	}
	if err := policy.UserTokens.check("userTokens"); err != nil {
		return PolicyEffect{}, err
	}
	if err := policy.ServiceAccountTokens.check("serviceAccountTokens"); err != nil {
		return PolicyEffect{}, err
	}
	format, err := ParseTokenFormat(string(policy.Format))
	if err != nil {
		return PolicyEffect{}, err
	}
	policy.Format = format
	by := s.by(p)
	policy.Updated, policy.UpdatedBy = by.At, p.Account
	effect, err := s.store.SetTokenPolicy(ctx, policy, dryRun, by)
	if err != nil {
		return effect, err
	}
	if !dryRun {
		if err := s.written(ctx, nil); err != nil {
			return effect, err
		}
	}
	effect.IdleDisabled, err = s.disableIdle(ctx, policy, by, dryRun)
	return effect, err
}

// PolicySet is the event of a change of the token lifetime policy.
func PolicySet(by AuditEvent, p TokenPolicy, effect PolicyEffect) AuditEvent {
	limits := func(l LifetimeLimits) string {
		return fmt.Sprintf("default %s, max %s, idle timeout %s", orNone(l.Default), orNone(l.Max), orNone(l.IdleTimeout))
	}
	format := p.Format
	if format == "" {
		format = TokenFormatUUID
	}
	return by.As(AuditPolicyUpdate, "token policy", fmt.Sprintf("user tokens: %s; service-account tokens: %s; token format: %s; %d tokens expire sooner",
		limits(p.UserTokens), limits(p.ServiceAccountTokens), format, effect.ExpireSooner))
}

func orNone(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}
