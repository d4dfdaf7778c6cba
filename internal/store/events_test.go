package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// eventShape is an outbox event decoded without losing which keys it has.
type eventShape map[string]json.RawMessage

func (e eventShape) str(key string) string {
	var s string
	json.Unmarshal(e[key], &s)
	return s
}

func (e eventShape) object(key string) eventShape {
	var o eventShape
	json.Unmarshal(e[key], &o)
	return o
}

func keysOf(m eventShape) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// eventStep is one change and the event it must write.
type eventStep struct {
	name, want, actor, account, accountType, tokenName string
	change                                             func() error
	detail                                             string // the detail's JSON; AT+1s: a second after the change
}

// eventWorld is a service over a test database with an administrator and a webhook of
// token events, and the token the steps act on.
type eventWorld struct {
	t                *testing.T
	db               *store.DB
	clock            *testkit.Clock
	s                *tokenward.Service
	op               *tokenward.Operator
	admin            tokenward.Principal
	hook             tokenward.Webhook
	secret, replaced tokenward.Secret
	tokenID          string
}

func newEventWorld(t *testing.T, engine store.Engine) *eventWorld {
	ctx := context.Background()
	w := &eventWorld{t: t, db: storetest.Open(t, engine), clock: testkit.NewClock()}
	w.s = tokenward.NewService(tokenward.Config{Store: w.db, Now: w.clock.Now})
	w.op = tokenward.NewOperator(w.s)
	admin, err := w.op.CreateUser(ctx, "admin@example.com", tokenward.NewPermissionSet(tokenward.AllPermissions...), "")
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	secret, _, err := w.op.GenerateToken(ctx, admin.Identifier, "admin")
	if err != nil {
		t.Fatalf("GenerateToken: %v", err)
	}
	if w.admin, err = w.s.Authenticate(ctx, secret.Reveal()); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	w.hook, _, err = w.s.CreateWebhook(ctx, w.admin, tokenward.Webhook{URL: "https://hooks.example.com/x", Events: []string{"token.*"}, Active: true})
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	return w
}

// steps are the changes of TestEveryChangeWritesOneEvent, in order: each acts on what the
// ones before it made.
func (w *eventWorld) steps() []eventStep {
	ctx, s, op, p := context.Background(), w.s, w.op, w.admin
	const sa, saType, admin = "sa::ci", "SERVICE_ACCOUNT", "admin@example.com"
	perms := tokenward.NewPermissionSet(tokenward.Ingestion)
	return []eventStep{
		{"create service account", tokenward.EventAccountCreated, admin, sa, saType, "", func() error {
			_, err := s.CreateServiceAccount(ctx, p, tokenward.ServiceAccountWrite{Identifier: sa})
			return err
		}, `{"permissions":[]}`},
		{"generate", tokenward.EventTokenGenerated, admin, sa, saType, "deploy", func() error {
			secret, tokens, err := s.GenerateServiceAccountToken(ctx, p, sa, "deploy", tokenward.Lifetime{}, tokenward.Restrictions{})
			if err == nil {
				w.secret, w.tokenID = secret, tokens[len(tokens)-1].ID
			}
			return err
		}, `{}`},
		{"rename", tokenward.EventTokenRenamed, "operator", sa, saType, "deploy-2", func() error {
			_, err := op.RenameToken(ctx, w.tokenID, "deploy-2")
			return err
		}, `{}`},
		{"rotate", tokenward.EventTokenRotated, "operator", sa, saType, "deploy-2", func() error {
			var err error
			w.replaced = w.secret
			w.secret, _, err = op.RotateToken(ctx, w.tokenID, tokenward.Rotation{Grace: time.Second})
			return err
		}, `{"gracePeriodEndsAt":AT+1s}`},
		{"reuse of the replaced secret", tokenward.EventTokenReused, "", sa, saType, "deploy-2", func() error {
			// A second after the rotation: its grace period is over.
			if _, err := s.Authenticate(ctx, w.replaced.Reveal()); err == nil {
				w.t.Errorf("the replaced secret still works after its grace period")
			}
			s.WaitReports() // the reuse is recorded in the background, after the 401
			return nil
		}, `{}`},
		{"permissions", tokenward.EventAccountPermissionsChanged, admin, sa, saType, "", func() error {
			_, err := s.UpdateServiceAccount(ctx, p, sa, tokenward.ServiceAccountWrite{Identifier: sa, Permissions: &perms})
			return err
		}, `{"granted":["ingestion"],"revoked":[]}`},
		{"leak", tokenward.EventTokenLeaked, "", sa, saType, "deploy-2", func() error {
			_, err := s.RevokeLeaked(ctx, []string{w.secret.Reveal()}, "a public gist", "192.0.2.1")
			return err
		}, `{"source":"a public gist"}`},
		{"revoke", tokenward.EventTokenRevoked, "operator", sa, saType, "second", func() error {
			_, tok, err := op.GenerateToken(ctx, sa, "second")
			if err != nil {
				return err
			}
			w.tokenID = tok.ID
			_, err = op.RevokeToken(ctx, tok.ID)
			return err
		}, `{}`},
		{"delete account", tokenward.EventAccountDeleted, "operator", sa, saType, "", func() error {
			_, err := op.DeleteAccount(ctx, sa)
			return err
		}, `{"tokensRevoked":0}`},
	}
}

// TestEveryChangeWritesOneEvent makes each kind of token and account change through the
// service and checks that it wrote exactly one outbox event, of the documented shape
// (reference §13), and a delivery to the webhook whose patterns match it only.
func TestEveryChangeWritesOneEvent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		w := newEventWorld(t, engine)
		seen := len(mustEvents(t, w.db))
		for _, step := range w.steps() {
			w.clock.Advance(time.Second)
			at := w.clock.Now()
			if err := step.change(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			events := mustEvents(t, w.db)
			if step.name == "revoke" { // its generate wrote one event too
				seen++
			}
			if got := len(events) - seen; got != 1 {
				t.Fatalf("%s: %d new events, want 1", step.name, got)
			}
			seen = len(events)
			step.detail = strings.ReplaceAll(step.detail, "AT+1s", jsonMillis(at.Add(time.Second)))
			checkEvent(t, step, events[len(events)-1], w.tokenID, at)
		}
		deliveries, err := w.s.WebhookDeliveries(context.Background(), w.admin, w.hook.ID, 0, 100)
		if err != nil {
			t.Fatalf("WebhookDeliveries: %v", err)
		}
		var types []string
		for _, d := range deliveries.Items {
			types = append(types, d.EventType)
		}
		want := []string{"token.revoked", "token.generated", "token.leaked", "token.reused_after_rotation", "token.rotated", "token.renamed", "token.generated"}
		if !slices.Equal(types, want) {
			t.Errorf("deliveries to a token.* webhook, newest first: %v, want %v", types, want)
		}
	})
}

func jsonMillis(t time.Time) string {
	b, _ := json.Marshal(t.UnixMilli())
	return string(b)
}

func mustEvents(t *testing.T, db *store.DB) []json.RawMessage {
	t.Helper()
	events, err := db.Events(context.Background(), "")
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	return events
}

func checkEvent(t *testing.T, want eventStep, raw json.RawMessage, tokenID string, at time.Time) {
	t.Helper()
	step, typ, actor, account, accountType, tokenName, detail := want.name, want.want, want.actor, want.account, want.accountType, want.tokenName, want.detail
	var e eventShape
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%s: event %s: %v", step, raw, err)
	}
	if got, wantKeys := keysOf(e), []string{"account", "actor", "detail", "id", "occurredAt", "token", "type"}; !slices.Equal(got, wantKeys) {
		t.Errorf("%s: event keys %v, want %v", step, got, wantKeys)
	}
	if got := e.str("type"); got != typ {
		t.Errorf("%s: type %q, want %q", step, got, typ)
	}
	if id := e.str("id"); len(id) != len("evt_")+32 {
		t.Errorf("%s: id %q, want evt_ and 32 hex digits", step, id)
	}
	if got, want := string(e["occurredAt"]), jsonMillis(at); got != want {
		t.Errorf("%s: occurredAt %s, want %s", step, got, want)
	}
	wantActor := "null"
	if actor != "" {
		wantActor = `"` + actor + `"`
	}
	if got := string(e["actor"]); got != wantActor {
		t.Errorf("%s: actor %s, want %s", step, got, wantActor)
	}
	if got, want := string(e["account"]), `{"id":"`+account+`","accountType":"`+accountType+`"}`; got != want {
		t.Errorf("%s: account %s, want %s", step, got, want)
	}
	if got := string(e["detail"]); got != detail {
		t.Errorf("%s: detail %s, want %s", step, got, detail)
	}
	if tokenName == "" {
		if got := string(e["token"]); got != "null" {
			t.Errorf("%s: token %s, want null", step, got)
		}
		return
	}
	tok := e.object("token")
	if got, want := keysOf(tok), []string{"account", "accountType", "expiresAt", "id", "name"}; !slices.Equal(got, want) {
		t.Errorf("%s: token keys %v, want %v", step, got, want)
	}
	if tok.str("id") != tokenID || tok.str("name") != tokenName || tok.str("account") != account || tok.str("accountType") != accountType {
		t.Errorf("%s: token %s, want id %s, name %s, account %s (%s)", step, e["token"], tokenID, tokenName, account, accountType)
	}
}

// TestLifecycleSweepEvents: the lifecycle sweep's notices are events too, with no actor
// (nobody acted): a token generated for 10 days gets token.expiring with daysLeft 30, 7
// and 1 as the days pass, then token.expired, each once however often the sweep runs.
func TestLifecycleSweepEvents(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		w := newEventWorld(t, engine)
		ctx := context.Background()
		_, tok, err := w.op.GenerateTokenFor(ctx, "admin@example.com", "short", tokenward.Lifetime{In: 10 * 24 * time.Hour}, tokenward.Restrictions{})
		if err != nil {
			t.Fatal(err)
		}
		seen := len(mustEvents(t, w.db))
		var got []string
		for _, hours := range []int{0, 0, 4 * 24, 0, 5*24 + 12, 0, 24} {
			w.clock.Advance(time.Duration(hours) * time.Hour)
			if _, err := w.op.SweepLifecycle(ctx); err != nil {
				t.Fatalf("sweep: %v", err)
			}
			events := mustEvents(t, w.db)
			for _, raw := range events[seen:] {
				var e eventShape
				if err := json.Unmarshal(raw, &e); err != nil {
					t.Fatal(err)
				}
				if string(e["actor"]) != "null" || e.object("token").str("id") != tok.ID {
					t.Errorf("%s: actor %s, token %s; want no actor and token %s", e.str("type"), e["actor"], e["token"], tok.ID)
				}
				got = append(got, e.str("type")+string(e.object("detail")["daysLeft"]))
			}
			seen = len(events)
		}
		if want := []string{"token.expiring30", "token.expiring7", "token.expiring1", "token.expired"}; !slices.Equal(got, want) {
			t.Errorf("events of the sweeps: %v, want %v", got, want)
		}
	})
}
