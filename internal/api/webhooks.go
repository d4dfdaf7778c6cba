package api

import (
	"net/http"
	"strconv"

	"github.com/tokenward/tokenward"
)

// Webhooks (reference §13, ours): where events go, and each one's delivery log.

// webhookJSON is a webhook as the API shows it; secret only in the answer that created it.
type webhookJSON struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Active    bool     `json:"active"`
	CreatedAt int64    `json:"createdAt"`
	UpdatedAt int64    `json:"updatedAt"`
	Secret    string   `json:"secret,omitempty"`
}

func toWebhook(w tokenward.Webhook) webhookJSON {
	return webhookJSON{ID: w.ID, URL: w.URL, Events: w.Events, Active: w.Active,
		CreatedAt: w.Created.UnixMilli(), UpdatedAt: w.Updated.UnixMilli()}
}

// webhookBody is a create or update request; absent fields of an update stay as they are.
type webhookBody struct {
	URL    *string   `json:"url"`
	Events *[]string `json:"events"`
	Active *bool     `json:"active"`
}

type deliveryJSON struct {
	ID            int64         `json:"id"`
	EventID       string        `json:"eventId"`
	EventType     string        `json:"eventType"`
	State         string        `json:"state"`
	NextAttemptAt *int64        `json:"nextAttemptAt"`
	CreatedAt     int64         `json:"createdAt"`
	Attempts      []attemptJSON `json:"attempts"`
}

type attemptJSON struct {
	At         int64  `json:"at"`
	StatusCode int    `json:"statusCode"`
	Error      string `json:"error"`
	Excerpt    string `json:"excerpt"`
	DurationMs int64  `json:"durationMs"`
}

func toDelivery(d tokenward.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventID: d.EventID, EventType: d.EventType, State: d.State,
		CreatedAt: d.Created.UnixMilli(), Attempts: []attemptJSON{}}
	if !d.NextAttempt.IsZero() {
		ms := d.NextAttempt.UnixMilli()
		out.NextAttemptAt = &ms
	}
	for _, a := range d.Attempts {
		out.Attempts = append(out.Attempts, attemptJSON{At: a.At.UnixMilli(), StatusCode: a.Status, Error: a.Error,
			Excerpt: a.Excerpt, DurationMs: a.Duration.Milliseconds()})
	}
	return out
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	hooks, err := s.service.Webhooks(r.Context(), p)
	if err != nil {
		return err
	}
	items := make([]webhookJSON, len(hooks))
	for i, h := range hooks {
		items[i] = toWebhook(h)
	}
	writeOK(w, paged[webhookJSON]{Items: items, Limit: len(items), TotalItems: len(items),
		Sort: tokenward.SearchSort{Field: "createdAt", Ascending: true, Default: true}})
	return nil
}

// createWebhook answers POST /api/v2/webhook with the webhook and its signing secret,
// shown this once. active defaults to true.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var body webhookBody
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	hook := tokenward.Webhook{Active: true}
	if body.URL != nil {
		hook.URL = *body.URL
	}
	if body.Events != nil {
		hook.Events = *body.Events
	}
	if body.Active != nil {
		hook.Active = *body.Active
	}
	created, secret, err := s.service.CreateWebhook(r.Context(), p, hook)
	if err != nil {
		return err
	}
	out := toWebhook(created)
	out.Secret = secret
	writeOK(w, out)
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	hook, err := s.service.Webhook(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeOK(w, toWebhook(hook))
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var body webhookBody
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	hook, err := s.service.UpdateWebhook(r.Context(), p, r.PathValue("id"),
		tokenward.WebhookChange{URL: body.URL, Events: body.Events, Active: body.Active})
	if err != nil {
		return err
	}
	writeOK(w, toWebhook(hook))
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	hook, err := s.service.Webhook(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.service.DeleteWebhook(r.Context(), p, hook.ID); err != nil {
		return err
	}
	writeOK(w, toWebhook(hook))
	return nil
}

// webhookDeliveries answers GET /api/v2/webhook/{id}/deliveries?offset=&limit=, newest first.
func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	page, err := pageQuery(r)
	if err != nil {
		return err
	}
	deliveries, err := s.service.WebhookDeliveries(r.Context(), p, r.PathValue("id"), page.Offset, page.Limit)
	if err != nil {
		return err
	}
	writeOK(w, toPaged(deliveries, toDelivery))
	return nil
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	id, err := strconv.ParseInt(r.PathValue("d"), 10, 64)
	if err != nil {
		return tokenward.Errorf(tokenward.ENotFound, "no such delivery")
	}
	if err := s.service.Redeliver(r.Context(), p, r.PathValue("id"), id); err != nil {
		return err
	}
	writeOK(w, map[string]any{"id": id, "state": tokenward.DeliveryPending})
	return nil
}
