package tokenward_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/tokenward/tokenward"
)

// fuzzUUID is the canonical 36-character UUID form, in any letter case: exactly what
// ParseSecret accepts.
var fuzzUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func FuzzParseSecret(f *testing.F) {
	for _, s := range []string{
		"",
		"0b5e1b1e-6a8f-4d6b-9a2e-3f1c2d4e5f60",
		"0B5E1B1E-6A8F-4D6B-9A2E-3F1C2D4E5F60",
		"0b5e1b1e-6a8f-4d6b-9a2e-3f1c2d4e5f6",   // 35 characters
		"0b5e1b1e-6a8f-4d6b-9a2e-3f1c2d4e5f600", // 37 characters
		"0b5e1b1e06a8f-4d6b-9a2e-3f1c2d4e5f60",  // a digit where a dash belongs
		"0b5e1b1e-6a8f-4d6b-9a2e-3f1c2d4e5f6g",  // not hexadecimal
		"0b5e1b1e-6a8f-4d6b-9a2e-3f1c2d4e5f6\x00",
		"0b5e1b1e-6a8f-4d6b-9a2e-3f1c2d4e5fé", // 36 bytes, 35 runes
		"------------------------------------",
		"{0b5e1b1e-6a8f-4d6b-9a2e-3f1c2d4e5f}",
		" 0b5e1b1e-6a8f-4d6b-9a2e-3f1c2d4e5f6",
		"Bearer 0b5e1b1e-6a8f-4d6b-9a2e-3f1c",
		string(tokenward.NewSecret().Reveal()),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sec, ok := tokenward.ParseSecret(s)
		if want := fuzzUUID.MatchString(s); ok != want {
			t.Fatalf("ParseSecret(%q) ok = %v, want %v (canonical UUID form in any case)", s, ok, want)
		}
		if !ok {
			if sec != "" {
				t.Fatalf("ParseSecret(%q) = %q with ok false, want an empty secret", s, sec.Reveal())
			}
			return
		}
		got := sec.Reveal()
		if len(got) != 36 {
			t.Fatalf("ParseSecret(%q) = %q: %d characters, want 36", s, got, len(got))
		}
		if got != strings.ToLower(got) {
			t.Fatalf("ParseSecret(%q) = %q, not lower-case", s, got)
		}
		if !strings.EqualFold(got, s) {
			t.Fatalf("ParseSecret(%q) = %q, not the input up to letter case", s, got)
		}
		again, ok := tokenward.ParseSecret(got)
		if !ok || again != sec {
			t.Fatalf("ParseSecret(ParseSecret(%q)) = %q, %v; want %q, true", s, again.Reveal(), ok, got)
		}
		d := sec.Digest()
		if d != again.Digest() || d != sec.Digest() {
			t.Fatalf("Digest of %q is not deterministic", got)
		}
		if d != tokenward.Digest(sha256.Sum256([]byte(got))) {
			t.Fatalf("Digest of %q is not the SHA-256 of its text", got)
		}
		if sec.Hint() != got[32:] {
			t.Fatalf("Hint of %q = %q, want %q", got, sec.Hint(), got[32:])
		}
		if fmt.Sprint(sec) != "REDACTED" || fmt.Sprintf("%q %x %#v", sec, sec, sec) != "REDACTED REDACTED REDACTED" {
			t.Fatalf("a parsed secret formats as its text")
		}
	})
}

// fuzzInvalid fails t unless err is a *tokenward.Error with code "invalid".
func fuzzInvalid(t *testing.T, fn, in string, err error) {
	t.Helper()
	var e *tokenward.Error
	if !errors.As(err, &e) || tokenward.ErrorCode(err) != tokenward.EInvalid {
		t.Fatalf("%s(%q) error %v (%T), want a *tokenward.Error with code %q", fn, in, err, err, tokenward.EInvalid)
	}
	if e.Message == "" {
		t.Fatalf("%s(%q) error has an empty message", fn, in)
	}
}

func FuzzNormalizeIdentifiers(f *testing.F) {
	for _, s := range []string{
		"", " ", "jane@example.com", " Jane@Example.COM ", "admin@localhost", "Jane <jane@example.com>",
		"jane@", "@example.com", "a@b@c", `"quoted local"@example.com`, "jane@[127.0.0.1]", "jane(comment)@example.com",
		"ünïcödé@exämple.com", "İ@example.com", "\u212a@example.com", "jane@example.com\x00", "\xff@example.com",
		strings.Repeat("a", 250) + "@b.co", "sa::ci-bot", "SA::CI_Bot.1", "ci-bot", "sa::", "sa::sa::x", " sa::x ",
		"sa::" + strings.Repeat("x", 64), "sa::" + strings.Repeat("x", 65), "sa::bad name", "sa::ß",
		"token_management", " USER_MANAGEMENT ", "ingestion", "unknown_permission", "Token Management",
		"my token", "\tname with tabs\t", "name\nwith newline", "\u200bzero width", "\u0085next line",
		strings.Repeat("é", 128), strings.Repeat("é", 129), "\xed\xa0\x80", "ＡＢＣ",
	} {
		f.Add(s)
	}
	type normalizer struct {
		name string
		fn   func(string) (string, error)
	}
	normalizers := []normalizer{
		{"NormalizeEmail", tokenward.NormalizeEmail},
		{"NormalizeServiceAccountID", tokenward.NormalizeServiceAccountID},
		{"NormalizeAccountID", tokenward.NormalizeAccountID},
		{"NormalizeTokenName", tokenward.NormalizeTokenName},
		{"ParsePermission", func(s string) (string, error) {
			p, err := tokenward.ParsePermission(s)
			return string(p), err
		}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range normalizers {
			out, err := n.fn(s)
			if err != nil {
				fuzzInvalid(t, n.name, s, err)
				if out != "" {
					t.Fatalf("%s(%q) = %q with an error, want \"\"", n.name, s, out)
				}
				continue
			}
			again, err := n.fn(out)
			if err != nil || again != out {
				t.Fatalf("%s is not idempotent: %s(%q) = %q, but %s(%q) = %q, %v", n.name, n.name, s, out, n.name, out, again, err)
			}
			if !utf8.ValidString(out) {
				t.Fatalf("%s(%q) = %q, not valid UTF-8", n.name, s, out)
			}
			if out != strings.TrimSpace(out) {
				t.Fatalf("%s(%q) = %q, with surrounding space", n.name, s, out)
			}
			switch n.name {
			case "NormalizeEmail":
				if out != strings.ToLower(out) || len(out) > 254 || !strings.Contains(out, "@") {
					t.Fatalf("NormalizeEmail(%q) = %q: want a lower-case address of at most 254 bytes", s, out)
				}
				if strings.HasPrefix(out, tokenward.ServiceAccountPrefix) {
					if id, err := tokenward.NormalizeAccountID(out); err == nil && id != out {
						t.Fatalf("NormalizeEmail(%q) = %q, which NormalizeAccountID reads as service account %q", s, out, id)
					}
				}
			case "NormalizeServiceAccountID", "NormalizeAccountID":
				if strings.HasPrefix(out, tokenward.ServiceAccountPrefix) {
					name := strings.TrimPrefix(out, tokenward.ServiceAccountPrefix)
					if name == "" || len(name) > 64 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
						t.Fatalf("%s(%q) = %q: a service account name is 1 to 64 of [a-z0-9-_.]", n.name, s, out)
					}
				} else if n.name == "NormalizeServiceAccountID" {
					t.Fatalf("NormalizeServiceAccountID(%q) = %q, without the %s prefix", s, out, tokenward.ServiceAccountPrefix)
				}
				if id, err := tokenward.NormalizeAccountID(out); err != nil || id != out {
					t.Fatalf("%s(%q) = %q, but NormalizeAccountID of it = %q, %v", n.name, s, out, id, err)
				}
			case "NormalizeTokenName":
				if utf8.RuneCountInString(out) > tokenward.MaxTokenNameLength {
					t.Fatalf("NormalizeTokenName(%q) = %q: longer than %d characters", s, out, tokenward.MaxTokenNameLength)
				}
			case "ParsePermission":
				if !slices.Contains(tokenward.AllPermissions, tokenward.Permission(out)) {
					t.Fatalf("ParsePermission(%q) = %q, not one of AllPermissions", s, out)
				}
				if set := tokenward.NewPermissionSet(tokenward.Permission(out)); !set.Has(tokenward.Permission(out)) || len(set.List()) != 1 {
					t.Fatalf("ParsePermission(%q) = %q, which a PermissionSet does not hold", s, out)
				}
			}
		}
	})
}

func FuzzSearchRequestNormalize(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`null`,
		`{"limit":0,"offset":0}`,
		`{"limit":1000,"offset":5,"sort":{"field":"name","ascending":true}}`,
		`{"limit":1001}`,
		`{"limit":-1}`,
		`{"offset":-1}`,
		`{"limit":9223372036854775807,"offset":9223372036854775807}`,
		`{"limit":1e400}`,
		`{"sort":{"field":""}}`,
		`{"sort":{"field":"identifier","default":true}}`,
		`{"sort":{"field":"dateGenerated"}}`,
		`{"sort":{"field":"nope"}}`,
		`{"sort":null,"query":null}`,
		`{"query":[{"key":"name","value":"ci"}]}`,
		`{"query":[{"key":"name","values":["a","b"],"matchingMethod":"startswith","negated":true}]}`,
		`{"query":[{"key":"account","value":"sa::*","matchingMethod":"TAGPATH"}]}`,
		`{"query":[{"key":"freetext","value":"x","matchingMethod":"exact"}]}`,
		`{"query":[{"key":"name","value":"x","matchingMethod":"regex"}]}`,
		`{"query":[{"key":"name","value":"x","matchingMethod":"contaİns"}]}`,
		`{"query":[{"key":"lastUsed","start":0,"end":1700000000000}]}`,
		`{"query":[{"key":"lastUsed","value":"","matchingMethod":"EXACT"}]}`,
		`{"query":[{"key":"lastUsed","values":[],"matchingMethod":"EXACT"}]}`,
		`{"query":[{"key":"lastUsed","value":"yesterday"}]}`,
		`{"query":[{"key":"dateGenerated","start":-9223372036854775808}]}`,
		`{"query":[{"key":"active","value":"true"}]}`,
		`{"query":[{"key":"active","values":["true","maybe"]}]}`,
		`{"query":[{"key":"identifier","value":"x","start":1}]}`,
		`{"query":[{"key":"unknown","value":"x"}]}`,
		`{"query":[{}]}`,
		`{"query":[{"key":"name","value":"\u0000\ud800"}]}`,
		`[]`,
		`"string"`,
	} {
		f.Add([]byte(s))
	}
	specs := []struct {
		name string
		spec tokenward.SearchSpec
	}{{"TokenSearch", tokenward.TokenSearch}, {"AccountSearch", tokenward.AccountSearch}}
	methods := []tokenward.MatchingMethod{tokenward.MatchContains, tokenward.MatchStartsWith, tokenward.MatchExact, tokenward.MatchTagPath}
	f.Fuzz(func(t *testing.T, data []byte) {
		var probe tokenward.SearchRequest
		if json.Unmarshal(data, &probe) != nil {
			return
		}
		for _, sp := range specs {
			// A copy of its own for each spec: Normalize changes the request.
			var req tokenward.SearchRequest
			if err := json.Unmarshal(data, &req); err != nil {
				t.Fatalf("the second decoding of %q failed: %v", data, err)
			}
			if err := req.Normalize(sp.spec); err != nil {
				fuzzInvalid(t, sp.name+" Normalize", string(data), err)
				continue
			}
			if req.Limit < 1 || req.Limit > tokenward.MaxSearchLimit {
				t.Fatalf("%s: %q normalized to limit %d, want 1..%d", sp.name, data, req.Limit, tokenward.MaxSearchLimit)
			}
			if req.Offset < 0 {
				t.Fatalf("%s: %q normalized to offset %d", sp.name, data, req.Offset)
			}
			if req.Sort == nil || !slices.Contains(sp.spec.SortFields, req.Sort.Field) {
				t.Fatalf("%s: %q normalized to sort %+v, want one of %v", sp.name, data, req.Sort, sp.spec.SortFields)
			}
			for i, c := range req.Query {
				if !slices.Contains(methods, c.MatchingMethod) {
					t.Fatalf("%s: %q condition %d has matchingMethod %q", sp.name, data, i, c.MatchingMethod)
				}
				if len(c.Values) == 0 {
					t.Fatalf("%s: %q condition %d has no values", sp.name, data, i)
				}
				if _, ok := sp.spec.Keys[c.Key]; !ok {
					t.Fatalf("%s: %q condition %d has unknown key %q", sp.name, data, i, c.Key)
				}
			}
			// Normalizing a normalized request changes nothing.
			b, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			again := req
			again.Query = slices.Clone(req.Query)
			sort := *req.Sort
			again.Sort = &sort
			if err := again.Normalize(sp.spec); err != nil {
				t.Fatalf("%s: normalizing the normalized %s again failed: %v", sp.name, b, err)
			}
			if !reflect.DeepEqual(again, req) {
				b2, _ := json.Marshal(again)
				t.Fatalf("%s: normalizing %s again gave %s", sp.name, b, b2)
			}
		}
	})
}

// fuzzArgonHash returns a PHC argon2id hash of password with tiny parameters, fast enough
// for a fuzz seed.
func fuzzArgonHash(password string, memory, time uint32, threads uint8) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(password), salt, time, memory, threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memory, time, threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// fuzzCheapHash reports whether every number in hash's parameter part is at most 64, so
// that checking it costs little memory and time: CheckPassword's own caps (4 GiB, 100
// passes) are far too generous for a fuzz iteration.
func fuzzCheapHash(hash string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) < 4 {
		return true // not enough parts to carry parameters
	}
	for _, p := range parts[2:4] {
		run := ""
		for i := 0; i <= len(p); i++ {
			if i < len(p) && p[i] >= '0' && p[i] <= '9' {
				run += string(p[i])
				continue
			}
			if run != "" {
				if n, err := strconv.Atoi(run); err != nil || n > 64 {
					return false
				}
				run = ""
			}
		}
	}
	return true
}

func FuzzCheckPassword(f *testing.F) {
	const pw = "correct horse battery staple"
	good := fuzzArgonHash(pw, 64, 1, 1)
	f.Add(good, pw)
	f.Add(good, pw+" ")
	f.Add(good, "")
	f.Add(fuzzArgonHash("", 8, 1, 1), "")
	f.Add(fuzzArgonHash(pw, 32, 2, 4), pw)
	f.Add(strings.Replace(good, "$argon2id$", "$argon2i$", 1), pw)
	f.Add(strings.Replace(good, "$argon2id$", "$ARGON2ID$", 1), pw)
	f.Add(strings.Replace(good, "v=19", "v=16", 1), pw)
	f.Add(strings.Replace(good, "m=64", "m=0", 1), pw)
	f.Add(strings.Replace(good, "m=64", "m=-64", 1), pw)
	f.Add(strings.Replace(good, "t=1", "t=0", 1), pw)
	f.Add(strings.Replace(good, "p=1", "p=0", 1), pw)
	f.Add(strings.Replace(good, "p=1", "p=256", 1), pw)
	f.Add(strings.Replace(good, "m=64,t=1,p=1", "m=64,t=1", 1), pw)
	f.Add(good+"$", pw)
	f.Add(good[:len(good)-2], pw)
	f.Add(strings.TrimSuffix(good, good[strings.LastIndex(good, "$"):])+"$", pw)
	f.Add(strings.TrimSuffix(good, good[strings.LastIndex(good, "$"):])+"$!!!", pw)
	f.Add("", "")
	f.Add("$", "")
	f.Add("$$$$$", "")
	f.Add("$argon2id$$$$", "")
	f.Add("plain text password", "plain text password")
	f.Add("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", pw)
	f.Add("$argon2id$v=19$m=99999999999999999999,t=1,p=1$AAAA$AAAA", pw) // over CheckPassword's cap
	f.Fuzz(func(t *testing.T, hash, password string) {
		if len(hash)+len(password) > 512 || !fuzzCheapHash(hash) {
			t.Skip("too expensive for a fuzz iteration")
		}
		ok := tokenward.CheckPassword(hash, password)
		if ok && !strings.HasPrefix(hash, "$argon2id$") {
			t.Fatalf("CheckPassword(%q, %q) = true for a hash that is not argon2id", hash, password)
		}
		if ok && hash == "" {
			t.Fatalf("CheckPassword accepted an empty hash")
		}
		if again := tokenward.CheckPassword(hash, password); again != ok {
			t.Fatalf("CheckPassword(%q, %q) answered %v, then %v", hash, password, ok, again)
		}
		if hash == good && ok != (password == pw) {
			t.Fatalf("CheckPassword(good hash, %q) = %v", password, ok)
		}
	})
}
