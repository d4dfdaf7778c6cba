package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// runJobs runs this instance's bulk revocation runner until it finds nothing to do.
func (e *env) runJobs() {
	e.t.Helper()
	runner := e.service.NewRevokeRunner(2, time.Minute)
	for range 1000 {
		worked, err := runner.Step(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if !worked {
			return
		}
	}
	e.t.Fatal("the runner never runs out of work")
}

// job returns GET /api/v2/job/{id}'s answer.
func (e *env) job(admin, id string) (state string, total, done, failed int) {
	e.t.Helper()
	res := e.do("GET", "/api/v2/job/"+id, "", bearer(admin))
	_, _, payload := res.container(e.t)
	var j struct {
		State               string
		Total, Done, Failed int
	}
	if err := json.Unmarshal(payload, &j); err != nil || res.Status != 200 {
		e.t.Fatalf("GET job: %d %s", res.Status, res.Body)
	}
	return j.State, j.Total, j.Done, j.Failed
}

// TestRevokeBulk starts a job each way the API offers, follows it to its end and checks
// that the tokens it revoked no longer authenticate, while the others still do.
func TestRevokeBulk(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement)
		bystander := e.serviceAccount("sa::keep-me")
		secrets := map[string][]string{}
		for _, sa := range []string{"sa::bulk-a", "sa::bulk-b", "sa::other"} {
			secrets[sa] = append(secrets[sa], e.serviceAccount(sa))
			for range 2 {
				secrets[sa] = append(secrets[sa], e.token(sa))
			}
		}
		idOf := func(secret string) string {
			res := e.do("GET", "/api/v2/apitoken/customertokens/"+secret, "", bearer(admin))
			_, _, payload := res.container(t)
			var tok struct{ ID string }
			if err := json.Unmarshal(payload, &tok); err != nil || tok.ID == "" {
				t.Fatalf("token of a secret: %d %s", res.Status, res.Body)
			}
			return tok.ID
		}
		otherIDs := []string{idOf(secrets["sa::other"][0]), idOf(secrets["sa::other"][1])}
		bulk := `{"query": {"query": [{"key": "account", "value": "sa::bulk-", "matchingMethod": "STARTSWITH"}]}, "expectedCount": %d}`

		for _, tc := range []struct {
			name, body string
			want       int
			message    string
		}{
			{"count changed", fmt.Sprintf(bulk, 5), 409, "6 tokens match now, not the 5 expected"},
			{"no selector", `{}`, 400, "exactly one of ids, account and query"},
			{"two selectors", `{"ids": ["x"], "account": "sa::other"}`, 400, "exactly one of"},
			{"query without count", `{"query": {"query": null}}`, 400, "expectedCount is required"},
			{"query not a search", `{"query": 5, "expectedCount": 1}`, 400, "query must be a search request"},
			{"unknown key", `{"query": [{"key": "digest", "value": "x"}], "expectedCount": 1}`, 400, "digest"},
			{"unknown account", `{"account": "sa::nobody"}`, 404, "does not exist"},
			{"not JSON", `revoke everything`, 400, ""},
			{"ids not strings", `{"ids": [1, 2]}`, 400, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := e.do("POST", "/api/v2/apitoken/customertokens/revoke-bulk", tc.body, bearer(admin))
				_, msg, _ := res.container(t)
				if res.Status != tc.want || !strings.Contains(msg, tc.message) {
					t.Errorf("got %d %q, want %d with %q", res.Status, msg, tc.want, tc.message)
				}
			})
		}

		var ids []string
		for _, body := range []string{
			fmt.Sprintf(bulk, 6),
			`{"ids": ["` + strings.Join(otherIDs, `", "`) + `", "tw_nosuchtoken"]}`,
		} {
			res := e.do("POST", "/api/v2/apitoken/customertokens/revoke-bulk", body, bearer(admin))
			_, _, payload := res.container(t)
			var started struct {
				JobID string
				Total int
			}
			if err := json.Unmarshal(payload, &started); err != nil || res.Status != 202 || started.JobID == "" {
				t.Fatalf("revoke-bulk %s: %d %s", body, res.Status, res.Body)
			}
			if state, total, done, _ := e.job(admin, started.JobID); state != "running" || total != started.Total || done != 0 {
				t.Errorf("new job: %s, total %d, done %d; want running, %d, 0", state, total, done, started.Total)
			}
			ids = append(ids, started.JobID)
		}
		e.runJobs()
		for i, want := range []int{6, 2} {
			if state, total, done, failed := e.job(admin, ids[i]); state != "done" || total != want || done != want || failed != 0 {
				t.Errorf("job %d: %s, total %d, done %d, failed %d; want done, %d, %d, 0", i, state, total, done, failed, want, want)
			}
		}
		for sa, list := range secrets {
			for i, secret := range list {
				revoked := sa != "sa::other" || i < 2
				got := e.do("GET", "/api/v2/account/serviceaccount/"+sa, "", bearer(secret)).Status
				if revoked && got != 401 || !revoked && got == 401 {
					t.Errorf("token %d of %s (revoked: %v) authenticates with status %d", i, sa, revoked, got)
				}
			}
		}
		if got := e.do("GET", "/api/v2/account/serviceaccount/sa::keep-me", "", bearer(bystander)).Status; got == 401 {
			t.Errorf("a token no job named stopped working")
		}
		// The account form: the rest of sa::other's tokens.
		res := e.do("POST", "/api/v2/apitoken/customertokens/revoke-bulk", `{"account": "sa::other", "expectedCount": 1}`, bearer(admin))
		if res.Status != 202 {
			t.Fatalf("revoke-bulk by account: %d %s", res.Status, res.Body)
		}
		e.runJobs()
		if got := e.do("GET", "/api/v2/account/serviceaccount/sa::other", "", bearer(secrets["sa::other"][2])).Status; got != 401 {
			t.Errorf("the account's last token answers %d after its job, want 401", got)
		}
		for _, id := range []string{"nosuchjob", "00000000-0000-4000-8000-000000000000"} {
			if res := e.do("GET", "/api/v2/job/"+id, "", bearer(admin)); res.Status != 404 {
				t.Errorf("GET job %s: %d, want 404", id, res.Status)
			}
		}
	})
}
