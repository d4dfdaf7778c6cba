package e2e

import (
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// TestGroupPermissionPropagation runs two instances on one PostgreSQL. A user with no direct
// permission gets token_management only through a group's role, set up on instance A, and
// generates a token on instance B. Then two changes made through A each take it away: taking
// the user out of the group, and revoking token_management from the role. After each, the
// user's next generate request must be refused (403) on A at once and on B within the
// documented propagation bound (reference §11: "same bound as revocation"). The measured
// times are logged.
func TestGroupPermissionPropagation(t *testing.T) {
	dir := t.TempDir()
	dsn := storetest.DSN(t, store.Postgres)
	a, b := binary.Start(t, dir, dsn), binary.Start(t, dir, dsn)
	admin := binary.RunOn(t, dir, dsn, "token", "create", "admin@localhost")
	if status := awaitStatus(t, a.URL+"/api/v2/apitoken", admin, 200); status != 200 {
		t.Fatalf("the administrator's token on A: got HTTP %d, want 200", status)
	}

	const email = "dev@example.com"
	if _, errOut, code := binary.Run(t, dir, "", "user", "create", email, "--db", dsn); code != 0 {
		t.Fatalf("user create %s: exit %d, stderr %q", email, code, errOut)
	}
	// --force: the user holds no token_management yet (the group gives it below); the
	// command line refuses such a token otherwise, as the API does.
	dev := binary.RunOn(t, dir, dsn, "token", "create", email, "--force")
	for name, s := range map[string]*testkit.Server{"A": a, "B": b} {
		if status := awaitStatus(t, s.URL+"/api/v2/apitoken", dev, 200); status != 200 {
			t.Fatalf("the user's token on %s: got HTTP %d, want 200", name, status)
		}
		// The control: without a role the user may not generate.
		if status, c := generateOn(t, s.URL, dev); status != 403 {
			t.Fatalf("generate on %s before any role reaches the user: got HTTP %d %v, want 403", name, status, c)
		}
	}

	roleID := createdID(t, a.URL+"/api/v2/role", admin, `{"name":"token-makers","description":"may generate tokens","permissions":["token_management"]}`)
	groupID := createdID(t, a.URL+"/api/v2/usergroup", admin, `{"name":"token-makers","description":"users who may generate tokens"}`)
	mustOK(t, a.URL+"/api/v2/role/"+roleID+"/addAssignees", admin, `["`+groupID+`"]`)
	addUser := func() {
		t.Helper()
		mustOK(t, a.URL+"/api/v2/usergroup/"+groupID+"/addUsers", admin, `["`+email+`"]`)
		granted := time.Now()
		status, c, lag, _ := awaitGenerate(t, b.URL, dev, 200, granted)
		t.Logf("group membership granted on A: B answered the user's generate request with %d after %v", status, lag.Round(time.Microsecond))
		if status != 200 {
			t.Fatalf("generate on B after A put the user in a group whose role holds token_management: got HTTP %d %v after %v, want 200 within %v",
				status, c, lag.Round(time.Microsecond), PropagationBound)
		}
	}

	addUser()
	mustOK(t, a.URL+"/api/v2/usergroup/"+groupID+"/removeUsers", admin, `["`+email+`"]`)
	refusedEverywhere(t, "user removed from the group", a, b, dev, time.Now())

	addUser()
	mustOK(t, a.URL+"/api/v2/role/revoke/token_management", admin, `["`+roleID+`"]`)
	refusedEverywhere(t, "token_management revoked from the group's role", a, b, dev, time.Now())
}

// refusedEverywhere checks that after change (made through a, answered at changed) the
// holder's generate requests get 403: a's next one at once, b's within PropagationBound.
func refusedEverywhere(t *testing.T, change string, a, b *testkit.Server, secret string, changed time.Time) {
	t.Helper()
	statusA, cA, lagA, triesA := awaitGenerate(t, a.URL, secret, 403, changed)
	switch {
	case statusA != 403:
		t.Errorf("%s on A: generate on A still answers HTTP %d %v after %v, want 403", change, statusA, cA, lagA.Round(time.Microsecond))
	case triesA > 1:
		t.Errorf("%s on A: A accepted %d generate request(s) before refusing (after %v), want its next request refused, as a revocation is on the revoking instance",
			change, triesA-1, lagA.Round(time.Microsecond))
	}
	statusB, cB, lagB, _ := awaitGenerate(t, b.URL, secret, 403, changed)
	t.Logf("%s on A: A answered %d after %v (%d request(s)), B answered %d after %v (bound %v)",
		change, statusA, lagA.Round(time.Microsecond), triesA, statusB, lagB.Round(time.Microsecond), PropagationBound)
	if statusB != 403 {
		t.Errorf("%s on A: generate on B still answers HTTP %d %v after %v, want 403 within %v", change, statusB, cB, lagB.Round(time.Microsecond), PropagationBound)
	}
}

// awaitGenerate repeats generate requests on base until one answers want, for at most
// PropagationBound after since, and returns the last answer, the time from since to it,
// and how many requests were sent.
func awaitGenerate(t *testing.T, base, secret string, want int, since time.Time) (int, map[string]any, time.Duration, int) {
	t.Helper()
	deadline := since.Add(PropagationBound)
	for tries := 1; ; tries++ {
		status, c := generateOn(t, base, secret)
		if status == want || time.Now().After(deadline) {
			return status, c, time.Since(since), tries
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// generateOn sends POST /api/v2/apitoken with secret. A token it generates is revoked at
// once, so that polling never reaches the 20-token cap.
func generateOn(t *testing.T, base, secret string) (int, map[string]any) {
	t.Helper()
	status, c := call(t, "POST", base+"/api/v2/apitoken", secret, "")
	if status == 200 {
		list := testkit.ResponseList(t, c)
		id, _ := list[len(list)-1]["tokenID"].(string)
		if s, rc := call(t, "DELETE", base+"/api/v2/apitoken/"+id, secret, ""); s != 200 {
			t.Fatalf("revoke the token just generated: got HTTP %d %v, want 200", s, rc)
		}
	}
	return status, c
}

// createdID POSTs body to url as token and returns the created object's id.
func createdID(t *testing.T, url, token, body string) string {
	t.Helper()
	status, c := call(t, "POST", url, token, body)
	id := responseField(c, "id")
	if status != 200 || id == "" {
		t.Fatalf("POST %s %s: got HTTP %d %v, want 200 and an object with an id", url, body, status, c)
	}
	return id
}

// mustOK POSTs body to url as token and fails the test unless it answers 200.
func mustOK(t *testing.T, url, token, body string) {
	t.Helper()
	if status, c := call(t, "POST", url, token, body); status != 200 {
		t.Fatalf("POST %s %s: got HTTP %d %v, want 200", url, body, status, c)
	}
}
