package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

type webhookJSON struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	Active bool     `json:"active"`
	Secret *string  `json:"secret"`
}

// TestWebhookValidation sends bad webhooks: each gets a 400 whose message names the
// problem, and none is stored.
func TestWebhookValidation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement)
		tests := []struct{ name, body, want string }{
			{"no url", `{"events":["token.*"]}`, "url is required"},
			{"ftp url", `{"url":"ftp://example.com/x","events":["token.*"]}`, "http or https"},
			{"relative url", `{"url":"/hook","events":["token.*"]}`, "http or https"},
			{"credentials in url", `{"url":"https://u:p@example.com/","events":["token.*"]}`, "user name or password"},
			{"no events", `{"url":"https://example.com/","events":[]}`, "at least one"},
			{"unknown type", `{"url":"https://example.com/","events":["token.exploded"]}`, `"token.exploded"`},
			{"unknown prefix", `{"url":"https://example.com/","events":["user.*"]}`, `"user.*"`},
			{"bare star", `{"url":"https://example.com/","events":["*"]}`, `"*"`},
			{"events not a list", `{"url":"https://example.com/","events":"token.*"}`, "events"},
			{"not JSON", `{"url":`, "JSON"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res := e.do("POST", "/api/v2/webhook", tc.body, bearer(admin))
				_, msg, _ := res.container(t)
				if res.Status != 400 || !strings.Contains(msg, tc.want) {
					t.Errorf("status %d, message %q; want 400 naming %s", res.Status, msg, tc.want)
				}
			})
		}
		res := e.do("GET", "/api/v2/webhook", "", bearer(admin))
		var page struct{ Items []webhookJSON }
		_, _, payload := res.container(t)
		if err := json.Unmarshal(payload, &page); err != nil || len(page.Items) != 0 {
			t.Errorf("webhooks after bad requests: %s (%v), want none", payload, err)
		}
	})
}

// TestWebhookLifecycle creates, reads, changes and deletes a webhook through the API: the
// secret is in the creation's answer only, an update keeps what it does not name, and a
// deleted webhook is gone.
func TestWebhookLifecycle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		e := newEnv(t, engine)
		admin := e.user("admin@example.com", tokenward.UserManagement)
		decode := func(res response) webhookJSON {
			t.Helper()
			_, msg, payload := res.container(t)
			var w webhookJSON
			if res.Status != 200 || json.Unmarshal(payload, &w) != nil {
				t.Fatalf("status %d (%s), payload %s", res.Status, msg, payload)
			}
			return w
		}
		created := decode(e.do("POST", "/api/v2/webhook", `{"url":"https://hooks.example.com/a","events":["token.*","account.deleted","token.*"]}`, bearer(admin)))
		if created.Secret == nil || !strings.HasPrefix(*created.Secret, "whsec_") || len(*created.Secret) < len("whsec_")+32 {
			t.Fatalf("creation's secret %v, want whsec_ and the base64 of 24 bytes", created.Secret)
		}
		e.remember(*created.Secret)
		if !created.Active || strings.Join(created.Events, ",") != "token.*,account.deleted" {
			t.Errorf("created %+v, want active with the patterns deduplicated", created)
		}
		got := decode(e.do("GET", "/api/v2/webhook/"+created.ID, "", bearer(admin)))
		if got.Secret != nil || got.URL != created.URL {
			t.Errorf("GET = %+v, want the webhook without its secret", got)
		}
		updated := decode(e.do("PUT", "/api/v2/webhook/"+created.ID, `{"active":false}`, bearer(admin)))
		if updated.Active || updated.URL != created.URL || strings.Join(updated.Events, ",") != "token.*,account.deleted" || updated.Secret != nil {
			t.Errorf("after PUT {active:false}: %+v, want inactive, the rest unchanged, no secret", updated)
		}
		res := e.do("PUT", "/api/v2/webhook/"+created.ID, `{"events":["token.bogus"]}`, bearer(admin))
		if _, msg, _ := res.container(t); res.Status != 400 || !strings.Contains(msg, "token.bogus") {
			t.Errorf("PUT with a bad pattern: %d %q, want 400 naming it", res.Status, msg)
		}
		if got := decode(e.do("GET", "/api/v2/webhook/"+created.ID, "", bearer(admin))); strings.Join(got.Events, ",") != "token.*,account.deleted" {
			t.Errorf("a refused PUT changed the webhook: %+v", got)
		}
		decode(e.do("DELETE", "/api/v2/webhook/"+created.ID, "", bearer(admin)))
		for _, req := range [][2]string{{"GET", ""}, {"PUT", `{"active":true}`}, {"DELETE", ""}, {"GET", "/deliveries"}, {"POST", "/deliveries/1/redeliver"}} {
			method, path, body := req[0], "/api/v2/webhook/"+created.ID, req[1]
			if strings.HasPrefix(body, "/") {
				path, body = path+body, ""
			}
			if res := e.do(method, path, body, bearer(admin)); res.Status != 404 {
				t.Errorf("%s %s of a deleted webhook: %d, want 404", method, path, res.Status)
			}
		}
	})
}
