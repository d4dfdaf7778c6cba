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

// TestEveryChangeWritesOneEvent makes each kind of token and account change through the
// service and checks that it wrote exactly one outbox event, of the documented shape
// (reference §13), and a delivery to the webhook whose patterns match it only.
func TestEveryChangeWritesOneEvent(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		ctx := context.Background()
		db := storetest.Open(t, engine)
		clock := testkit.NewClock()
		s := tokenward.NewService(tokenward.Config{Store: db, Now: clock.Now})
		op := tokenward.NewOperator(s)
		admin, err := op.CreateUser(ctx, "admin@example.com", tokenward.NewPermissionSet(tokenward.AllPermissions...), "")
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		adminSecret, _, err := op.GenerateToken(ctx, admin.Identifier, "admin")
		if err != nil {
			t.Fatalf("GenerateToken: %v", err)
		}
		p, err := s.Authenticate(ctx, adminSecret.Reveal())
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		hook, _, err := s.CreateWebhook(ctx, p, tokenward.Webhook{URL: "https://hooks.example.com/x", Events: []string{"token.*"}, Active: true})
		if err != nil {
			t.Fatalf("CreateWebhook: %v", err)
		}
		var secret, replaced tokenward.Secret
		var tokenID string
		perms := tokenward.NewPermissionSet(tokenward.Ingestion)
		steps := []struct {
			name, want, actor, account, accountType, tokenName string
			change                                             func() error
			detail                                             string // the detail's JSON
		}{
			{"create service account", tokenward.EventAccountCreated, "admin@example.com", "sa::ci", "SERVICE_ACCOUNT", "", func() error {
				_, err := s.CreateServiceAccount(ctx, p, tokenward.ServiceAccountWrite{Identifier: "sa::ci"})
				return err
			}, `{"permissions":[]}`},
			{"generate", tokenward.EventTokenGenerated, "admin@example.com", "sa::ci", "SERVICE_ACCOUNT", "deploy", func() error {
				var tokens []tokenward.Token
				secret, tokens, err = s.GenerateServiceAccountToken(ctx, p, "sa::ci", "deploy", tokenward.Lifetime{})
				tokenID = tokens[len(tokens)-1].ID
				return err
			}, `{}`},
			{"rename", tokenward.EventTokenRenamed, "operator", "sa::ci", "SERVICE_ACCOUNT", "deploy-2", func() error {
				_, err := op.RenameToken(ctx, tokenID, "deploy-2")
				return err
			}, `{}`},
			{"rotate", tokenward.EventTokenRotated, "operator", "sa::ci", "SERVICE_ACCOUNT", "deploy-2", func() error {
				var err error
				replaced = secret
				secret, _, err = op.RotateToken(ctx, tokenID, tokenward.Rotation{Grace: time.Second})
				return err
			}, `{"gracePeriodEndsAt":AT+1s}`},
			{"reuse of the replaced secret", tokenward.EventTokenReused, "", "sa::ci", "SERVICE_ACCOUNT", "deploy-2", func() error {
				// A second after the rotation: its grace period is over.
				if _, err := s.Authenticate(ctx, replaced.Reveal()); err == nil {
					t.Errorf("the replaced secret still works after its grace period")
				}
				return nil
			}, `{}`},
			{"permissions", tokenward.EventAccountPermissionsChanged, "admin@example.com", "sa::ci", "SERVICE_ACCOUNT", "", func() error {
				_, err := s.UpdateServiceAccount(ctx, p, "sa::ci", tokenward.ServiceAccountWrite{Identifier: "sa::ci", Permissions: &perms})
				return err
			}, `{"granted":["ingestion"],"revoked":[]}`},
			{"leak", tokenward.EventTokenLeaked, "", "sa::ci", "SERVICE_ACCOUNT", "deploy-2", func() error {
				_, err := s.RevokeLeaked(ctx, []string{secret.Reveal()}, "a public gist", "192.0.2.1")
				return err
			}, `{"source":"a public gist"}`},
			{"revoke", tokenward.EventTokenRevoked, "operator", "sa::ci", "SERVICE_ACCOUNT", "second", func() error {
				_, tok, err := op.GenerateToken(ctx, "sa::ci", "second")
				if err != nil {
					return err
				}
				tokenID = tok.ID
				_, err = op.RevokeToken(ctx, tok.ID)
				return err
			}, `{}`},
			{"delete account", tokenward.EventAccountDeleted, "operator", "sa::ci", "SERVICE_ACCOUNT", "", func() error {
				_, err := op.DeleteAccount(ctx, "sa::ci")
				return err
			}, `{"tokensRevoked":0}`},
		}
		seen := len(mustEvents(t, db))
		for _, step := range steps {
			clock.Advance(time.Second)
			at := clock.Now()
			if err := step.change(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			events := mustEvents(t, db)
			if step.name == "revoke" { // its generate wrote one event too
				seen++
			}
			if got := len(events) - seen; got != 1 {
				t.Fatalf("%s: %d new events, want 1", step.name, got)
			}
			seen = len(events)
			detail := strings.ReplaceAll(step.detail, "AT+1s", jsonMillis(at.Add(time.Second)))
			checkEvent(t, step.name, events[len(events)-1], step.want, step.actor, step.account, step.accountType, step.tokenName, tokenID, detail, at)
		}
		deliveries, err := s.WebhookDeliveries(ctx, p, hook.ID, 0, 100)
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

func checkEvent(t *testing.T, step string, raw json.RawMessage, typ, actor, account, accountType, tokenName, tokenID, detail string, at time.Time) {
	t.Helper()
	var e eventShape
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%s: event %s: %v", step, raw, err)
	}
	if got, want := keysOf(e), []string{"account", "actor", "detail", "id", "occurredAt", "token", "type"}; !slices.Equal(got, want) {
		t.Errorf("%s: event keys %v, want %v", step, got, want)
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
