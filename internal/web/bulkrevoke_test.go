package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestConsoleBulkRevoke follows the console's bulk revocation without JavaScript: the
// confirmation of a search's matches, refused when their number changed or (past 100) was
// not typed, the job's page while it runs and once it is done, and the confirmation page
// of selected rows.
func TestConsoleBulkRevoke(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine, false)
		ctx := context.Background()
		op := tokenward.NewOperator(e.service)
		if _, err := op.CreateServiceAccount(ctx, "sa::ci", tokenward.NewPermissionSet(), ""); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 3 {
			_, tok, err := op.GenerateToken(ctx, "sa::ci", fmt.Sprint("ci ", i))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tok.ID)
		}
		b := e.browser()
		if r := e.signIn(b, "jane@example.com", password); r.status != http.StatusSeeOther {
			t.Fatalf("sign in: %d", r.status)
		}
		same := "Origin: " + e.srv.URL
		if r := e.send(b, "GET", "/console/accounts/api-tokens/revoke-matching?account=sa::ci", nil); r.status != 200 ||
			!strings.Contains(r.body, "Revoke all 3 matching tokens?") || strings.Contains(r.body, `name="confirm"`) {
			t.Errorf("confirmation page: %d, want the count and no number to type for 3 tokens:\n%.2000s", r.status, r.body)
		}
		for _, tc := range []struct {
			name     string
			form     url.Values
			want     int
			contains string
		}{
			{"count changed", url.Values{"account": {"sa::ci"}, "expected": {"2"}}, 409, "3 tokens match now, not the 2 expected"},
			{"not typed past 100", url.Values{"account": {"sa::ci"}, "expected": {"150"}, "confirm": {"15"}}, 400, "Type the number of tokens, 150, to confirm"},
			{"no count", url.Values{"account": {"sa::ci"}}, 400, "lost the number"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.send(b, "POST", "/console/accounts/api-tokens/revoke-matching", tc.form, same)
				if r.status != tc.want || !strings.Contains(html.UnescapeString(r.body), tc.contains) {
					t.Errorf("got %d, want %d with %q:\n%.1500s", r.status, tc.want, tc.contains, r.body)
				}
			})
		}
		if live, _ := op.Tokens(ctx, "sa::ci"); len(live) != 3 {
			t.Fatalf("refused confirmations left %d of 3 tokens live", len(live))
		}

		r := e.send(b, "POST", "/console/accounts/api-tokens/revoke-matching", url.Values{"account": {"sa::ci"}, "expected": {"3"}}, same)
		job := r.header.Get("Location")
		if r.status != http.StatusSeeOther || !strings.HasPrefix(job, "/console/accounts/jobs/") {
			t.Fatalf("confirmed: %d to %q, want 303 to the job's page", r.status, job)
		}
		page := e.send(b, "GET", job, nil)
		for _, want := range []string{"0</strong> of 3 handled", `<noscript><meta http-equiv="refresh" content="2"></noscript>`, `hx-trigger="every 1s"`} {
			if page.status != 200 || !strings.Contains(page.body, want) {
				t.Errorf("the running job's page lacks %q (%d):\n%.2000s", want, page.status, page.body)
			}
		}
		runner := e.service.NewRevokeRunner(0, time.Minute)
		for worked := true; worked; {
			var err error
			if worked, err = runner.Step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		page = e.send(b, "GET", job, nil)
		if !strings.Contains(page.body, "Done: 3 tokens revoked") || strings.Contains(page.body, "http-equiv") {
			t.Errorf("the finished job's page shows no summary, or still reloads:\n%.2000s", page.body)
		}
		if live, _ := op.Tokens(ctx, "sa::ci"); len(live) != 0 {
			t.Errorf("%d tokens live after the job, want none", len(live))
		}

		// Selected rows, without JavaScript: the confirmation page holds the selection.
		q := url.Values{"to": {"/console/accounts/api-tokens/revoke-selected"}, "token": ids[:2], "return": {"/console/accounts/api-tokens"}}
		confirm := e.send(b, "GET", "/console/confirm?"+q.Encode(), nil)
		if confirm.status != 200 || !strings.Contains(confirm.body, "Revoke the selected tokens?") ||
			!strings.Contains(confirm.body, `value="`+ids[1]+`"`) {
			t.Errorf("confirmation of selected rows: %d\n%.1500s", confirm.status, confirm.body)
		}
		if r := e.send(b, "POST", "/console/accounts/api-tokens/revoke-selected", url.Values{}, same); r.status != 400 ||
			!strings.Contains(r.body, "Select the tokens to revoke first") {
			t.Errorf("nothing selected: %d, want 400 saying to select tokens", r.status)
		}
		if r := e.send(b, "GET", "/console/accounts/jobs/not-a-job", nil); r.status != 404 {
			t.Errorf("unknown job page: %d, want 404", r.status)
		}
	})
}
