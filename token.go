package tokenward

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"log/slog"
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
}

// TokenIDPrefix starts every public token identifier, so that no identifier can be mistaken
// for a secret (secrets are UUIDs) and a leaked identifier is recognisable as harmless.
const TokenIDPrefix = "tw_"

var tokenIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewTokenID returns a fresh random public token identifier.
func NewTokenID() string {
	var b [10]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return TokenIDPrefix + tokenIDEncoding.EncodeToString(b[:])
}

// Secret is a token's secret: a random UUID v4. It formats itself as REDACTED for fmt, log
// and slog, so that a secret handed to a logger by mistake stays secret; Reveal is the one
// way to get the text, and the only callers are the places that show it once.
type Secret string

// NewSecret returns a fresh secret from crypto/rand.
func NewSecret() Secret {
	return Secret(uuid.Must(uuid.NewRandom()).String())
}

// ParseSecret returns s as a Secret when it has the canonical 36-character UUID form (any
// letter case), and false otherwise. It runs on every verification: one pass over s, and
// no allocation unless s has upper-case letters.
func ParseSecret(s string) (Secret, bool) {
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

// Reveal returns the secret's text. Call it only to show a new secret to its owner once.
func (s Secret) Reveal() string { return string(s) }

// Digest returns the SHA-256 of the secret: what the database stores and the key it is
// looked up by. A plain hash is right here (a password hash would be wrong): the secret has
// 122 random bits, so there is nothing to slow a guesser down against.
func (s Secret) Digest() Digest {
	// Copying into a stack array keeps the verification path free of allocations: a
	// []byte(s) conversion of 36 bytes would be heap-allocated.
	var buf [36]byte
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
