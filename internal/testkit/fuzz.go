package testkit

import (
	"context"
	"fmt"
	"path"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
)

// FuzzFixtures are things that a fuzz target's inputs name with placeholders, so that the
// fuzzer reaches the paths that need an existing thing: @sa (a service account), @token (a
// token of @sa), @user (a user) and @saved (a saved search of the principal given to
// Ensure). A target keeps one for its whole run; iterations may delete or disable them,
// and Ensure recreates what is gone.
type FuzzFixtures struct {
	Service    *tokenward.Service
	SavedQuery string // the query of the saved search @saved

	SA, TokenID, User, Saved string

	n int // the last number Fresh returned
}

// Fresh returns a number not returned before, for a new identifier.
func (f *FuzzFixtures) Fresh() int { f.n++; return f.n }

// Ensure recreates, as p, the fixtures that earlier requests removed. It fails the test
// when one cannot be created.
func (f *FuzzFixtures) Ensure(t testing.TB, p tokenward.Principal) {
	t.Helper()
	ctx := context.Background()
	if _, err := f.Service.AccountFor(ctx, p, f.SA, tokenward.ServiceAccount); f.SA == "" || err != nil {
		f.newServiceAccount(t)
	}
	if _, err := f.Service.OrgToken(ctx, p, f.TokenID); f.TokenID == "" || err != nil {
		_, tok, err := tokenward.NewOperator(f.Service).GenerateToken(ctx, f.SA, "fixture")
		if err != nil { // the account is full of tokens the fuzzer generated
			f.newServiceAccount(t)
			_, tok, err = tokenward.NewOperator(f.Service).GenerateToken(ctx, f.SA, "fixture")
		}
		if err != nil {
			t.Fatalf("token for %s: %v", f.SA, err)
		}
		f.TokenID = tok.ID
	}
	if _, err := f.Service.AccountFor(ctx, p, f.User, tokenward.UserAccount); f.User == "" || err != nil {
		f.User = fmt.Sprintf("fuzz-user-%d@example.com", f.Fresh())
		if _, err := tokenward.NewOperator(f.Service).CreateUser(ctx, f.User, tokenward.NewPermissionSet(tokenward.Ingestion), ""); err != nil {
			t.Fatalf("create user %s: %v", f.User, err)
		}
	}
	if _, err := f.Service.SavedSearchOf(ctx, p, f.Saved); f.Saved == "" || err != nil {
		s, err := f.Service.CreateSavedSearch(ctx, p, "TOKEN", f.SavedQuery)
		if err != nil {
			t.Fatalf("create saved search: %v", err)
		}
		f.Saved = s.ID
	}
}

func (f *FuzzFixtures) newServiceAccount(t testing.TB) {
	t.Helper()
	f.SA = fmt.Sprintf("sa::fuzz-fixture-%d", f.Fresh())
	if _, err := tokenward.NewOperator(f.Service).CreateServiceAccount(context.Background(), f.SA,
		tokenward.NewPermissionSet(tokenward.Ingestion), "fixture"); err != nil {
		t.Fatalf("create service account %s: %v", f.SA, err)
	}
	f.TokenID = ""
}

// Substitute replaces the placeholders in s with the fixtures' identifiers, then those of
// more: further pairs of placeholder and identifier. A Replacer tries its pairs in order,
// so @saved comes before @sa, and a placeholder in more must not start with one of the
// fixtures'.
func (f *FuzzFixtures) Substitute(s string, more ...string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	pairs := append([]string{"@token", f.TokenID, "@saved", f.Saved, "@sa", f.SA, "@user", f.User}, more...)
	return strings.NewReplacer(pairs...).Replace(s)
}

// CleanPath is the escaped path net/http's ServeMux serves a request at: a request for
// another path is redirected there.
func CleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}
