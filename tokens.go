package tokenward

import (
	"context"
	"fmt"
	"time"
)

// TokenStore is what tokens need from the database: every write that changes what
// verifies records a change for every instance in its transaction.
type TokenStore interface {
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
	// EditToken changes a live token's name and networks (nil fields stay as they are) and
	// returns it, recording a change for every instance when the networks change.
	// ENotFound when it is not live.
	EditToken(ctx context.Context, id string, edit TokenEdit, by AuditEvent) (Token, error)
	// RotateToken gives a live token a new secret and expiry; its current secret works
	// until graceEnds (none unless after by.At). ENotFound when it is not live.
	RotateToken(ctx context.Context, id string, digest Digest, hint string, expires, graceEnds time.Time, by AuditEvent) (Token, error)
	// LiveTokenBySeq returns the unrevoked token with that internal number, or ENotFound.
	LiveTokenBySeq(ctx context.Context, seq int64) (Token, error)
	// TokenByReplacedDigest returns the live token whose previous secret (the one its last
	// rotation replaced) has that digest, or ENotFound.
	TokenByReplacedDigest(ctx context.Context, digest Digest) (Token, error)
	// RevokeToken marks a live token revoked at by.At; ENotFound when it is not live.
	RevokeToken(ctx context.Context, id string, by AuditEvent) error

	// PrincipalByDigest returns who a secret with that digest authenticates: its token must
	// be live and its account live and active. ENotFound otherwise.
	PrincipalByDigest(ctx context.Context, digest Digest) (Principal, error)
	// LiveTokensOfAccounts returns the live tokens of each of the accounts, oldest first.
	LiveTokensOfAccounts(ctx context.Context, accountIDs []int64) (map[int64][]Token, error)

	// SearchTokens returns a page of live tokens matching a request normalized against
	// TokenSearch; Total may be a lower bound past a large number of matches.
	SearchTokens(ctx context.Context, req SearchRequest) (Page[Token], error)
	// EachLiveTokenOfOrg calls fn for every live token, oldest first, streaming.
	EachLiveTokenOfOrg(ctx context.Context, fn func(Token) error) error
	// TokenFacet returns a page of distinct values of a token field (one of TokenFacets).
	TokenFacet(ctx context.Context, facet string, req FacetRequest) (Page[string], error)
}

// TokenCapError is the error for a generate request on an account that already holds
// MaxTokensPerAccount live tokens. The store returns it from inside the transaction that
// counted them.
func TokenCapError(account string) *Error {
	return Errorf(EInvalid, "account %s already holds %d API tokens, the maximum; revoke one before generating another",
		account, MaxTokensPerAccount)
}

// permissionNames are the console's names of the permissions tokenward enforces, used in
// messages so that a 403 says what to ask an administrator for.
var permissionNames = map[Permission]string{TokenManagement: "API Tokens", UserManagement: "Accounts"}

// RequirePermission returns an EForbidden error naming perm when p lacks it; forward auth
// uses it for the permission a proxied request needs.
func RequirePermission(p Principal, perm Permission) error {
	return require(p, perm, "this request")
}

// require returns an EForbidden error naming perm when p lacks it.
func require(p Principal, perm Permission, action string) error {
	if p.Permissions.Has(perm) {
		return nil
	}
	name := string(perm) + " permission"
	if ui, ok := permissionNames[perm]; ok {
		name = fmt.Sprintf("%q permission (%s)", ui, perm)
	}
	return Errorf(EForbidden, "%s requires the %s", action, name)
}

// requireUserAccount returns EForbidden for anything but a user account: service accounts
// have no own-token list; an administrator manages their tokens.
func requireUserAccount(p Principal) error {
	if p.Kind != UserAccount {
		return Errorf(EForbidden, "only user accounts manage their own API tokens; a service account's tokens are managed by an account administrator")
	}
	return nil
}

// OwnTokens returns the caller's live tokens, oldest first.
func (s *Service) OwnTokens(ctx context.Context, p Principal) ([]Token, error) {
	if err := requireUserAccount(p); err != nil {
		return nil, err
	}
	return s.store.LiveTokens(ctx, p.AccountID)
}

// GenerateOwnToken generates a token for the caller's own account, which needs the API
// Tokens permission. It returns the new secret (to be shown once) and all the caller's live
// tokens with the new one last. Errors: EForbidden, EInvalid for a bad name or when the
// account already holds MaxTokensPerAccount tokens, for networks that are not CIDRs and
// for permissions the caller does not hold (a caller authenticated by a scoped token
// passes that scope on by default).
func (s *Service) GenerateOwnToken(ctx context.Context, p Principal, name string, life Lifetime, r Restrictions) (Secret, []Token, error) {
	if err := requireUserAccount(p); err != nil {
		return "", nil, err
	}
	if err := require(p, TokenManagement, "generating API tokens"); err != nil {
		return "", nil, err
	}
	holder := "your account"
	if p.Scoped {
		holder = "the token this request authenticates with"
	}
	r, err := r.within(p.Permissions, p.Scoped, holder)
	if err != nil {
		return "", nil, err
	}
	return s.generate(ctx, s.by(p), p.AccountID, p.Account, p.Kind, name, life, r)
}

// RenameOwnToken renames one of the caller's live tokens, named by public id or secret.
// Errors: ENotFound when the caller has no such live token, EInvalid for a bad name.
func (s *Service) RenameOwnToken(ctx context.Context, p Principal, ref, name string) (Token, error) {
	if err := requireUserAccount(p); err != nil {
		return Token{}, err
	}
	return s.renameToken(ctx, s.by(p), p.AccountID, ref, name)
}

// RevokeOwnToken revokes one of the caller's live tokens, named by public id or secret, and
// returns the caller's remaining live tokens. Revocation is irreversible. Errors: ENotFound
// when the caller has no such live token.
func (s *Service) RevokeOwnToken(ctx context.Context, p Principal, ref string) ([]Token, error) {
	if err := requireUserAccount(p); err != nil {
		return nil, err
	}
	if _, err := s.revokeToken(ctx, s.by(p), p.AccountID, ref); err != nil {
		return nil, err
	}
	return s.store.LiveTokens(ctx, p.AccountID)
}

// renameToken renames the live token of owner (anyOwner: of any account) that ref names:
// the one path of every rename. Errors: ENotFound, EInvalid for a bad name.
func (s *Service) renameToken(ctx context.Context, by AuditEvent, owner int64, ref, name string) (Token, error) {
	return s.editToken(ctx, by, owner, ref, TokenEdit{Name: &name})
}

// revokeToken revokes the live token of owner (anyOwner: of any account) that ref names,
// waits until this instance's verifier refuses it, and returns it as it was: the one path
// of every revocation. Errors: ENotFound, EInvalid when no administrator would remain.
func (s *Service) revokeToken(ctx context.Context, by AuditEvent, owner int64, ref string) (Token, error) {
	t, err := s.tokenOf(ctx, owner, ref)
	if err != nil {
		return Token{}, err
	}
	if err := s.written(ctx, s.store.RevokeToken(ctx, t.ID, by), t.AccountID); err != nil {
		return Token{}, err
	}
	t.Revoked = by.At
	return t, nil
}

// newToken checks a new token's name and lifetime and returns it, with its secret and
// restrictions (checked by the caller), for the account (identifier, kind) to generate it
// for at by.At. Errors: EInvalid.
func (s *Service) newToken(ctx context.Context, by AuditEvent, account string, kind AccountKind, name string, life Lifetime, r Restrictions) (Token, Secret, error) {
	name, err := NormalizeTokenName(name)
	if err != nil {
		return Token{}, "", err
	}
	expires, secret, err := s.newSecret(ctx, kind, life, by.At)
	if err != nil {
		return Token{}, "", err
	}
	return Token{ID: NewTokenID(), Name: name, Hint: secret.Hint(), Account: account, Created: by.At, Expires: expires,
		AllowedNetworks: r.Networks, Permissions: r.Permissions}, secret, nil
}

// generate creates a token for an account and returns its secret and the account's live
// tokens with the new one last (the API's contract, whatever the clock's resolution).
func (s *Service) generate(ctx context.Context, by AuditEvent, accountID int64, account string, kind AccountKind, name string, life Lifetime, r Restrictions) (Secret, []Token, error) {
	t, secret, err := s.newToken(ctx, by, account, kind, name, life, r)
	if err != nil {
		return "", nil, err
	}
	t.AccountID = accountID
	if err := s.written(ctx, s.store.CreateToken(ctx, &t, secret.Digest(), MaxTokensPerAccount, by)); err != nil {
		return "", nil, err
	}
	return s.withLast(ctx, accountID, t, secret)
}

// anyOwner is the owner of tokenOf, renameToken and revokeToken that names no account: an
// administrator's reach over the organization's tokens.
const anyOwner int64 = 0

// tokenOf returns the live token that ref names, a public id or a secret, when it belongs to
// owner (any account for anyOwner); ENotFound otherwise, so that nobody learns of other
// accounts' tokens. The message never repeats ref, which may be a secret.
func (s *Service) tokenOf(ctx context.Context, owner int64, ref string) (Token, error) {
	var t Token
	var err error
	if secret, ok := ParseSecret(ref); ok {
		t, err = s.store.LiveTokenByDigest(ctx, secret.Digest())
	} else {
		t, err = s.store.LiveTokenByID(ctx, ref)
	}
	if err == nil && owner != anyOwner && t.AccountID != owner {
		err = Errorf(ENotFound, "")
	}
	if ErrorCode(err) == ENotFound {
		return Token{}, Errorf(ENotFound, "no such API token (it may have been revoked)")
	}
	return t, err
}

// MaxGracePeriod is the longest a rotated token's previous secret keeps working.
const MaxGracePeriod = 24 * time.Hour

// Rotation is a rotate request: how long the previous secret keeps working (0: it stops at
// once) and the new secret's lifetime (the zero Lifetime: the policy's default, as for a
// new token).
type Rotation struct {
	Grace time.Duration
	Life  Lifetime
}

// RotateOwnToken gives one of the caller's live tokens a new secret, keeping its record,
// name and cap slot; the previous secret works until the grace period ends. It returns the
// new secret (to be shown once) and the caller's live tokens with the rotated one last.
// Errors: ENotFound, EInvalid (grace period, lifetime).
func (s *Service) RotateOwnToken(ctx context.Context, p Principal, ref string, r Rotation) (Secret, []Token, error) {
	if err := requireUserAccount(p); err != nil {
		return "", nil, err
	}
	secret, t, err := s.rotateToken(ctx, s.by(p), p.AccountID, ref, r)
	if err != nil {
		return "", nil, err
	}
	return s.withLast(ctx, p.AccountID, t, secret)
}

// rotateToken rotates the live token of owner (anyOwner: of any account) that ref names:
// the one path of every rotation. A second rotation during a grace period ends the first
// one's overlap (only the secret just replaced keeps working).
func (s *Service) rotateToken(ctx context.Context, by AuditEvent, owner int64, ref string, r Rotation) (Secret, Token, error) {
	if r.Grace < 0 || r.Grace > MaxGracePeriod {
		return "", Token{}, Errorf(EInvalid, "gracePeriodSeconds must be between 0 and %d", int64(MaxGracePeriod/time.Second))
	}
	t, err := s.tokenOf(ctx, owner, ref)
	if err != nil {
		return "", Token{}, err
	}
	kind := UserAccount
	if t.AccountType != TypeUser {
		kind = ServiceAccount
	}
	expires, secret, err := s.newSecret(ctx, kind, r.Life, by.At)
	if err != nil {
		return "", Token{}, err
	}
	rotated, err := s.store.RotateToken(ctx, t.ID, secret.Digest(), secret.Hint(), expires, by.At.Add(r.Grace), by)
	if err := s.written(ctx, err, t.AccountID); err != nil {
		return "", Token{}, err
	}
	return secret, rotated, nil
}

// withLast returns the account's live tokens with t last, as stored (the API's contract
// for a token whose secret an answer shows, whatever the clock's resolution).
func (s *Service) withLast(ctx context.Context, accountID int64, t Token, secret Secret) (Secret, []Token, error) {
	live, err := s.store.LiveTokens(ctx, accountID)
	if err != nil {
		return "", nil, err
	}
	out := make([]Token, 0, len(live))
	for _, x := range live {
		if x.ID == t.ID {
			t = x // with the account's type filled in
		} else {
			out = append(out, x)
		}
	}
	return secret, append(out, t), nil
}

// AuditTokenReused is the event of a rotated token's previous secret presented after its
// grace period: whoever presents it did not get the new one, so it may have leaked.
const AuditTokenReused = "token.reused_after_rotation"

// reportReuse records in the audit trail that p's token was presented with the secret its
// rotation replaced after the grace period (digest is that secret's), at most once a
// minute per token. It writes in the background, as reportOutside does: the request gets
// its 401 at once, not after a database write.
func (s *Service) reportReuse(p Principal, digest Digest) {
	now := s.clock()
	if !s.reused.due(p.TokenSeq, now) {
		return
	}
	s.reports.Add(1)
	go func() {
		defer s.reports.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		t, err := s.store.TokenByReplacedDigest(ctx, digest)
		if err != nil {
			return
		}
		_ = s.store.RecordAudit(ctx, TokenReused(now, t))
	}()
}
