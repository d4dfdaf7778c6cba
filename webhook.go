package tokenward

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhooks (reference §13): where events go. Each event is fanned out, in the transaction
// that writes it, to a delivery per active webhook whose patterns match its type; a
// dispatcher (internal/webhook) sends them, signed per the Standard Webhooks specification.

// WebhookStore is what webhooks need from the database.
type WebhookStore interface {
	// CreateWebhook inserts w with its signing secret.
	CreateWebhook(ctx context.Context, w Webhook, secret string, by AuditEvent) error
	// Webhooks returns every webhook, oldest first.
	Webhooks(ctx context.Context) ([]Webhook, error)
	// WebhookByID returns the webhook with that id, or ENotFound.
	WebhookByID(ctx context.Context, id string) (Webhook, error)
	// UpdateWebhook replaces w's url, patterns and state; ENotFound when it is gone.
	UpdateWebhook(ctx context.Context, w Webhook, by AuditEvent) error
	// DeleteWebhook deletes a webhook with its deliveries; ENotFound when it is gone.
	DeleteWebhook(ctx context.Context, id string, by AuditEvent) error
	// WebhookDeliveries returns a page of a webhook's deliveries, newest first, each with
	// its attempts, oldest first.
	WebhookDeliveries(ctx context.Context, webhookID string, offset, limit int) (Page[Delivery], error)
	// Redeliver makes a webhook's delivery due at by.At for another day of attempts, with
	// the same event (and so the same webhook-id). ENotFound when there is no such delivery.
	Redeliver(ctx context.Context, webhookID string, deliveryID int64, by AuditEvent) error
}

// Webhook is a receiver of events.
type Webhook struct {
	ID      string
	URL     string
	Events  []string // patterns: event types or "prefix.*"
	Active  bool
	Created time.Time
	Updated time.Time
}

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Delivery is one event on its way to one webhook.
type Delivery struct {
	ID          int64
	WebhookID   string
	EventID     string
	EventType   string
	State       string
	NextAttempt time.Time // when pending
	Created     time.Time
	Attempts    []DeliveryAttempt
}

// DeliveryAttempt is one POST of a delivery: its answer's status code (0: none, see Error),
// the start of the answer's body and how long it took.
type DeliveryAttempt struct {
	At       time.Time
	Status   int
	Error    string
	Excerpt  string
	Duration time.Duration
}

// DeliveryClaim is a delivery that one dispatcher holds until its lease ends: what to send,
// where and with which key. Claim counts the delivery's claims, so that a dispatcher whose
// lease ran out cannot record over the one that took the delivery after it.
type DeliveryClaim struct {
	ID         int64
	WebhookID  string
	URL        string
	Secret     string
	EventID    string
	Payload    []byte
	Claim      int
	RetryUntil time.Time
}

// Limits of webhooks.
const (
	MaxWebhookURL      = 2048
	MaxWebhookPatterns = 50
	// DeliveryWindow is how long a delivery is retried before it is failed.
	DeliveryWindow = 24 * time.Hour
)

// Audit actions of webhooks.
const (
	AuditWebhookCreate    = "webhook.create"
	AuditWebhookUpdate    = "webhook.update"
	AuditWebhookDelete    = "webhook.delete"
	AuditWebhookRedeliver = "webhook.redeliver"
)

// WebhookWritten is the audit event of a webhook's creation, change or deletion. It names
// the receiver's host only: a webhook URL often carries a credential in its path.
func WebhookWritten(by AuditEvent, action string, w Webhook) AuditEvent {
	detail := ""
	if u, err := url.Parse(w.URL); err == nil && w.URL != "" {
		detail = "host: " + u.Host
	}
	return by.As(action, "webhook "+w.ID, detail)
}

// NewWebhookSecret returns a new signing secret in the Standard Webhooks format: whsec_
// and the base64 of 24 random bytes.
func NewWebhookSecret() string {
	var b [24]byte
	rand.Read(b[:]) // crypto/rand.Read never fails (it crashes the program instead)
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// NewWebhookID returns a new webhook identifier.
func NewWebhookID() string { return "wh_" + NewEventID()[len("evt_"):] }

// CheckWebhook validates a webhook's URL and patterns and returns it with the patterns
// deduplicated. Errors: EInvalid naming the problem.
func CheckWebhook(w Webhook) (Webhook, error) {
	if w.URL == "" {
		return w, Errorf(EInvalid, "url is required")
	}
	if len(w.URL) > MaxWebhookURL {
		return w, Errorf(EInvalid, "url is longer than %d characters", MaxWebhookURL)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return w, Errorf(EInvalid, "url must be an absolute http or https URL")
	}
	if u.User != nil {
		return w, Errorf(EInvalid, "url must not carry a user name or password")
	}
	if len(w.Events) == 0 {
		return w, Errorf(EInvalid, "events must name at least one event type or pattern such as token.*")
	}
	if len(w.Events) > MaxWebhookPatterns {
		return w, Errorf(EInvalid, "events holds more than %d patterns", MaxWebhookPatterns)
	}
	var patterns []string
	for _, p := range w.Events {
		if !validPattern(p) {
			return w, Errorf(EInvalid, "events: %q is neither an event type (%s) nor a pattern token.* or account.*",
				auditable(p, 64), strings.Join(EventTypes, ", "))
		}
		if !slices.Contains(patterns, p) {
			patterns = append(patterns, p)
		}
	}
	w.Events = patterns
	return w, nil
}

func validPattern(p string) bool {
	if prefix, ok := strings.CutSuffix(p, ".*"); ok {
		return slices.ContainsFunc(EventTypes, func(t string) bool { return strings.HasPrefix(t, prefix+".") })
	}
	return slices.Contains(EventTypes, p)
}

// WebhookMatches reports whether any of patterns (as CheckWebhook accepts them) matches an
// event type.
func WebhookMatches(patterns []string, eventType string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, ".*"); ok && strings.HasPrefix(eventType, prefix+".") || p == eventType {
			return true
		}
	}
	return false
}

// CreateWebhook creates a webhook and returns it with its signing secret, shown this once.
// Errors: EForbidden, EInvalid.
func (s *Service) CreateWebhook(ctx context.Context, p Principal, w Webhook) (Webhook, string, error) {
	if err := RequireAccounts(p); err != nil {
		return Webhook{}, "", err
	}
	w, err := CheckWebhook(w)
	if err != nil {
		return Webhook{}, "", err
	}
	by := s.by(p)
	w.ID, w.Created, w.Updated = NewWebhookID(), by.At, by.At
	secret := NewWebhookSecret()
	if err := s.store.CreateWebhook(ctx, w, secret, WebhookWritten(by, AuditWebhookCreate, w)); err != nil {
		return Webhook{}, "", err
	}
	return w, secret, nil
}

// Webhooks returns every webhook, oldest first. Errors: EForbidden.
func (s *Service) Webhooks(ctx context.Context, p Principal) ([]Webhook, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	return s.store.Webhooks(ctx)
}

// Webhook returns one webhook. Errors: EForbidden, ENotFound.
func (s *Service) Webhook(ctx context.Context, p Principal, id string) (Webhook, error) {
	if err := RequireAccounts(p); err != nil {
		return Webhook{}, err
	}
	return s.store.WebhookByID(ctx, id)
}

// WebhookChange is a change to a webhook; nil fields stay as they are.
type WebhookChange struct {
	URL    *string
	Events *[]string
	Active *bool
}

// UpdateWebhook applies c to a webhook and returns it. Errors: EForbidden, ENotFound,
// EInvalid.
func (s *Service) UpdateWebhook(ctx context.Context, p Principal, id string, c WebhookChange) (Webhook, error) {
	if err := RequireAccounts(p); err != nil {
		return Webhook{}, err
	}
	w, err := s.store.WebhookByID(ctx, id)
	if err != nil {
		return Webhook{}, err
	}
	if c.URL != nil {
		w.URL = *c.URL
	}
	if c.Events != nil {
		w.Events = *c.Events
	}
	if c.Active != nil {
		w.Active = *c.Active
	}
	if w, err = CheckWebhook(w); err != nil {
		return Webhook{}, err
	}
	by := s.by(p)
	w.Updated = by.At
	if err := s.store.UpdateWebhook(ctx, w, WebhookWritten(by, AuditWebhookUpdate, w)); err != nil {
		return Webhook{}, err
	}
	return w, nil
}

// DeleteWebhook deletes a webhook and its delivery log. Errors: EForbidden, ENotFound.
func (s *Service) DeleteWebhook(ctx context.Context, p Principal, id string) error {
	if err := RequireAccounts(p); err != nil {
		return err
	}
	return s.store.DeleteWebhook(ctx, id, WebhookWritten(s.by(p), AuditWebhookDelete, Webhook{ID: id}))
}

// WebhookDeliveries returns a page of a webhook's delivery log, newest first. Errors:
// EForbidden, ENotFound when there is no such webhook.
func (s *Service) WebhookDeliveries(ctx context.Context, p Principal, id string, offset, limit int) (Page[Delivery], error) {
	if err := RequireAccounts(p); err != nil {
		return Page[Delivery]{}, err
	}
	if _, err := s.store.WebhookByID(ctx, id); err != nil {
		return Page[Delivery]{}, err
	}
	req := SearchRequest{Offset: offset, Limit: limit}
	if err := req.Normalize(SearchSpec{DefaultSort: SearchSort{Field: "time"}}); err != nil {
		return Page[Delivery]{}, err
	}
	return s.store.WebhookDeliveries(ctx, id, req.Offset, req.Limit)
}

// Redeliver sends a delivery again, as soon as a dispatcher is free, with the same
// webhook-id. Errors: EForbidden, ENotFound.
func (s *Service) Redeliver(ctx context.Context, p Principal, webhookID string, deliveryID int64) error {
	if err := RequireAccounts(p); err != nil {
		return err
	}
	by := s.by(p)
	return s.store.Redeliver(ctx, webhookID, deliveryID, by.As(AuditWebhookRedeliver, "webhook "+webhookID, "delivery "+strconv.FormatInt(deliveryID, 10)))
}
