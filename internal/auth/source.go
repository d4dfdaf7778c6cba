package auth

import (
	"net/netip"
	"time"

	"github.com/tokenward/tokenward"
)

// The read model of verification: what the Verifier reads from its Source. It is the
// verifier's to define; internal/store implements it.

// EveryAccount is the account id of a change that may touch the effective permissions of
// any number of accounts (a role's permissions, a group's roles or members): an instance
// that reads it re-reads every account's state.
const EveryAccount = 0

// Change is one committed change to an account's verification state, or to every
// account's (AccountID EveryAccount).
type Change struct {
	Seq       int64
	AccountID int64
	At        time.Time
}

// VerificationState is what the verification index keeps of an account.
type VerificationState struct {
	AccountID   int64
	Identifier  string
	Kind        tokenward.AccountKind
	Usable      bool // live and active: its tokens verify
	Permissions tokenward.PermissionSet
}

// LiveToken is what the verification index keeps of a token.
type LiveToken struct {
	Seq       int64
	Digest    tokenward.Digest
	AccountID int64
	Expires   int64 // epoch milliseconds; 0: never
	Replaced  bool  // the secret a rotation replaced, working until Expires (its grace end)
	// Networks the token works from; nil: anywhere.
	Networks []netip.Prefix
	// Permissions the token carries; nil: all of its account's.
	Permissions *tokenward.PermissionSet
}

// ClientUse is one client of a token as a usage flush writes it (tokenward.RecentClient).
type ClientUse struct {
	TokenSeq  int64
	Address   netip.Addr // as tokenward.ClientAddressOf gives it
	UserAgent string     // as tokenward.CleanUserAgent gives it
	LastSeen  int64      // epoch milliseconds
}
