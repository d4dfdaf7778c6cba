package tokenward

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"time"
)

// An invitation lets a new user choose their own password, once, within InviteLifetime:
// the administrator who created the account passes the link on (tokenward sends no mail).
// Only the link secret's digest is stored; a new invitation replaces the account's
// earlier ones; using one sets the password, ends the account's sessions and is audited.

// InviteStore is what invitations need from the database.
type InviteStore interface {
	// PutInvite stores an invitation of a live user account by its secret's digest,
	// replacing its unused ones, with its audit event. ENotFound when the account is gone.
	PutInvite(ctx context.Context, accountID int64, digest Digest, expires time.Time, by AuditEvent) error
	// InviteAccount returns the live user account an unused invitation unexpired at now is
	// for; ENotFound otherwise.
	InviteAccount(ctx context.Context, digest Digest, now time.Time) (Account, error)
	// AcceptInvite, in one transaction, marks the invitation used (when unused and
	// unexpired at now, of a live user), sets the password hash, ends the account's
	// sessions and records the event; ENotFound otherwise.
	AcceptInvite(ctx context.Context, digest Digest, hash string, now time.Time, by AuditEvent) (Account, error)
}

// InviteLifetime is how long an invitation link works.
const InviteLifetime = 7 * 24 * time.Hour

// Audit actions of invitations.
const (
	AuditInviteCreate = "invite.create"
)

// ErrInviteInvalid is the one answer to a link that is unknown, used, expired or of an
// account that is gone, so that nobody learns which.
var ErrInviteInvalid = &Error{Code: ENotFound, Message: "this link is not valid: it was used, has expired or was replaced by a newer one. Ask an administrator for a new one"}

// Invitation is a new set-password link's secret and when it stops working.
type Invitation struct {
	Account string
	Secret  string // for the link; shown once, never stored
	Expires time.Time
}

// Invite makes a set-password link for a user account, for an administrator to pass on;
// earlier links of the account stop working. Errors: EForbidden, ENotFound.
func (s *Service) Invite(ctx context.Context, p Principal, email string) (Invitation, error) {
	if err := RequireAccounts(p); err != nil {
		return Invitation{}, err
	}
	a, err := s.accountOf(ctx, email, UserAccount)
	if err != nil {
		return Invitation{}, err
	}
	by := s.by(p)
	inv := Invitation{Account: a.Identifier, Secret: rand.Text(), Expires: by.At.Add(InviteLifetime)}
	event := by.As(AuditInviteCreate, a.Identifier, "set-password link, expires "+inv.Expires.Format(time.RFC3339))
	if err := s.store.PutInvite(ctx, a.ID, sha256.Sum256([]byte(inv.Secret)), inv.Expires, event); err != nil {
		return Invitation{}, err
	}
	return inv, nil
}

// InvitedAccount returns the account a set-password link is for. Errors: ErrInviteInvalid.
func (s *Service) InvitedAccount(ctx context.Context, secret string) (Account, error) {
	if secret == "" || len(secret) > 64 {
		return Account{}, ErrInviteInvalid
	}
	a, err := s.store.InviteAccount(ctx, sha256.Sum256([]byte(secret)), s.clock())
	if ErrorCode(err) == ENotFound {
		return Account{}, ErrInviteInvalid
	}
	return a, err
}

// AcceptInvite sets the password of the account a link is for, once; source is the
// client's address, for the audit trail. Errors: EInvalid for a short password,
// ErrInviteInvalid.
func (s *Service) AcceptInvite(ctx context.Context, secret, password, source string) (Account, error) {
	a, err := s.InvitedAccount(ctx, secret)
	if err != nil {
		return Account{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return Account{}, err
	}
	by := s.by(Principal{Account: a.Identifier, Source: source})
	a, err = s.store.AcceptInvite(ctx, sha256.Sum256([]byte(secret)), hash, by.At, by)
	if ErrorCode(err) == ENotFound {
		return Account{}, ErrInviteInvalid
	}
	return a, err
}
