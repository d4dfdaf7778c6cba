package tokenward

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/semaphore"
)

// Sign-in is the one request anybody can send that makes the server do expensive work (an
// argon2id check), so it is where an attacker pushes. The cost model (README, "Security"):
//
//   - Budgets are reserved before the check, in the database, so that parallel requests
//     and other instances cannot run more checks than the budgets allow: one per source
//     address, and one per account for browsers that never signed in to it (a browser that
//     did carries a device cookie and spends a budget of its own, so a stranger's guesses
//     cannot lock the owner out). A check that succeeds gives its reservations back:
//     budgets count failures.
//   - Checks that run at once are capped by the memory they use (a weighted semaphore in
//     KiB of argon2 memory); a request waits for room briefly, then gets 503 with
//     Retry-After.
//   - An unknown email, an account without a password or text that cannot be an email
//     costs no check: the answer waits as long as recent checks took, so that its timing
//     does not tell which emails exist.
//   - Every attempt is in the audit trail: signin.success or signin.failure when the
//     password was checked, signin.limited when it was refused before.

// Budget is an allowance of failures: Burst at once, refilled at Burst per Per. The zero
// Budget never limits.
type Budget struct {
	Burst int
	Per   time.Duration
}

// SignInPolicy is how sign-ins are limited.
type SignInPolicy struct {
	// PerAddress and PerAccount are the budgets of failed sign-ins per source address and
	// per account from browsers it has not trusted (and per trusted browser).
	PerAddress, PerAccount Budget
	// CheckMemory is the argon2 memory, in bytes, that password checks may use at once
	// (each of today's hashes takes ArgonMemoryKiB), and CheckParallel how many may run
	// at once (0: one less than the cores Go uses, at least one), so that a flood of
	// sign-ins leaves a core to verifying tokens. The smaller bound applies.
	CheckMemory   int64
	CheckParallel int
	// QueueWait is how long a sign-in waits for room to be checked before 503.
	QueueWait time.Duration
	// DeviceLifetime is how long a browser stays trusted after signing in.
	DeviceLifetime time.Duration
}

// DefaultSignInPolicy: 5 failures per account per 15 minutes, 30 per address; at most
// 128 MiB of checks at once (6 of today's, 2 of the 64 MiB hashes of tokenward before
// 2026-12) and one check per core but one, at most 2 s in the queue; browsers trusted for
// 90 days.
func DefaultSignInPolicy() SignInPolicy {
	return SignInPolicy{
		PerAddress:     Budget{Burst: 30, Per: 15 * time.Minute},
		PerAccount:     Budget{Burst: 5, Per: 15 * time.Minute},
		CheckMemory:    128 << 20,
		QueueWait:      2 * time.Second,
		DeviceLifetime: 90 * 24 * time.Hour,
	}
}

// SignInStore keeps the sign-in budgets and trusted browsers, shared by every instance.
type SignInStore interface {
	// ReserveSignIn spends one attempt of the named budget atomically, or reports how long
	// until one is left.
	ReserveSignIn(ctx context.Context, name string, b Budget, now time.Time) (granted bool, wait time.Duration, err error)
	// RefundSignIn gives one attempt back.
	RefundSignIn(ctx context.Context, name string, b Budget) error
	// ForgetFullBudgets deletes the budgets that have refilled.
	ForgetFullBudgets(ctx context.Context, now time.Time) error
	// TrustDevice records a browser that signed in to an account.
	TrustDevice(ctx context.Context, accountID int64, digest Digest, now, expires time.Time) error
	// DeviceTrusted reports whether a browser signed in to the account before.
	DeviceTrusted(ctx context.Context, digest Digest, accountID int64, now time.Time) (bool, error)
	// UpgradePasswordHash replaces old by hash unless the password changed meanwhile.
	UpgradePasswordHash(ctx context.Context, accountID int64, old, hash string) error
}

// SignInAttempt is what a sign-in form sends, and where from.
type SignInAttempt struct {
	Email, Password string
	Address         string // the client's address
	Device          string // the browser's device cookie, "" when it has none
}

// SignInResult is an opened session, and the browser's device cookie (new or renewed).
type SignInResult struct {
	Session        string
	Expires        time.Time
	Device         string
	DeviceExpires  time.Time
	DeviceLifetime time.Duration
}

// signInGate is the state sign-ins share within one instance.
type signInGate struct {
	policy SignInPolicy
	checks *semaphore.Weighted // KiB of argon2 memory in use
	room   int64               // its size
	// checkTime is a moving average of how long a password check took (ns), which the
	// answer to an unknown email waits.
	checkTime atomic.Int64
	swept     atomic.Int64 // when full budgets were last forgotten (Unix ns)
}

func newSignInGate(p SignInPolicy) *signInGate {
	parallel := p.CheckParallel
	if parallel <= 0 {
		parallel = max(1, runtime.GOMAXPROCS(0)-1)
	}
	room := max(min(p.CheckMemory>>10, int64(parallel)*ArgonMemoryKiB), ArgonMemoryKiB)
	return &signInGate{policy: p, checks: semaphore.NewWeighted(room), room: room}
}

// Sign-in errors other than ErrBadSignIn.
func errSignInLimited(wait time.Duration) *Error {
	return &Error{Code: ETooMany, RetryAfter: wait,
		Message: "too many failed sign-ins; try again in " + wait.Round(time.Second).String()}
}

var errSignInBusy = &Error{Code: EUnavailable, RetryAfter: time.Second,
	Message: "the server is checking too many sign-ins at once; try again in a moment"}

// MaxPasswordBytes is the longest password a sign-in checks; a longer one fails unchecked.
const MaxPasswordBytes = 1024

// SignIn checks an email and password and opens a session, within the sign-in policy.
// Errors: ErrBadSignIn for every kind of wrong credentials; ETooMany when a budget is
// spent and EUnavailable when the server is at capacity, both with RetryAfter.
func (s *Service) SignIn(ctx context.Context, a SignInAttempt) (SignInResult, error) {
	g, now := s.signIn, s.clock()
	email := strings.ToLower(strings.TrimSpace(a.Email))
	target := auditable(email, 254)
	anonymous := Principal{Source: auditable(a.Address, 64)} // who acts until the password is right
	if err := s.forgetFullBudgets(ctx, now); err != nil {
		return SignInResult{}, err
	}

	// Who is signing in, and from a browser they trust?
	var account Account
	var hash string
	var err error
	if storableText(email) && len(email) <= 254 {
		account, hash, err = s.store.PasswordHash(ctx, normalizeEmailLoosely(email))
		if err != nil && ErrorCode(err) != ENotFound {
			return SignInResult{}, err
		}
	}
	accountBudget := "account:" + hex.EncodeToString(sum(email))
	if account.ID != 0 && a.Device != "" && len(a.Device) <= 64 {
		trusted, err := s.store.DeviceTrusted(ctx, sha256.Sum256([]byte(a.Device)), account.ID, now)
		if err != nil {
			return SignInResult{}, err
		}
		if trusted {
			accountBudget = "device:" + hex.EncodeToString(sum(a.Device))
		}
	}

	// Reserve both budgets before any check; give back what an unchecked attempt took.
	reserved := []string{}
	refund := func() error {
		for _, name := range reserved {
			if err := s.store.RefundSignIn(ctx, name, s.budget(name)); err != nil {
				return err
			}
		}
		return nil
	}
	for _, name := range []string{"address:" + auditable(a.Address, 64), accountBudget} {
		b := s.budget(name)
		if b.Burst == 0 {
			continue
		}
		granted, wait, err := s.store.ReserveSignIn(ctx, name, b, now)
		if err != nil {
			return SignInResult{}, errors.Join(err, refund())
		}
		if !granted {
			return SignInResult{}, s.signInLimited(ctx, anonymous, target, errSignInLimited(wait), refund)
		}
		reserved = append(reserved, name)
	}

	// Wait for room to check, as long as the policy allows.
	weight := min(hashMemoryKiB(hash), g.room)
	wait, cancel := context.WithTimeout(ctx, g.policy.QueueWait)
	err = g.checks.Acquire(wait, weight)
	cancel()
	if err != nil {
		return SignInResult{}, s.signInLimited(ctx, anonymous, target, errSignInBusy, refund)
	}
	ok := s.checkPassword(hash, a.Password)
	g.checks.Release(weight)

	if !ok || account.ID == 0 {
		if err := s.store.RecordAudit(ctx, s.by(anonymous).As(AuditSignInFailure, target, "wrong email or password")); err != nil {
			return SignInResult{}, err
		}
		return SignInResult{}, ErrBadSignIn
	}
	if err := refund(); err != nil {
		return SignInResult{}, err
	}
	return s.openSession(ctx, anonymous, account, hash, a)
}

// budget returns the budget a reservation name spends.
func (s *Service) budget(name string) Budget {
	if strings.HasPrefix(name, "address:") {
		return s.signIn.policy.PerAddress
	}
	return s.signIn.policy.PerAccount
}

// signInLimited records an attempt refused before its check and returns err.
func (s *Service) signInLimited(ctx context.Context, anonymous Principal, target string, err *Error, refund func() error) error {
	if rerr := refund(); rerr != nil {
		return rerr
	}
	if aerr := s.store.RecordAudit(ctx, s.by(anonymous).As(AuditSignInLimited, target, err.Message)); aerr != nil {
		return aerr
	}
	return err
}

// checkPassword checks password against hash. Without a hash to check (an unknown email,
// an account without a password) or with a password too long to be one, it waits as long
// as recent checks took instead, so that the answer's timing tells nothing.
func (s *Service) checkPassword(hash, password string) bool {
	g := s.signIn
	if hash == "" || len(password) > MaxPasswordBytes {
		d := time.Duration(g.checkTime.Load())
		if d == 0 { // nothing measured yet: measure once, on a hash of nothing
			start := time.Now()
			checkCost(password[:min(len(password), MaxPasswordBytes)])
			d = time.Since(start)
			g.checkTime.CompareAndSwap(0, int64(d))
		}
		time.Sleep(d)
		return false
	}
	start := time.Now()
	ok := CheckPassword(hash, password)
	d := int64(time.Since(start))
	for {
		old := g.checkTime.Load()
		avg := d
		if old != 0 {
			avg = old + (d-old)/8
		}
		if g.checkTime.CompareAndSwap(old, avg) {
			return ok
		}
	}
}

// openSession opens a session for an account whose password was right, trusts the
// browser for it and upgrades a hash made with older parameters.
func (s *Service) openSession(ctx context.Context, anonymous Principal, account Account, hash string, a SignInAttempt) (SignInResult, error) {
	by := s.by(anonymous)
	now := by.At
	if !currentParams(hash) {
		if upgraded, err := HashPassword(a.Password); err == nil {
			if err := s.store.UpgradePasswordHash(ctx, account.ID, hash, upgraded); err != nil {
				return SignInResult{}, err
			}
		}
	}
	r := SignInResult{Session: rand.Text(), Expires: now.Add(s.sessionMax), Device: a.Device,
		DeviceLifetime: s.signIn.policy.DeviceLifetime, DeviceExpires: now.Add(s.signIn.policy.DeviceLifetime)}
	if r.Device == "" || len(r.Device) > 64 {
		r.Device = rand.Text()
	}
	if err := s.store.TrustDevice(ctx, account.ID, sha256.Sum256([]byte(r.Device)), now, r.DeviceExpires); err != nil {
		return SignInResult{}, err
	}
	sess := Session{AccountID: account.ID, Created: now, LastSeen: now, Expires: r.Expires}
	if err := s.store.CreateSession(ctx, sess, sha256.Sum256([]byte(r.Session)), by); err != nil {
		return SignInResult{}, err
	}
	return r, nil
}

// forgetFullBudgets deletes refilled budgets at most once a minute per instance.
func (s *Service) forgetFullBudgets(ctx context.Context, now time.Time) error {
	last := s.signIn.swept.Load()
	if now.UnixNano()-last < int64(time.Minute) || !s.signIn.swept.CompareAndSwap(last, now.UnixNano()) {
		return nil
	}
	return s.store.ForgetFullBudgets(ctx, now)
}

// auditable makes request text storable in the audit trail: valid UTF-8 without NUL (an
// invalid byte or a NUL becomes U+FFFD), at most n bytes. Other characters are kept as
// sent; the console shows them escaped (Visible).
func auditable(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	if len(s) > n {
		s = s[:n]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// storableText reports whether s is valid UTF-8 without NUL: text both engines store.
func storableText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func sum(s string) []byte { d := sha256.Sum256([]byte(s)); return d[:] }
