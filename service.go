package tokenward

import (
	"cmp"
	"context"
	"net/netip"
	"sync"
	"time"
)

// Store is what the Service needs from a database: each kind of rule's own interface,
// declared beside the rules that use it. internal/store implements it for SQLite and
// PostgreSQL; every write runs in one transaction with its audit events.
type Store interface {
	AccountStore
	TokenStore
	SessionStore
	SavedSearchStore
	SignInStore
	AccessStore
	AuditStore
	PolicyStore
	FlashStore
	InviteStore
	TokenLabelStore
	LifecycleStore
	WebhookStore
	RevokeJobStore
}

// AccountChange is one change to an existing account; nil fields stay as they are.
type AccountChange struct {
	ID          int64
	Active      *bool
	Description *string
	Permissions *PermissionSet // replaces the whole set
	Roles       *[]string      // role ids; replaces the account's own roles
	Groups      *[]string      // group ids (not Everyone's); replaces its memberships
}

// Principal is an authenticated caller: the account a token (or, later, a console session)
// speaks for, and what it may do.
type Principal struct {
	AccountID   int64
	Account     string
	Kind        AccountKind
	Permissions PermissionSet
	TokenSeq    int64 // the internal number of the token that authenticated the request, if any
	// TokenExpires is when the token that authenticated the request expires; zero: never.
	TokenExpires time.Time
	// ReplacedSecret: the request presented the secret a rotation replaced, which works
	// until TokenExpires (the grace end).
	ReplacedSecret bool
	// Scoped: the token carries a subset of its account's permissions, and Permissions is
	// that subset as far as the account still holds it.
	Scoped bool
	// AllowedNetworks are the networks the token works from; nil: anywhere. Shared with
	// the verification index: read only.
	AllowedNetworks []netip.Prefix
	// Source is where the request came from (the client's address), as the audit trail
	// records it; the API and the console set it, the service never judges by it.
	Source string
}

// Verifier answers "who is this token" from memory. internal/auth implements it with an
// index of every live token that follows the database's changes; without one, the Service
// asks the database.
type Verifier interface {
	// Verify returns the principal of the live token whose secret has digest d, and notes
	// the use by c (a token's recent clients); false for anything else. It touches no
	// database.
	Verify(d Digest, c Caller) (Principal, bool)
	// VerifyCurrent is Verify as of the call: a token whose creation committed before the
	// call verifies, even when it was made elsewhere (the command line, another instance)
	// and this instance has not caught up with it yet. On a miss it may wait for one
	// catch-up shared with every other miss (a bounded number per second, whatever the
	// number of misses); false when ctx ends first or the database does not answer.
	VerifyCurrent(ctx context.Context, d Digest, c Caller) (Principal, bool)
	// CatchUp applies every change committed so far, so that a write's effect on
	// verification holds on this instance from the moment the write returns.
	CatchUp(ctx context.Context) error
	// FlushUsage writes the last-used times noted in memory, so that the idle timeout
	// judges by every use this instance has seen.
	FlushUsage(ctx context.Context) error
	// Suspend makes the accounts' tokens fail on this instance until the next successful
	// catch-up applies their state: for a write that took access away but could not be
	// read back (the database went away right after the commit).
	Suspend(accountIDs ...int64)
}

// Service holds tokenward's business rules: who may do what, the token cap, what revocation
// means. The REST API, the console and the command line all go through it, so they cannot
// disagree.
type Service struct {
	store Store
	now   func() time.Time
	// sessionIdle and sessionMax bound a console session: it ends after sessionIdle
	// without activity, and sessionMax after sign-in whatever the activity.
	sessionIdle, sessionMax time.Duration
	verifier                Verifier // nil: verify against the database
	signIn                  *signInGate
	reused                  perMinute      // reuse of replaced secrets reported (tokens.go)
	outside                 perMinute      // uses from outside allowed networks reported (restrict.go)
	reports                 sync.WaitGroup // audit writes running in the background
	// idleMargin is added to every idle timeout: uses on other instances reach the
	// database only at their next usage flush (sweep.go).
	idleMargin time.Duration
	// jobs wakes this instance's bulk revocation runner when a job is created here.
	jobs chan struct{}
}

// Default console session lifetimes.
const (
	DefaultSessionIdle = 2 * time.Hour
	DefaultSessionMax  = 12 * time.Hour
)

// Config is what a Service is built from; zero fields take their defaults.
type Config struct {
	Store Store
	Now   func() time.Time // the clock; time.Now when nil
	// Verifier answers Authenticate from memory; nil: from the database (the command line,
	// which verifies nothing).
	Verifier Verifier
	// SessionIdle and SessionMax bound a console session: it ends after SessionIdle without
	// activity, and SessionMax after sign-in whatever the activity (DefaultSessionIdle,
	// DefaultSessionMax when zero).
	SessionIdle, SessionMax time.Duration
	// SignIn limits console sign-ins; DefaultSignInPolicy when nil.
	SignIn *SignInPolicy
	// IdleMargin is how much longer than the policy's idle timeout a token must look unused
	// before the sweep disables it: more than any instance's usage flush interval
	// (DefaultIdleMargin when zero).
	IdleMargin time.Duration
}

// NewService returns a Service built from cfg. It is not changed after: every instance
// setting comes in here.
func NewService(cfg Config) *Service {
	s := &Service{store: cfg.Store, now: cfg.Now, verifier: cfg.Verifier,
		sessionIdle: cmp.Or(cfg.SessionIdle, DefaultSessionIdle), sessionMax: cmp.Or(cfg.SessionMax, DefaultSessionMax),
		idleMargin: cmp.Or(cfg.IdleMargin, DefaultIdleMargin),
		jobs:       make(chan struct{}, 1)}
	if s.now == nil {
		s.now = time.Now
	}
	policy := DefaultSignInPolicy()
	if cfg.SignIn != nil {
		policy = *cfg.SignIn
	}
	s.signIn = newSignInGate(policy)
	return s
}

// written wraps every write that affects verification and returns its error. After a
// committed write, with a verifier, it applies the write to this instance's index before
// the caller answers, so that a revoked token fails here on the very next request. When
// that catch-up fails, the accounts whose access the write reduced (restricted) are
// suspended on this instance instead: failing closed until the database answers again.
// The write itself succeeded either way.
func (s *Service) written(ctx context.Context, err error, restricted ...int64) error {
	if err == nil && s.verifier != nil {
		if s.verifier.CatchUp(ctx) != nil && len(restricted) > 0 {
			s.verifier.Suspend(restricted...)
		}
	}
	return err
}

// Now returns the service's clock's time, for callers that turn relative filters ("used
// in the last 7 days") into instants the same way the service would.
func (s *Service) Now() time.Time { return s.clock() }

// clock returns the current time at the millisecond precision the API and the database use,
// so that a value read back equals the value written.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// ErrInvalidToken is the one answer to every token that does not verify, whatever the
// reason, so that a caller learns nothing about which reason it was.
var ErrInvalidToken = &Error{Code: EUnauthorized, Message: "the token is invalid or has been revoked"}

// ErrNoCredentials is the answer to a request that presents no token at all.
var ErrNoCredentials = &Error{Code: EUnauthorized, Message: "authentication required: send an API token as \"Authorization: Bearer <token>\""}

// Caller is what a request says about where it comes from: the client's address after the
// trusted-proxy rules (invalid when unknown, as at the command line) and its user agent.
// Verification reads it for the rules that depend on the caller, and nothing else.
type Caller struct {
	Address   netip.Addr
	UserAgent string
}

// Authenticate returns the principal a token's secret speaks for, for a caller of unknown
// origin; see AuthenticateFrom.
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	return s.AuthenticateFrom(ctx, secret, Caller{})
}

// AuthenticateFrom returns the principal a token's secret speaks for when presented by c.
// Anything that is not the secret of a live token of a live, active account, presented
// from within the token's allowed networks, gets ErrInvalidToken (a use from outside is
// recorded in the audit trail, at most once a minute per token); a database failure gets
// an internal error (so an outage is not mistaken for a bad token).
func (s *Service) AuthenticateFrom(ctx context.Context, secret string, c Caller) (Principal, error) {
	sec, ok := ParseSecret(secret)
	if !ok {
		return Principal{}, ErrInvalidToken
	}
	var p Principal
	var err error
	if s.verifier != nil {
		var ok bool
		if p, ok = s.verifier.VerifyCurrent(ctx, sec.Digest(), c); !ok {
			return Principal{}, ErrInvalidToken
		}
	} else if p, err = s.store.PrincipalByDigest(ctx, sec.Digest()); ErrorCode(err) == ENotFound {
		return Principal{}, ErrInvalidToken
	} else if err != nil {
		return Principal{}, err
	}
	if s.expired(p) {
		if p.ReplacedSecret {
			s.reportReuse(p, sec.Digest())
		}
		return Principal{}, ErrInvalidToken
	}
	if !AllowedFrom(p.AllowedNetworks, c.Address) {
		s.reportOutside(p, c)
		return Principal{}, ErrInvalidToken
	}
	return p, nil
}

// expired reports whether p's token has expired: from its expiry instant on, by the
// service's clock, it fails like a revoked token, on every instance, with no sweep.
func (s *Service) expired(p Principal) bool {
	return !p.TokenExpires.IsZero() && !s.now().Before(p.TokenExpires)
}
