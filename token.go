package tokenward

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxTokensPerAccount is how many live (unrevoked) tokens one account may hold.
const MaxTokensPerAccount = 20

// MaxTokenNameLength is the longest token name accepted, in characters.
const MaxTokenNameLength = 128

// Token is an API token as stored: everything but the secret, which is kept only as a
// digest.
type Token struct {
	ID          string // public identifier, "tw_" + 16 base32 characters; never a secret
	Name        string
	Hint        string // the secret's last 4 characters, for display as ••••313c
	AccountID   int64
	Account     string // the owner's identifier
	AccountType AccountType
	Created     time.Time
	LastUsed    time.Time // zero when never used
	Revoked     time.Time // zero while the token is live
	Expires     time.Time // zero: never; from this instant on the token fails like a revoked one
	Rotated     time.Time // when it last got a new secret; zero: never
	GraceEnds   time.Time // until when the secret it had before its last rotation still works; zero: none
	// RecentClients are the last distinct clients it verified for, newest first, at most
	// MaxRecentClients (clients.go); as of the last usage flush.
	RecentClients []RecentClient
	// IdleDisabled is when the lifecycle sweep disabled it for being unused longer than the
	// policy's idle timeout (sweep.go); zero while it is not.
	IdleDisabled time.Time
	// AllowedNetworks are the networks the token works from (reference §14); nil: anywhere.
	AllowedNetworks []netip.Prefix
	// Permissions the token carries, chosen at generation within its account's; nil: all
	// of the account's. Verification grants what the account still holds of them.
	Permissions *PermissionSet
}

// TokenIDPrefix starts every public token identifier, so that no identifier can be mistaken
// for a secret (secrets are UUIDs or start with SecretPrefix) and a leaked identifier is recognisable as harmless.
const TokenIDPrefix = "tw_"

var tokenIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewTokenID returns a fresh random public token identifier.
func NewTokenID() string {
	var b [10]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return TokenIDPrefix + tokenIDEncoding.EncodeToString(b[:])
}

// Secret is a token's secret: a random UUID v4 (TokenFormatUUID, Wavefront's) or a prefixed
// secret (TokenFormatPrefixed, reference §14). It formats itself as REDACTED for fmt, log
// and slog, so that a secret handed to a logger by mistake stays secret; Reveal is the one
// way to get the text, and the only callers are the places that show it once.
type Secret string

// TokenFormat is the form of the secrets the organization's new tokens get (policy
// tokenFormat); secrets of either form verify whatever the setting.
type TokenFormat string

const (
	// TokenFormatUUID is Wavefront's: a random UUID v4. The default.
	TokenFormatUUID TokenFormat = "uuid"
	// TokenFormatPrefixed is scannable: SecretPrefix, 30 base62 characters of randomness
	// (178 bits) and 6 base62 characters of the CRC32 of the first 34 characters, so that a
	// secret scanner recognizes it and a mistyped one is refused before any lookup.
	TokenFormatPrefixed TokenFormat = "prefixed"
)

// ParseTokenFormat returns the format named s; "" is TokenFormatUUID. Errors: EInvalid.
func ParseTokenFormat(s string) (TokenFormat, error) {
	switch TokenFormat(s) {
	case "", TokenFormatUUID:
		return TokenFormatUUID, nil
	case TokenFormatPrefixed:
		return TokenFormatPrefixed, nil
	}
	return "", Errorf(EInvalid, "tokenFormat must be \"uuid\" or \"prefixed\"")
}

// NewSecret returns a fresh secret of format f (the zero format: a UUID) from crypto/rand.
func (f TokenFormat) NewSecret() Secret {
	if f == TokenFormatPrefixed {
		return NewPrefixedSecret()
	}
	return NewSecret()
}

// SecretPrefix starts every prefixed secret (and no token identifier, which starts with
// TokenIDPrefix).
const SecretPrefix = "twt_"

// SecretPattern is the regular expression that matches prefixed secrets, for secret
// scanners (the README gives it with ready rules).
const SecretPattern = `\btwt_[0-9A-Za-z]{36}\b`

const (
	base62          = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	secretRandomLen = 30
	secretCheckLen  = 6
	prefixedLen     = len(SecretPrefix) + secretRandomLen + secretCheckLen // 40
)

// NewSecret returns a fresh UUID secret from crypto/rand.
func NewSecret() Secret {
	return Secret(uuid.Must(uuid.NewRandom()).String())
}

// NewPrefixedSecret returns a fresh prefixed secret from crypto/rand: each of its 30 random
// characters uniform over base62 (bytes of 248 and above are drawn again).
func NewPrefixedSecret() Secret {
	var out [prefixedLen]byte
	copy(out[:], SecretPrefix)
	var pool [64]byte
	rand.Read(pool[:]) // crypto/rand.Read never fails (it crashes the program instead)
	n, used := len(SecretPrefix), 0
	for n < len(SecretPrefix)+secretRandomLen {
		if used == len(pool) {
			rand.Read(pool[:])
			used = 0
		}
		b := pool[used]
		used++
		if b >= 248 { // 248 = 4 × 62: keeps the draw uniform
			continue
		}
		out[n] = base62[b%62]
		n++
	}
	putChecksum(out[:])
	return Secret(out[:])
}

// checksum returns the CRC32 (IEEE) of b, table-driven so that it allocates nothing.
func checksum(b []byte) uint32 {
	crc := ^uint32(0)
	for _, c := range b {
		crc = crc32.IEEETable[byte(crc)^c] ^ (crc >> 8)
	}
	return ^crc
}

// putChecksum writes the 6 base62 characters of the checksum of s's first 34 characters,
// most significant first, into its last 6.
func putChecksum(s []byte) {
	sum := checksum(s[:prefixedLen-secretCheckLen])
	for i := prefixedLen - 1; i >= prefixedLen-secretCheckLen; i-- {
		s[i] = base62[sum%62]
		sum /= 62
	}
}

// ParseSecret returns s as a Secret when it is a UUID in the canonical 36-character form
// (any letter case) or a prefixed secret whose checksum is right, and false otherwise. It
// runs on every verification before any lookup: one pass over s, and no allocation unless
// a UUID has upper-case letters.
func ParseSecret(s string) (Secret, bool) {
	if len(s) == prefixedLen && s[:len(SecretPrefix)] == SecretPrefix {
		return parsePrefixed(s)
	}
	if len(s) != 36 {
		return "", false
	}
	upper := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return "", false
			}
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			upper = true
		default:
			return "", false
		}
	}
	if upper {
		s = strings.ToLower(s)
	}
	return Secret(s), true
}

// parsePrefixed checks a 40-character string that starts with SecretPrefix: base62 after
// it, and the checksum right. Prefixed secrets are case-sensitive.
func parsePrefixed(s string) (Secret, bool) {
	var buf [prefixedLen]byte
	copy(buf[:], s)
	for _, c := range buf[len(SecretPrefix):] {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return "", false
		}
	}
	want := buf
	putChecksum(want[:])
	if want != buf {
		return "", false
	}
	return Secret(s), true
}

// Reveal returns the secret's text. Call it only to show a new secret to its owner once.
func (s Secret) Reveal() string { return string(s) }

// Digest returns the SHA-256 of the secret: what the database stores and the key it is
// looked up by. A plain hash is right here (a password hash would be wrong): the secret has
// 122 (UUID) or 178 (prefixed) random bits, so there is nothing to slow a guesser down
// against.
func (s Secret) Digest() Digest {
	// Copying into a stack array keeps the verification path free of allocations: a
	// []byte(s) conversion of 36 or 40 bytes would be heap-allocated.
	var buf [prefixedLen]byte
	n := copy(buf[:], s)
	return sha256.Sum256(buf[:n])
}

// Hint returns the secret's last 4 characters.
func (s Secret) Hint() string {
	if len(s) < 4 {
		return ""
	}
	return string(s[len(s)-4:])
}

// String returns REDACTED.
func (s Secret) String() string { return "REDACTED" }

// GoString returns REDACTED, for %#v.
func (s Secret) GoString() string { return "REDACTED" }

// Format writes REDACTED whatever the verb, so %s, %v, %q and %x cannot leak the secret.
func (s Secret) Format(f fmt.State, verb rune) { f.Write([]byte("REDACTED")) }

// LogValue returns REDACTED for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// MarshalText returns REDACTED, so that encoding a secret by accident reveals nothing.
func (s Secret) MarshalText() ([]byte, error) { return []byte("REDACTED"), nil }

// Digest is the SHA-256 of a secret.
type Digest [sha256.Size]byte

// NormalizeTokenName returns the name trimmed of surrounding space, or an EInvalid error
// when it is longer than MaxTokenNameLength characters, is not UTF-8 or holds control
// characters. An empty name is allowed.
func NormalizeTokenName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case !utf8.ValidString(name):
		return "", Errorf(EInvalid, "a token name must be valid UTF-8 text")
	case utf8.RuneCountInString(name) > MaxTokenNameLength:
		return "", Errorf(EInvalid, "a token name is at most %d characters", MaxTokenNameLength)
	case spoofs(name):
		return "", Errorf(EInvalid, "a token name may not contain control, bidirectional or zero-width characters")
	}
	return name, nil
}
