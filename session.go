package tokenward

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"sync"
	"time"
)

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

// dummyHash is checked against when the account is unknown, so that a failed sign-in takes
// the same time whether or not the email exists.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("tokenward timing equaliser")
	return h
})

// SignIn checks an email and password and opens a session. It returns the session's secret
// for the cookie and its absolute expiry. Errors: ErrBadSignIn for every kind of failure.
func (s *Service) SignIn(ctx context.Context, email, password string) (string, time.Time, error) {
	account, hash, err := s.store.PasswordHash(ctx, normalizeEmailLoosely(email))
	if err != nil && ErrorCode(err) != ENotFound {
		return "", time.Time{}, err
	}
	if err != nil || hash == "" {
		CheckPassword(dummyHash(), password)
		return "", time.Time{}, s.badSignIn(ctx, email)
	}
	if !CheckPassword(hash, password) {
		return "", time.Time{}, s.badSignIn(ctx, email)
	}
	now := s.clock()
	secret := rand.Text()
	sess := Session{AccountID: account.ID, Created: now, LastSeen: now, Expires: now.Add(s.sessionMax)}
	if err := s.store.CreateSession(ctx, sess, sha256.Sum256([]byte(secret))); err != nil {
		return "", time.Time{}, err
	}
	return secret, sess.Expires, nil
}

// badSignIn records a failed sign-in and returns ErrBadSignIn (or the failure to record it).
func (s *Service) badSignIn(ctx context.Context, email string) error {
	if err := s.signInFailed(ctx, truncate(strings.ToLower(strings.TrimSpace(email)), 254)); err != nil {
		return err
	}
	return ErrBadSignIn
}

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
