package tokenward_test

import (
	"context"
	"crypto/sha256"
	"hash/crc32"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/tokenward/tokenward"
)

// prefixedShape is the shape of a prefixed secret, checksum aside.
var prefixedShape = regexp.MustCompile(`^twt_[0-9A-Za-z]{36}$`)

// mutations returns s with one character changed at each position to each of a few others,
// in and out of the alphabet.
func mutations(s string) []string {
	var out []string
	for i := range len(s) {
		for _, c := range []byte{'0', '9', 'A', 'Z', 'a', 'z', '_', '-', ' ', 0, 0xff} {
			if s[i] == c {
				continue
			}
			b := []byte(s)
			b[i] = c
			out = append(out, string(b))
		}
	}
	return out
}

func TestNewPrefixedSecret(t *testing.T) {
	seen := map[string]bool{}
	var counts [256]int
	const draws = 2000
	for range draws {
		sec := tokenward.TokenFormatPrefixed.NewSecret()
		s := sec.Reveal()
		if !prefixedShape.MatchString(s) {
			t.Fatalf("a prefixed secret has the wrong shape (length %d)", len(s))
		}
		if seen[s] {
			t.Fatalf("secret repeated after %d draws", len(seen))
		}
		seen[s] = true
		got, ok := tokenward.ParseSecret(s)
		if !ok || got != sec {
			t.Fatalf("ParseSecret refuses a fresh prefixed secret")
		}
		if sec.Hint() != s[len(s)-4:] || sec.Digest() != tokenward.Digest(sha256Of(s)) {
			t.Fatalf("hint or digest of a prefixed secret is not its last 4 characters / its SHA-256")
		}
		for _, c := range []byte(s[4:34]) {
			counts[c]++
		}
	}
	// Each of the 62 characters of the random part is drawn about equally often: 60,000
	// draws, 968 expected each; a bias as large as base62 by modulo of a byte would give
	// the first 8 characters 1.25 times the others.
	for _, c := range []byte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
		if n := counts[c]; n < 800 || n > 1150 {
			t.Errorf("character %q drawn %d times in %d, want about %d", c, n, draws*30, draws*30/62)
		}
	}
	if s := tokenward.TokenFormatUUID.NewSecret().Reveal(); len(s) != 36 {
		t.Errorf("TokenFormatUUID.NewSecret gave %d characters, want a UUID", len(s))
	}
	if s := tokenward.TokenFormat("").NewSecret().Reveal(); len(s) != 36 {
		t.Errorf("the zero TokenFormat gave %d characters, want a UUID", len(s))
	}
}

// TestParseSecretFormats: both formats verify; a prefixed secret with any one character
// changed, or the wrong length, alphabet or prefix, does not.
func TestParseSecretFormats(t *testing.T) {
	good := tokenward.NewPrefixedSecret().Reveal()
	u := uuid.NewString()
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"prefixed", good, true},
		{"uuid", u, true},
		{"upper-case uuid", strings.ToUpper(u), true},
		{"known vector", knownPrefixed, true},
		{"wrong checksum", knownPrefixed[:39] + string(otherBase62(knownPrefixed[39])), false},
		{"checksum of zeros", knownPrefixed[:34] + "000000", false},
		{"short", good[:39], false},
		{"long", good + "0", false},
		{"no checksum", good[:34], false},
		{"upper-case prefix", "TWT_" + good[4:], false},
		{"other prefix", "twx_" + good[4:], false},
		{"token id prefix", "tw_" + good[4:] + "0", false},
		{"underscore in body", good[:10] + "_" + good[11:], false},
		{"dash in body", good[:10] + "-" + good[11:], false},
		{"non-ASCII", good[:38] + "é", false},
		{"NUL", good[:39] + "\x00", false},
		{"spaces around", " " + good[:39], false},
		{"case of the body swapped", "twt_" + swapCase(good[4:]), false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		got, ok := tokenward.ParseSecret(tc.in)
		if ok != tc.ok || ok && got.Reveal() != strings.ToLower(tc.in) && got.Reveal() != tc.in {
			t.Errorf("%s: ParseSecret = %v, want %v", tc.name, ok, tc.ok)
		}
		if !ok && got != "" {
			t.Errorf("%s: ParseSecret refused but returned a secret", tc.name)
		}
	}
	for _, m := range mutations(good) {
		if _, ok := tokenward.ParseSecret(m); ok {
			t.Errorf("ParseSecret accepts a prefixed secret with one character changed")
		}
	}
}

// knownPrefixed is a prefixed secret built by the test from reference §14 alone: "twt_",
// 30 random-looking characters, and the CRC32 (IEEE) of those 34 characters as 6 base62
// digits, most significant first.
var knownPrefixed = func() string {
	body := "twt_" + strings.Repeat("A", 30)
	return body + base62CRC(body)
}()

// base62CRC is the test's own encoding of the checksum, independent of the package's.
func base62CRC(s string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := uint64(crc32IEEE(s))
	out := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		out[i] = alphabet[sum%62]
		sum /= 62
	}
	return string(out)
}

func otherBase62(c byte) byte {
	if c == 'x' {
		return 'y'
	}
	return 'x'
}

func swapCase(s string) string {
	b := []byte(s)
	changed := false
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i], changed = c-32, true
		case c >= 'A' && c <= 'Z':
			b[i], changed = c+32, true
		}
	}
	if !changed {
		b[0] = 'a'
	}
	return string(b)
}

func FuzzParseSecretFormats(f *testing.F) {
	for _, s := range []string{
		"", knownPrefixed, tokenward.NewPrefixedSecret().Reveal(), uuid.NewString(),
		knownPrefixed[:39], knownPrefixed + "A", "twt_" + strings.Repeat("_", 36),
		knownPrefixed[:34] + "000000", "TWT_" + knownPrefixed[4:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sec, ok := tokenward.ParseSecret(s)
		wantPrefixed := prefixedShape.MatchString(s) && base62CRC(s[:34]) == s[34:]
		if want := fuzzUUID.MatchString(s) || wantPrefixed; ok != want {
			t.Fatalf("ParseSecret(%q) ok = %v, want %v", s, ok, want)
		}
		if wantPrefixed && sec.Reveal() != s {
			t.Fatalf("ParseSecret(%q) = %q, want it unchanged (prefixed secrets are case-sensitive)", s, sec.Reveal())
		}
		if !ok && sec != "" {
			t.Fatalf("ParseSecret(%q) refused but returned %q", s, sec.Reveal())
		}
	})
}

// TestReadmeSecretPatterns: the regular expression the README gives, and its gitleaks and
// GitHub rules, match generated prefixed secrets (alone and inside text) and neither UUIDs,
// token ids nor longer runs.
func TestReadmeSecretPatterns(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	find := func(what string, re *regexp.Regexp) string {
		m := re.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("README.md has no %s", what)
		}
		return m[1]
	}
	plain := find("regular expression line", regexp.MustCompile("(?m)^Regular expression: `([^`]+)`$"))
	gitleaks := find("gitleaks rule", regexp.MustCompile(`(?s)\[\[rules\]\].*?regex = '''([^']+)'''`))
	github := find("GitHub secret format", regexp.MustCompile("\\| Secret format \\| `([^`]+)` \\|"))
	before := strings.ReplaceAll(find("GitHub before-secret", regexp.MustCompile("\\| Before secret \\| `([^`]+)` \\|")), `\|`, "|")
	after := strings.ReplaceAll(find("GitHub after-secret", regexp.MustCompile("\\| After secret \\| `([^`]+)` \\|")), `\|`, "|")
	if plain != tokenward.SecretPattern || gitleaks != tokenward.SecretPattern {
		t.Errorf("README patterns %q, %q; want tokenward.SecretPattern %q", plain, gitleaks, tokenward.SecretPattern)
	}
	patterns := map[string]*regexp.Regexp{
		"README": regexp.MustCompile(plain), "gitleaks": regexp.MustCompile(gitleaks),
		"GitHub": regexp.MustCompile("(?:" + before + ")" + github + "(?:" + after + ")"),
	}
	for range 200 {
		s := tokenward.NewPrefixedSecret().Reveal()
		for name, re := range patterns {
			for _, in := range []string{s, "export TOKENWARD_TOKEN=" + s + "\n", `{"token":"` + s + `"}`, "Authorization: Bearer " + s} {
				if !re.MatchString(in) {
					t.Fatalf("the %s pattern misses a generated secret in %q", name, strings.ReplaceAll(in, s, "<secret>"))
				}
			}
			if !re.MatchString(s) || re.FindString(s+" ") == "" {
				t.Fatalf("the %s pattern misses a generated secret", name)
			}
		}
	}
	for range 200 {
		u := tokenward.NewSecret().Reveal()
		for name, re := range patterns {
			for _, in := range []string{u, strings.ToUpper(u), "twt_" + u, tokenward.NewTokenID(), "xtwt_" + strings.Repeat("a", 36), "twt_" + strings.Repeat("a", 37)} {
				if re.MatchString(in) {
					t.Fatalf("the %s pattern matches %q", name, in)
				}
			}
		}
	}
}

// TestAuthenticateRefusesWrongChecksumUnseen: a prefixed secret with one character changed
// is refused with ErrInvalidToken before the verification index or the database is
// consulted: the service's store and verifier fail the test when called. A right one
// reaches them.
func TestAuthenticateRefusesWrongChecksumUnseen(t *testing.T) {
	good := tokenward.NewPrefixedSecret().Reveal()
	for _, withIndex := range []bool{true, false} {
		store := &failStore{t: t}
		var verifier *failVerifier
		cfg := tokenward.Config{Store: store}
		if withIndex {
			verifier = &failVerifier{t: t}
			cfg.Verifier = verifier
		}
		s := tokenward.NewService(cfg)
		for _, m := range mutations(good) {
			p, err := s.Authenticate(context.Background(), m)
			if err != tokenward.ErrInvalidToken || p.AccountID != 0 {
				t.Fatalf("Authenticate(one character changed) = %+v, %v; want ErrInvalidToken", p, err)
			}
		}
		if n := store.calls.Load(); n != 0 {
			t.Fatalf("index %v: %d database queries for secrets with a wrong checksum, want 0", withIndex, n)
		}
		if withIndex && verifier.calls.Load() != 0 {
			t.Fatalf("%d index lookups for secrets with a wrong checksum, want 0", verifier.calls.Load())
		}
		// The control: a secret whose checksum is right is looked up (and, unknown, refused).
		store.allow = true
		verifier.allowIfSet()
		if _, err := s.Authenticate(context.Background(), good); err != tokenward.ErrInvalidToken {
			t.Fatalf("Authenticate(an unknown right secret) = %v, want ErrInvalidToken", err)
		}
		if n := store.calls.Load() + verifier.count(); n != 1 {
			t.Fatalf("index %v: %d lookups for a right secret, want 1", withIndex, n)
		}
	}
}

// failStore is a store whose every call fails the test, except PrincipalByDigest once
// allowed; a call to any other method panics (nil embedded interface).
type failStore struct {
	tokenward.Store
	t     *testing.T
	allow bool
	calls atomic.Int64
}

func (s *failStore) PrincipalByDigest(ctx context.Context, d tokenward.Digest) (tokenward.Principal, error) {
	s.calls.Add(1)
	if !s.allow {
		s.t.Errorf("the database was asked about a secret ParseSecret should have refused")
	}
	return tokenward.Principal{}, tokenward.Errorf(tokenward.ENotFound, "")
}

type failVerifier struct {
	t     *testing.T
	allow bool
	calls atomic.Int64
}

func (v *failVerifier) allowIfSet() {
	if v != nil {
		v.allow = true
	}
}

func (v *failVerifier) count() int64 {
	if v == nil {
		return 0
	}
	return v.calls.Load()
}

func (v *failVerifier) lookup() (tokenward.Principal, bool) {
	v.calls.Add(1)
	if !v.allow {
		v.t.Errorf("the index was asked about a secret ParseSecret should have refused")
	}
	return tokenward.Principal{}, false
}

func (v *failVerifier) Verify(tokenward.Digest, tokenward.Caller) (tokenward.Principal, bool) {
	return v.lookup()
}
func (v *failVerifier) VerifyCurrent(context.Context, tokenward.Digest, tokenward.Caller) (tokenward.Principal, bool) {
	return v.lookup()
}
func (v *failVerifier) CatchUp(context.Context) error { v.lookup(); return nil }
func (v *failVerifier) Suspend(...int64)              { v.lookup() }
func (v *failVerifier) FlushUsage(context.Context) error {
	v.lookup()
	return nil
}

func sha256Of(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func crc32IEEE(s string) uint32 { return crc32.ChecksumIEEE([]byte(s)) }

// TestParsePrefixedAllocatesNothing: the verification path stays free of allocations for
// prefixed secrets, right or wrong.
func TestParsePrefixedAllocatesNothing(t *testing.T) {
	good := tokenward.NewPrefixedSecret().Reveal()
	bad := good[:39] + string(otherBase62(good[39]))
	var sink tokenward.Digest
	if n := testing.AllocsPerRun(100, func() {
		if sec, ok := tokenward.ParseSecret(good); ok {
			sink = sec.Digest()
		}
		if _, ok := tokenward.ParseSecret(bad); ok {
			t.Fatal("a wrong checksum parsed")
		}
	}); n != 0 {
		t.Errorf("ParseSecret and Digest of a prefixed secret: %v allocations, want 0", n)
	}
	_ = sink
}

// BenchmarkParseSecret: the first step of every verification, for each format.
func BenchmarkParseSecret(b *testing.B) {
	good := tokenward.NewPrefixedSecret().Reveal()
	for name, s := range map[string]string{
		"uuid": tokenward.NewSecret().Reveal(), "prefixed": good,
		"prefixed-wrong-checksum": good[:39] + string(otherBase62(good[39])),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				tokenward.ParseSecret(s)
			}
		})
	}
}
