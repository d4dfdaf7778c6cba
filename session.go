package tokenward

import (
	"context"
	"crypto/sha256"
	"time"
)

// SessionStore is what console sessions need from the database.
type SessionStore interface {
	// CreateSession stores a console session and records the account's sign-in.
	CreateSession(ctx context.Context, s Session, digest Digest, by AuditEvent) error
	// SessionByDigest returns a session and its principal when its account is live and
	// active; ENotFound otherwise.
	SessionByDigest(ctx context.Context, digest Digest) (Session, Principal, error)
	// TouchSession records activity on a session.
	TouchSession(ctx context.Context, digest Digest, at time.Time) error
	// DeleteSession ends a session.
	DeleteSession(ctx context.Context, digest Digest) error
}

// Session is a console session of a user account. The browser holds its secret in a
// cookie; the database holds only the secret's digest.
type Session struct {
	AccountID int64
	Created   time.Time
	LastSeen  time.Time
	Expires   time.Time // the absolute end, whatever the activity
}

// ErrBadSignIn is the one answer to a failed sign-in, whether the email is unknown, the
// account has no password or the password is wrong, so that nobody learns which.
var ErrBadSignIn = &Error{Code: EUnauthorized, Message: "wrong email or password"}

// ErrNoSession is the answer to a console request without a live session.
var ErrNoSession = &Error{Code: EUnauthorized, Message: "please sign in"}

// normalizeEmailLoosely lower-cases and trims an email typed at sign-in; an invalid one
// simply finds no account.
func normalizeEmailLoosely(email string) string {
	if e, err := NormalizeEmail(email); err == nil {
		return e
	}
	return ""
}

// touchEvery limits how often a session's activity is written: the idle expiry need not be
// more precise than this.
const touchEvery = time.Minute

// SessionPrincipal returns who a session cookie's secret speaks for, ending the session
// when it has been idle too long or reached its absolute end. Errors: ErrNoSession.
func (s *Service) SessionPrincipal(ctx context.Context, secret string) (Principal, error) {
	if secret == "" || len(secret) > 64 {
		return Principal{}, ErrNoSession
	}
	digest := Digest(sha256.Sum256([]byte(secret)))
	sess, p, err := s.store.SessionByDigest(ctx, digest)
	if ErrorCode(err) == ENotFound {
		return Principal{}, ErrNoSession
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.clock()
	if !now.Before(sess.Expires) || now.Sub(sess.LastSeen) >= s.sessionIdle {
		if err := s.store.DeleteSession(ctx, digest); err != nil {
			return Principal{}, err
		}
		return Principal{}, ErrNoSession
	}
	if now.Sub(sess.LastSeen) >= touchEvery {
		if err := s.store.TouchSession(ctx, digest, now); err != nil {
			return Principal{}, err
		}
	}
	return p, nil
}

// SignOut ends the session whose secret is given; an unknown one is already ended.
func (s *Service) SignOut(ctx context.Context, secret string) error {
	return s.store.DeleteSession(ctx, sha256.Sum256([]byte(secret)))
}
