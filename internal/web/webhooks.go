package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tokenward/tokenward"
)

// Webhooks in the console (reference §13): the list with the create form, and each
// webhook's page: its settings, its delivery log with Redeliver, and Delete.

// webhookListData is the Webhooks page.
type webhookListData struct {
	Webhooks []tokenward.Webhook
	Types    []string    // the event types a webhook may name
	Form     webhookForm // what a refused create form held
}

// webhookForm is what a person typed in a webhook form, shown again when it is refused.
type webhookForm struct {
	URL    string
	Events string // patterns, one per line or separated by commas or spaces
	Active bool
}

// webhookData is one webhook's page.
type webhookData struct {
	Webhook    tokenward.Webhook
	Form       webhookForm
	Types      []string
	Deliveries tokenward.Page[tokenward.Delivery]
}

func webhookPath(id string) string { return "/console/accounts/webhooks/" + url.PathEscape(id) }

// formWebhook reads a webhook form: url, events (patterns separated by newlines, commas
// or spaces) and the active checkbox.
func formWebhook(r *http.Request) webhookForm {
	return webhookForm{URL: strings.TrimSpace(r.PostFormValue("url")), Events: r.PostFormValue("events"),
		Active: r.PostFormValue("active") != ""}
}

func (f webhookForm) patterns() []string {
	return strings.FieldsFunc(f.Events, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (c *Console) webhookListView(r *http.Request, p tokenward.Principal) (view, error) {
	hooks, err := c.service.Webhooks(r.Context(), p)
	if err != nil {
		return view{}, err
	}
	return view{Title: "Webhooks", Nav: "webhooks", Data: &webhookListData{Webhooks: hooks, Types: tokenward.EventTypes,
		Form: webhookForm{Events: "token.*", Active: true}}}, nil
}

func (c *Console) webhookView(r *http.Request, p tokenward.Principal) (view, error) {
	hook, err := c.service.Webhook(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return view{}, err
	}
	deliveries, err := c.service.WebhookDeliveries(r.Context(), p, hook.ID, 0, 50)
	if err != nil {
		return view{}, err
	}
	return view{Title: "Webhook " + hook.URL, Nav: "webhooks", Data: &webhookData{Webhook: hook, Types: tokenward.EventTypes,
		Form: webhookForm{URL: hook.URL, Events: strings.Join(hook.Events, "\n"), Active: hook.Active}, Deliveries: deliveries}}, nil
}

func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "webhooks", func() (view, error) { return c.webhookListView(r, p) })
}

func (c *Console) webhook(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "webhook", func() (view, error) { return c.webhookView(r, p) })
}

// createWebhook creates the posted webhook and shows its signing secret once, on its page.
func (c *Console) createWebhook(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	form := formWebhook(r)
	back := func() (view, error) {
		v, err := c.webhookListView(r, p)
		if err == nil {
			v.Data.(*webhookListData).Form = form
		}
		return v, err
	}
	hook, secret, err := c.service.CreateWebhook(r.Context(), p, tokenward.Webhook{URL: form.URL, Events: form.patterns(), Active: form.Active})
	if err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, webhookPath(hook.ID), flash{Notice: "Webhook created.",
		Secret: &revealedToken{Secret: secret, Name: hook.URL, Kind: "webhook"}})
}

func (c *Console) updateWebhook(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	form := formWebhook(r)
	back := func() (view, error) {
		v, err := c.webhookView(r, p)
		if err == nil {
			v.Data.(*webhookData).Form = form
		}
		return v, err
	}
	patterns := form.patterns()
	hook, err := c.service.UpdateWebhook(r.Context(), p, r.PathValue("id"),
		tokenward.WebhookChange{URL: &form.URL, Events: &patterns, Active: &form.Active})
	if err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, webhookPath(hook.ID), flash{Notice: "Webhook saved."})
}

func (c *Console) deleteWebhook(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := c.service.DeleteWebhook(r.Context(), p, r.PathValue("id")); err != nil {
		return onPage(err, func() (view, error) { return c.webhookView(r, p) })
	}
	return c.redirect(w, r, "/console/accounts/webhooks", flash{Notice: "Webhook deleted, with its delivery log."})
}

func (c *Console) redeliver(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	back := func() (view, error) { return c.webhookView(r, p) }
	id, err := strconv.ParseInt(r.PathValue("d"), 10, 64)
	if err != nil {
		return onPage(tokenward.Errorf(tokenward.ENotFound, "no such delivery"), back)
	}
	if err := c.service.Redeliver(r.Context(), p, r.PathValue("id"), id); err != nil {
		return onPage(err, back)
	}
	return c.redirect(w, r, webhookPath(r.PathValue("id")), flash{Notice: "Delivery " + strconv.FormatInt(id, 10) + " will be sent again in a moment."})
}
