package tokenward

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Events (reference §13): notices of token and account changes for people and their
// systems, delivered to webhooks. An event is written to the outbox in the transaction of
// the change it tells of, as the notice of that change's audit event (AuditEvent.Notice),
// so a committed change always has its event and a rolled-back one never does.

// Event types. The expiry, idle and network ones are emitted by the sweeps and checks that
// detect them; attach them with NotifyToken like the others.
const (
	EventTokenGenerated            = "token.generated"
	EventTokenRenamed              = "token.renamed"
	EventTokenRotated              = "token.rotated"
	EventTokenRevoked              = "token.revoked"
	EventTokenExpiring             = "token.expiring" // Detail{"daysLeft": 30, 7 or 1}
	EventTokenExpired              = "token.expired"
	EventTokenIdleDisabled         = "token.idle_disabled"
	EventTokenReused               = "token.reused_after_rotation"
	EventTokenLeaked               = "token.leaked"
	EventTokenOutsideNetworks      = "token.used_outside_allowed_networks"
	EventAccountCreated            = "account.created"
	EventAccountDeleted            = "account.deleted"
	EventAccountPermissionsChanged = "account.permissions_changed"
)

// EventTypes lists every event type, in the order the reference lists them: what a
// webhook's patterns may name.
var EventTypes = []string{EventTokenGenerated, EventTokenRenamed, EventTokenRotated, EventTokenRevoked,
	EventTokenExpiring, EventTokenExpired, EventTokenIdleDisabled, EventTokenReused, EventTokenLeaked,
	EventTokenOutsideNetworks, EventAccountCreated, EventAccountDeleted, EventAccountPermissionsChanged}

// Detail is an event's type-specific detail, a JSON object.
type Detail map[string]any

// Event is one notice. The store completes Token and Account from the rows the change
// left, inside its transaction, so that every event shows the token and account as they
// are after the change, whichever write path made it.
type Event struct {
	ID         string // evt_ and 32 hex digits; the webhook-id of every delivery of it
	Type       string
	OccurredAt time.Time
	Actor      string        // the account that acted; "" for none (a leak report, a sweep)
	Token      *EventToken   // nil for an account event
	Account    *EventAccount // the account the event concerns (a token's owner)
	Detail     Detail
}

// EventToken is a token as an event shows it: never its secret.
type EventToken struct {
	ID, Name, Account string
	AccountType       AccountType
	Expires           time.Time // zero: never
}

// EventAccount is an account as an event shows it.
type EventAccount struct {
	ID          string
	AccountType AccountType
}

// NewEventID returns a new random event identifier.
func NewEventID() string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return "evt_" + hex.EncodeToString(b[:])
}

// NotifyToken returns e with a notice of type typ about the token with that public id: the
// one line that makes an audit event also an event for webhooks.
func (e AuditEvent) NotifyToken(typ, tokenID string, detail Detail) AuditEvent {
	e.Notice = e.notice(typ, detail)
	e.Notice.Token = &EventToken{ID: tokenID}
	return e
}

// NotifyAccount returns e with a notice of type typ about the account with that identifier.
func (e AuditEvent) NotifyAccount(typ, identifier string, detail Detail) AuditEvent {
	e.Notice = e.notice(typ, detail)
	e.Notice.Account = &EventAccount{ID: identifier}
	return e
}

func (e AuditEvent) notice(typ string, detail Detail) *Event {
	if detail == nil {
		detail = Detail{}
	}
	return &Event{ID: NewEventID(), Type: typ, OccurredAt: e.At, Actor: e.Actor, Detail: detail}
}

// eventJSON is the documented shape of an event: every key always present.
type eventJSON struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	OccurredAt int64             `json:"occurredAt"`
	Actor      *string           `json:"actor"`
	Token      *eventTokenJSON   `json:"token"`
	Account    *eventAccountJSON `json:"account"`
	Detail     Detail            `json:"detail"`
}

type eventTokenJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Account     string `json:"account"`
	AccountType string `json:"accountType"`
	ExpiresAt   *int64 `json:"expiresAt"`
}

type eventAccountJSON struct {
	ID          string `json:"id"`
	AccountType string `json:"accountType"`
}

// MarshalJSON writes the event as reference §13 documents it: times in epoch
// milliseconds, expiresAt and a missing actor as null, detail always an object.
func (e Event) MarshalJSON() ([]byte, error) {
	out := eventJSON{ID: e.ID, Type: e.Type, OccurredAt: e.OccurredAt.UnixMilli(), Detail: e.Detail}
	if out.Detail == nil {
		out.Detail = Detail{}
	}
	if e.Actor != "" {
		out.Actor = &e.Actor
	}
	if t := e.Token; t != nil {
		out.Token = &eventTokenJSON{ID: t.ID, Name: t.Name, Account: t.Account, AccountType: string(t.AccountType)}
		if !t.Expires.IsZero() {
			ms := t.Expires.UnixMilli()
			out.Token.ExpiresAt = &ms
		}
	}
	if a := e.Account; a != nil {
		out.Account = &eventAccountJSON{ID: a.ID, AccountType: string(a.AccountType)}
	}
	return json.Marshal(out)
}
