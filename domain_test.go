package tokenward_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
)

func TestSecretNeverFormatsItself(t *testing.T) {
	s := tokenward.NewSecret()
	text := s.Reveal()
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("msg", "secret", s, "nested", struct{ S tokenward.Secret }{s})
	js, _ := json.Marshal(map[string]any{"s": s})
	outputs := map[string]string{
		"%s": fmt.Sprintf("%s", s), "%v": fmt.Sprintf("%v", s), "%q": fmt.Sprintf("%q", s),
		"%x": fmt.Sprintf("%x", s), "%#v": fmt.Sprintf("%#v", s), "%+v struct": fmt.Sprintf("%+v", struct{ S tokenward.Secret }{s}),
		"Sprint": fmt.Sprint(s), "slog": logBuf.String(), "json": string(js), "error": fmt.Errorf("bad %v", s).Error(),
	}
	for how, out := range outputs {
		if strings.Contains(out, text) || !strings.Contains(out, "REDACTED") {
			t.Errorf("%s formats a secret as %q, want REDACTED", how, out)
		}
	}
}

func TestNewSecretIsRandomUUIDv4(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := tokenward.NewSecret().Reveal()
		if len(s) != 36 || s[14] != '4' || !strings.ContainsAny(s[19:20], "89ab") {
			t.Fatalf("secret %q is not a canonical UUID v4", s)
		}
		if seen[s] {
			t.Fatalf("secret repeated after %d draws", len(seen))
		}
		seen[s] = true
		if _, ok := tokenward.ParseSecret(s); !ok {
			t.Fatalf("ParseSecret rejects a fresh secret")
		}
	}
}

func TestParseSecret(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when invalid
	}{
		{"c96f3e0a-b8c6-48c9-a655-fca2520f2624", "c96f3e0a-b8c6-48c9-a655-fca2520f2624"},
		{"C96F3E0A-B8C6-48C9-A655-FCA2520F2624", "c96f3e0a-b8c6-48c9-a655-fca2520f2624"},
		{"", ""},
		{"c96f3e0a-b8c6-48c9-a655-fca2520f262", ""},   // short
		{"c96f3e0a-b8c6-48c9-a655-fca2520f26245", ""}, // long
		{"c96f3e0ab8c648c9a655fca2520f2624", ""},      // no dashes
		{"c96f3e0a-b8c6-48c9-a655-fca2520f262g", ""},  // not hex
		{"{96f3e0a-b8c6-48c9-a655-fca2520f2624}", ""},
		{"tw_abcdefghijklmnop", ""},
	}
	for _, tc := range tests {
		got, ok := tokenward.ParseSecret(tc.in)
		if ok != (tc.want != "") || got.Reveal() != tc.want {
			t.Errorf("ParseSecret(%q) = %q, %v; want %q", tc.in, got.Reveal(), ok, tc.want)
		}
	}
}

func TestTokenIDIsNeverASecret(t *testing.T) {
	for range 100 {
		id := tokenward.NewTokenID()
		if !strings.HasPrefix(id, tokenward.TokenIDPrefix) || len(id) != 19 {
			t.Fatalf("token id %q, want tw_ and 16 characters", id)
		}
		if _, ok := tokenward.ParseSecret(id); ok {
			t.Fatalf("token id %q parses as a secret", id)
		}
	}
}

func TestNormalizeIdentifiers(t *testing.T) {
	tests := []struct {
		fn      func(string) (string, error)
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{tokenward.NormalizeEmail, "email", " Jane@Example.COM ", "jane@example.com", false},
		{tokenward.NormalizeEmail, "email", "admin@localhost", "admin@localhost", false},
		{tokenward.NormalizeEmail, "email", "Jane <jane@example.com>", "", true},
		{tokenward.NormalizeEmail, "email", "not an email", "", true},
		{tokenward.NormalizeEmail, "email", "", "", true},
		{tokenward.NormalizeServiceAccountID, "sa", "sa::CI-Bot", "sa::ci-bot", false},
		{tokenward.NormalizeServiceAccountID, "sa", "deploy_1.x", "sa::deploy_1.x", false},
		{tokenward.NormalizeServiceAccountID, "sa", "sa::", "", true},
		{tokenward.NormalizeServiceAccountID, "sa", "sa::a b", "", true},
		{tokenward.NormalizeServiceAccountID, "sa", "sa::" + strings.Repeat("a", 65), "", true},
		{tokenward.NormalizeAccountID, "any", "SA::Bot", "sa::bot", false},
		{tokenward.NormalizeAccountID, "any", "Bob@Example.com", "bob@example.com", false},
	}
	for _, tc := range tests {
		got, err := tc.fn(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%s(%q) = %q, %v; want %q, error %v", tc.name, tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && tokenward.ErrorCode(err) != tokenward.EInvalid {
			t.Errorf("%s(%q) error code %q, want %q", tc.name, tc.in, tokenward.ErrorCode(err), tokenward.EInvalid)
		}
	}
}

func TestNormalizeTokenName(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"  laptop ", "laptop", false},
		{"", "", false},
		{"déploiement 🚀", "déploiement 🚀", false},
		{strings.Repeat("é", 128), strings.Repeat("é", 128), false},
		{strings.Repeat("é", 129), "", true},
		{"a\x00b", "", true},
		{"a\nb", "", true},
		{"\xff", "", true},
	}
	for _, tc := range tests {
		got, err := tokenward.NormalizeTokenName(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("NormalizeTokenName(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestPermissionSet(t *testing.T) {
	all := tokenward.NewPermissionSet(tokenward.AllPermissions...)
	if got := len(all.List()); got != 17 {
		t.Errorf("all permissions: %d, want 17", got)
	}
	s := tokenward.NewPermissionSet(tokenward.UserManagement, tokenward.Ingestion)
	if !s.Has(tokenward.UserManagement) || !s.Has(tokenward.Ingestion) || s.Has(tokenward.TokenManagement) {
		t.Errorf("set %v: Has is wrong", s.List())
	}
	if s.Has("no_such_permission") {
		t.Errorf("Has(unknown) = true")
	}
	if got := fmt.Sprint(s.List()); got != "[ingestion user_management]" {
		t.Errorf("List = %s, want reference order [ingestion user_management]", got)
	}
	if js, _ := json.Marshal(tokenward.PermissionSet(0).List()); string(js) != "[]" {
		t.Errorf("empty List encodes as %s, want []", js)
	}
	for _, in := range []string{"Token_Management", " ingestion "} {
		if _, err := tokenward.ParsePermission(in); err != nil {
			t.Errorf("ParsePermission(%q): %v", in, err)
		}
	}
	if _, err := tokenward.ParsePermission("root"); tokenward.ErrorCode(err) != tokenward.EInvalid {
		t.Errorf("ParsePermission(root) = %v, want EInvalid", err)
	}
}

func TestPasswords(t *testing.T) {
	hash, err := tokenward.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$") {
		t.Errorf("hash %q is not a PHC argon2id string", hash)
	}
	checks := []struct {
		hash, password string
		want           bool
	}{
		{hash, "correct horse battery", true},
		{hash, "correct horse batterY", false},
		{hash, "", false},
		{"", "", false},
		{"$argon2id$v=19$m=1,t=1,p=1$$", "", false},
		{"$bcrypt$whatever", "correct horse battery", false},
	}
	for _, c := range checks {
		if got := tokenward.CheckPassword(c.hash, c.password); got != c.want {
			t.Errorf("CheckPassword(%.20q, %q) = %v, want %v", c.hash, c.password, got, c.want)
		}
	}
	if _, err := tokenward.HashPassword("short"); tokenward.ErrorCode(err) != tokenward.EInvalid {
		t.Errorf("short password: %v, want EInvalid", err)
	}
	if a, b := tokenward.NewPassword(), tokenward.NewPassword(); a == b || len(a) < 20 {
		t.Errorf("NewPassword gave %q and %q", a, b)
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	inner := tokenward.Errorf(tokenward.ENotFound, "account x does not exist")
	wrapped := fmt.Errorf("context: %w", inner)
	internal := fmt.Errorf("query failed: password=hunter2")
	tests := []struct {
		err       error
		code, msg string
	}{
		{nil, "", ""},
		{inner, tokenward.ENotFound, "account x does not exist"},
		{wrapped, tokenward.ENotFound, "account x does not exist"},
		{internal, tokenward.EInternal, "internal error"},
	}
	for _, tc := range tests {
		if got := tokenward.ErrorCode(tc.err); got != tc.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.code)
		}
		if got := tokenward.ErrorMessage(tc.err); got != tc.msg {
			t.Errorf("ErrorMessage(%v) = %q, want %q", tc.err, got, tc.msg)
		}
	}
}

// TestSearchRequestBounds: every size of a search request has a limit, refused with 400
// naming it, and text that no engine stores the same way is refused before any query.
func TestSearchRequestBounds(t *testing.T) {
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint(i)
		}
		return out
	}
	cond := func(c tokenward.SearchCondition) []tokenward.SearchCondition { return []tokenward.SearchCondition{c} }
	conds := make([]tokenward.SearchCondition, tokenward.MaxSearchConditions+1)
	for i := range conds {
		conds[i] = tokenward.SearchCondition{Key: "name", Value: "x"}
	}
	for _, tc := range []struct {
		name string
		req  tokenward.SearchRequest
		want string // a word the message must hold; "" for no error
	}{
		{"offset at the bound", tokenward.SearchRequest{Offset: tokenward.MaxSearchOffset}, ""},
		{"offset past the bound", tokenward.SearchRequest{Offset: tokenward.MaxSearchOffset + 1}, "offset"},
		{"offset near 2^63", tokenward.SearchRequest{Offset: 1<<63 - 1}, "offset"},
		{"too many conditions", tokenward.SearchRequest{Query: conds}, "conditions"},
		{"values at the bound", tokenward.SearchRequest{Query: cond(tokenward.SearchCondition{Key: "name", Values: many(tokenward.MaxSearchValues)})}, ""},
		{"too many values", tokenward.SearchRequest{Query: cond(tokenward.SearchCondition{Key: "name", Values: many(tokenward.MaxSearchValues + 1)})}, "values"},
		{"NUL in a value", tokenward.SearchRequest{Query: cond(tokenward.SearchCondition{Key: "name", Value: "a\x00b"})}, "NUL"},
		{"invalid UTF-8", tokenward.SearchRequest{Query: cond(tokenward.SearchCondition{Key: "name", Value: "a\xffb"})}, "UTF-8"},
		{"long value", tokenward.SearchRequest{Query: cond(tokenward.SearchCondition{Key: "name", Value: strings.Repeat("x", tokenward.MaxSearchValueLength+1)})}, "bytes"},
	} {
		err := tc.req.Normalize(tokenward.TokenSearch)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want no error", tc.name, err)
		case tc.want != "" && (tokenward.ErrorCode(err) != tokenward.EInvalid || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %s naming %q", tc.name, err, tokenward.EInvalid, tc.want)
		}
	}
}

// TestNamesThatSpoof: token names refuse bidirectional overrides and zero-width characters.
func TestNamesThatSpoof(t *testing.T) {
	for _, name := range []string{"deploy\u202etxt.exe", "ci\u200bbot", "a\u200db", "x\u2066y"} {
		if _, err := tokenward.NormalizeTokenName(name); tokenward.ErrorCode(err) != tokenward.EInvalid {
			t.Errorf("NormalizeTokenName(%q): %v, want %s", name, err, tokenward.EInvalid)
		}
	}
	if got, err := tokenward.NormalizeTokenName("  déploiement ✓ "); err != nil || got != "déploiement ✓" {
		t.Errorf("NormalizeTokenName of plain Unicode text = %q, %v; want it kept, trimmed", got, err)
	}
}
