package tokenward

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's recommended configuration (19 MiB, 2 passes, 1 lane), which
// it rates as strong as RFC 9106's 64 MiB option. A check takes ~27 ms of one core and
// 19 MiB, so that 64 sign-ins at once would need 1.2 GiB without the sign-in gate and need
// at most SignInPolicy.CheckMemory with it (signin.go). They are written into each hash:
// hashes made with other parameters (tokenward's first ones: 64 MiB, 3 passes, 2 lanes)
// still verify, and are replaced at their next sign-in.
const (
	argonTime      = 2
	ArgonMemoryKiB = 19 * 1024
	argonThreads   = 1
	argonKeyLen    = 32
	argonParams    = "m=19456,t=2,p=1"
)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// HashPassword returns the argon2id hash of password in the PHC string format, or an
// EInvalid error when the password is shorter than MinPasswordLength.
func HashPassword(password string) (string, error) {
	if len([]rune(password)) < MinPasswordLength {
		return "", Errorf(EInvalid, "a password is at least %d characters", MinPasswordLength)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, ArgonMemoryKiB, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$%s$%s$%s",
		argon2.Version, argonParams, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash, in constant time. A malformed or
// empty hash (an account that has no password) never matches.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false
	}
	var version, memory, time int
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil ||
		memory <= 0 || memory > 1<<18 || time <= 0 || time > 10 || threads == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, uint32(time), uint32(memory), threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// currentParams reports whether hash was made with today's parameters.
func currentParams(hash string) bool { return strings.Contains(hash, "$"+argonParams+"$") }

// hashMemoryKiB returns the argon2 memory a check of hash takes: what its parameters say,
// today's for a hash that is empty or does not say (checked against nothing, or refused).
func hashMemoryKiB(hash string) int64 {
	parts := strings.Split(hash, "$")
	var memory, time, threads int64
	if len(parts) == 6 {
		if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err == nil && memory > 0 {
			return memory
		}
	}
	return ArgonMemoryKiB
}

// checkCost spends what checking password against a hash with today's parameters spends,
// for answers that must take as long as a check without being one.
func checkCost(password string) {
	argon2.IDKey([]byte(password), make([]byte, 16), argonTime, ArgonMemoryKiB, argonThreads, argonKeyLen)
}

// NewPassword returns a random password (26 base32 characters, 128 bits) for a generated
// first administrator.
func NewPassword() string { return rand.Text() }
