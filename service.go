package tokenward

import (
	"cmp"
	"context"
	"time"
)

// Store is what the Service needs from a database. internal/store implements it for SQLite
// and PostgreSQL; every method that changes tokens does so in one transaction.
type Store interface {
	// CreateAccount inserts a with its permissions, roles and groups, setting its ID;
	// EConflict when the identifier is taken. passwordHash may be empty (the account
	// cannot sign in).
	CreateAccount(ctx context.Context, a *Account, passwordHash string, by AuditEvent) error
	// CreateAccountWithToken inserts a without a password, as CreateAccount, and its first
	// token t, as CreateToken, in one transaction: both or neither.
	CreateAccountWithToken(ctx context.Context, a *Account, t *Token, digest Digest, by AuditEvent) error
	// CreateAccounts inserts accounts without passwords, all or none, as CreateAccount.
	CreateAccounts(ctx context.Context, accounts []*Account, by AuditEvent) error
	// CreateFirstAdmin inserts a only when the database holds no account at all, and
	// reports whether it did; safe when several instances start at once.
	CreateFirstAdmin(ctx context.Context, a *Account, passwordHash string, by AuditEvent) (bool, error)
	// AccountByIdentifier returns the live account with that identifier, or ENotFound.
	AccountByIdentifier(ctx context.Context, identifier string) (Account, error)

	// CreateToken inserts t for its account in a transaction that counts the account's live
	// tokens first and returns TokenCapError when there are already max of them; ENotFound
	// when the account does not exist. Concurrent calls, from any instance, cannot exceed max.
	CreateToken(ctx context.Context, t *Token, digest Digest, max int, by AuditEvent) error
	// LiveTokens returns the account's unrevoked tokens, oldest first.
	LiveTokens(ctx context.Context, accountID int64) ([]Token, error)
	// LiveTokenByID returns the unrevoked token with that public id, or ENotFound.
	LiveTokenByID(ctx context.Context, id string) (Token, error)
	// LiveTokenByDigest returns the unrevoked token whose secret has that digest, or ENotFound.
	LiveTokenByDigest(ctx context.Context, digest Digest) (Token, error)
	// RenameToken sets a live token's name and returns it; ENotFound when it is not live.
	RenameToken(ctx context.Context, id, name string, by AuditEvent) (Token, error)
	// RevokeToken marks a live token revoked at by.At; ENotFound when it is not live.
	RevokeToken(ctx context.Context, id string, by AuditEvent) error

	// PrincipalByDigest returns who a secret with that digest authenticates: its token must
	// be live and its account live and active. ENotFound otherwise.
	PrincipalByDigest(ctx context.Context, digest Digest) (Principal, error)
	// LiveTokensOfAccounts returns the live tokens of each of the accounts, oldest first.
	LiveTokensOfAccounts(ctx context.Context, accountIDs []int64) (map[int64][]Token, error)

	// SearchAccounts returns a page of live accounts of kind ("" for both) matching a
	// request normalized against AccountSearch.
	SearchAccounts(ctx context.Context, kind AccountKind, req SearchRequest) (Page[Account], error)
	// UpdateAccounts applies all changes or none; EInvalid when they would leave no user
	// account holding user_management, ENotFound when an account is gone.
	UpdateAccounts(ctx context.Context, changes []AccountChange, by AuditEvent) error
	// DeleteAccounts marks accounts deleted, revokes their tokens and ends their sessions,
	// all or none, keeping an administrator as UpdateAccounts does.
	DeleteAccounts(ctx context.Context, ids []int64, by AuditEvent) error
	// SetPassword replaces a user account's password hash and ends its sessions.
	SetPassword(ctx context.Context, accountID int64, hash string, by AuditEvent) error
	// PasswordHash returns a live user account and its password hash; ENotFound otherwise.
	PasswordHash(ctx context.Context, email string) (Account, string, error)

	// CreateSession stores a console session and records the account's sign-in.
	CreateSession(ctx context.Context, s Session, digest Digest, by AuditEvent) error
	// SessionByDigest returns a session and its principal when its account is live and
	// active; ENotFound otherwise.
	SessionByDigest(ctx context.Context, digest Digest) (Session, Principal, error)
	// TouchSession records activity on a session.
	TouchSession(ctx context.Context, digest Digest, at time.Time) error
	// DeleteSession ends a session.
	DeleteSession(ctx context.Context, digest Digest) error

	// SearchTokens returns a page of live tokens matching a request normalized against
	// TokenSearch; Total may be a lower bound past a large number of matches.
	SearchTokens(ctx context.Context, req SearchRequest) (Page[Token], error)
	// EachLiveTokenOfOrg calls fn for every live token, oldest first, streaming.
	EachLiveTokenOfOrg(ctx context.Context, fn func(Token) error) error
	// TokenFacet returns a page of distinct values of a token field (one of TokenFacets).
	TokenFacet(ctx context.Context, facet string, req FacetRequest) (Page[string], error)

	SavedSearchStore
	SignInStore
	AccessStore

	// RecordAudit writes an audit event that belongs to no other change (a failed sign-in);
	// the store writes every other event in the transaction of its change.
	RecordAudit(ctx context.Context, e AuditEvent) error
	// AuditEvents returns a page of audit events matching f, newest first.
	AuditEvents(ctx context.Context, f AuditFilter) (Page[AuditEvent], error)
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
	// Source is where the request came from (the client's address), as the audit trail
	// records it; the API and the console set it, the service never judges by it.
	Source string
}

// Verifier answers "who is this token" from memory. internal/auth implements it with an
// index of every live token that follows the database's changes; without one, the Service
// asks the database.
type Verifier interface {
	// Verify returns the principal of the live token whose secret has digest d, and notes
	// the use; false for anything else. It touches no database.
	Verify(d Digest) (Principal, bool)
	// CatchUp applies every change committed so far, so that a write's effect on
	// verification holds on this instance from the moment the write returns.
	CatchUp(ctx context.Context) error
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
}

// NewService returns a Service built from cfg. It is not changed after: every instance
// setting comes in here.
func NewService(cfg Config) *Service {
	s := &Service{store: cfg.Store, now: cfg.Now, verifier: cfg.Verifier,
		sessionIdle: cmp.Or(cfg.SessionIdle, DefaultSessionIdle), sessionMax: cmp.Or(cfg.SessionMax, DefaultSessionMax)}
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

// Authenticate returns the principal a token's secret speaks for. Anything that is not the
// secret of a live token of a live, active account gets ErrInvalidToken; a database failure
// gets an internal error (so an outage is not mistaken for a bad token).
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	sec, ok := ParseSecret(secret)
	if !ok {
		return Principal{}, ErrInvalidToken
	}
	if s.verifier != nil {
		if p, ok := s.verifier.Verify(sec.Digest()); ok {
			return p, nil
		}
		return Principal{}, ErrInvalidToken
	}
	p, err := s.store.PrincipalByDigest(ctx, sec.Digest())
	if ErrorCode(err) == ENotFound {
		return Principal{}, ErrInvalidToken
	}
	return p, err
}
