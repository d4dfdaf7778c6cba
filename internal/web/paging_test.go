package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/cmd/tokenward-bench/seed"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

var (
	rowToken = regexp.MustCompile(`name="token" value="([^"]+)"`)
	nextLink = regexp.MustCompile(`href="([^"]+)" rel="next"`)
	prevLink = regexp.MustCompile(`href="([^"]+)" rel="prev"`)
)

// TestOrgTablePagesByCursor: Next and Previous in the org table carry the search's cursor
// (page numbers do not, nor do Share links), and walking them shows exactly the pages that
// page numbers show, forwards and back; a cursor that no longer fits the sort falls back to
// the page number.
func TestOrgTablePagesByCursor(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		ctx := context.Background()
		b := e.browser()
		if r := e.signIn(b, "jane@example.com", password); r.status != http.StatusSeeOther {
			t.Fatalf("sign in: %d", r.status)
		}
		op := tokenward.NewOperator(e.service)
		for i := range 3 {
			sa := fmt.Sprintf("sa::pager-%d", i)
			if _, err := op.CreateServiceAccount(ctx, sa, 0, ""); err != nil {
				t.Fatal(err)
			}
			for j := range 9 {
				if _, _, err := op.GenerateToken(ctx, sa, fmt.Sprintf("t-%d", (i*7+j)%5)); err != nil {
					t.Fatal(err)
				}
			}
		}
		base := "/console/accounts/api-tokens?sort=name&dir=asc&size=10"
		var byNumber [][]string
		for n := 1; ; n++ {
			p := e.send(b, "GET", fmt.Sprintf("%s&page=%d", base, n), nil)
			if ids := rows(p.body); len(ids) > 0 {
				byNumber = append(byNumber, ids)
				continue
			}
			break
		}
		if len(byNumber) != 3 {
			t.Fatalf("%d pages of 10 for 27 tokens", len(byNumber))
		}
		link := base
		var bodies []string
		for i := range byNumber {
			p := e.send(b, "GET", link, nil)
			if got := rows(p.body); !slices.Equal(got, byNumber[i]) {
				t.Fatalf("page %d by Next: %v, want %v", i+1, got, byNumber[i])
			}
			bodies = append(bodies, p.body)
			m := nextLink.FindStringSubmatch(p.body)
			if i == len(byNumber)-1 {
				if m != nil {
					t.Errorf("the last page links a next one: %s", m[1])
				}
				break
			}
			if m == nil || !strings.Contains(m[1], "cursor=") {
				t.Fatalf("page %d: Next without a cursor: %v", i+1, m)
			}
			link = html.UnescapeString(m[1])
		}
		for i := len(bodies) - 1; i > 0; i-- {
			m := prevLink.FindStringSubmatch(bodies[i])
			if m == nil || !strings.Contains(m[1], "cursor=") {
				t.Fatalf("page %d: Previous without a cursor: %v", i+1, m)
			}
			if got := rows(e.send(b, "GET", html.UnescapeString(m[1]), nil).body); !slices.Equal(got, byNumber[i-1]) {
				t.Fatalf("page %d by Previous: %v, want %v", i, got, byNumber[i-1])
			}
		}
		if regexp.MustCompile(`href="[^"]*cursor=[^"]*" aria-(current|label)`).MatchString(bodies[1]) {
			t.Errorf("a page number link carries a cursor")
		}
		// A cursor of another sort order: the page number decides.
		next := html.UnescapeString(nextLink.FindStringSubmatch(bodies[0])[1])
		stale := strings.Replace(next, "dir=asc", "dir=desc", 1)
		if p := e.send(b, "GET", stale, nil); p.status != 200 || len(rows(p.body)) != 10 {
			t.Errorf("a stale cursor: %d with %d rows, want the page by number", p.status, len(rows(p.body)))
		}
	})
}

// TestOrgTableEstimatesTotal: where the count stops at its cap, the table says "about N"
// (the search's estimate), not only "more than N".
func TestOrgTableEstimatesTotal(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		if err := seed.Fill(context.Background(), e.db, seed.Spec{Accounts: 450, TokensPerAccount: 20, Now: e.clock.Now()}); err != nil {
			t.Fatalf("seed: %v", err)
		}
		b := e.browser()
		if r := e.signIn(b, "jane@example.com", password); r.status != http.StatusSeeOther {
			t.Fatalf("sign in: %d", r.status)
		}
		p := e.send(b, "GET", "/console/accounts/api-tokens", nil)
		if m := regexp.MustCompile(`1 - 25 of about ([0-9,]+)`).FindStringSubmatch(p.body); m == nil || m[1] != "9,000" {
			t.Errorf("9,000 tokens: the range reads %q, want about 9,000", between(p.body, `class="range"`, "</span>"))
		}
	})
}

func rows(body string) []string {
	var ids []string
	for _, m := range rowToken.FindAllStringSubmatch(body, -1) {
		if len(ids) == 0 || ids[len(ids)-1] != m[1] { // a row's forms (Revoke, Rotate) name it each
			ids = append(ids, m[1])
		}
	}
	return ids
}
