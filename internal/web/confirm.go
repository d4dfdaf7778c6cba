package web

import (
	"maps"
	"net/http"
	"net/url"
	"slices"

	"github.com/tokenward/tokenward"
)

// Confirmation of what cannot be undone. A form that revokes or deletes asks first: with
// JavaScript, in a styled <dialog> (console.js); without, its button opens the GET page
// /console/confirm, which asks the same question and holds the real form. The form is
// written for the second case (method get, action /console/confirm, the real target in
// "to") and console.js turns it into a post to the target once the dialog says yes. The
// question comes from the target's route, never from the address, so that a link cannot
// make the page ask something other than what its button does.

// question is what a confirmation asks, and the label of the button that says yes.
type question struct {
	Title, Detail, Button string
	Choice                *choice // asked with the question, when not nil
}

// choice is a field the confirmation asks a value of: the field's posted value selects
// one of its options.
type choice struct {
	Name, Label string
	Options     []confirmField // Name: the label, Value: the value
}

// graceChoice is the grace period a rotation asks (reference §13: at most MaxGracePeriod).
var graceChoice = &choice{Name: "grace", Label: "Previous secret keeps working", Options: []confirmField{
	{"No grace period: stops at once", "0"}, {"1 hour", "1h"}, {"24 hours", "24h"}}}

// confirmTargets are the targets a confirmation page may post to, each with its question,
// matched as the console's own routes are (web.go registers them).
var confirmTargets = func() *http.ServeMux {
	m := http.NewServeMux()
	ask := func(pattern string, q func(r *http.Request) question) { m.Handle(pattern, asker(q)) }
	revoke := func(*http.Request) question {
		return question{"Revoke this token?", "Anything using it will get an authorization error. This cannot be undone.", "Revoke", nil}
	}
	rotate := func(*http.Request) question {
		return question{"Rotate this token?", "It gets a new secret, shown once. Anything using the previous secret gets an authorization error once the grace period ends.", "Rotate", graceChoice}
	}
	ask("POST /console/profile/tokens/{id}/rotate", rotate)
	ask("POST /console/accounts/service-accounts/{id}/tokens/{token}/rotate", rotate)
	ask("POST /console/accounts/api-tokens/rotate", rotate)
	ask("POST /console/profile/tokens/{id}/revoke", revoke)
	ask("POST /console/accounts/service-accounts/{id}/tokens/{token}/revoke", revoke)
	ask("POST /console/accounts/api-tokens/revoke", revoke)
	ask("POST /console/accounts/api-tokens/revoke-selected", func(*http.Request) question {
		return question{"Revoke the selected tokens?", "Anything using them will get an authorization error. This cannot be undone.", "Revoke", nil}
	})
	revokeAll := func(r *http.Request) question {
		return question{"Revoke all tokens of " + r.PathValue("id") + "?", "Anything using them will get an authorization error. This cannot be undone.", "Revoke all tokens", nil}
	}
	ask("POST /console/accounts/service-accounts/{id}/revoke-all", revokeAll)
	ask("POST /console/accounts/users/{id}/revoke-all", revokeAll)
	ask("POST /console/accounts/service-accounts/{id}/delete", func(r *http.Request) question {
		return question{"Delete " + r.PathValue("id") + "?", "All its tokens are revoked. This cannot be undone.", "Delete service account", nil}
	})
	ask("POST /console/accounts/service-accounts/{id}/active", func(r *http.Request) question {
		return question{"Deactivate " + r.PathValue("id") + "?", "Its tokens get an authorization error until it is activated again.", "Deactivate", nil}
	})
	ask("POST /console/accounts/users/{id}/delete", func(r *http.Request) question {
		return question{"Delete " + r.PathValue("id") + "?", "Their tokens are revoked and their sessions end. This cannot be undone.", "Delete user", nil}
	})
	ask("POST /console/accounts/api-tokens/saved/{id}/delete", func(*http.Request) question {
		return question{"Delete this saved search?", "Links to it stop opening it.", "Delete", nil}
	})
	ask("POST /console/accounts/roles/{id}/delete", func(*http.Request) question {
		return question{"Delete this role?", "Every account and group holding it loses its permissions at once. This cannot be undone.", "Delete role", nil}
	})
	ask("POST /console/accounts/groups/{id}/delete", func(*http.Request) question {
		return question{"Delete this group?", "Its members lose the permissions of its roles at once. This cannot be undone.", "Delete group", nil}
	})
	ask("POST /console/accounts/webhooks/{id}/delete", func(*http.Request) question {
		return question{"Delete this webhook?", "Its pending deliveries are dropped with its delivery log. This cannot be undone.", "Delete webhook", nil}
	})
	return m
}()

// asker answers a matched target with its question, through an answer.
type asker func(r *http.Request) question

func (a asker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ans, ok := w.(*answer); ok {
		ans.q, ans.ok = a(r), true
	}
}

// answer is the ResponseWriter confirmTargets is asked through: it keeps the question of
// the route that matched, and discards whatever else (a 404, a redirect) is written.
type answer struct {
	q  question
	ok bool
}

func (*answer) Header() http.Header         { return http.Header{} }
func (*answer) Write(b []byte) (int, error) { return len(b), nil }
func (*answer) WriteHeader(int)             {}

type confirmData struct {
	question
	Action string
	Fields []confirmField
	Back   string
	// Chosen is the value of the question's choice the form came with.
	Chosen string
}

type confirmField struct{ Name, Value string }

// confirmPage asks, for a browser without JavaScript, before a form that cannot be undone
// is posted: the form's button leads here with its fields, and this page's button posts
// them to the target.
func (c *Console) confirmPage(w http.ResponseWriter, r *http.Request, _ tokenward.Principal) error {
	q := r.URL.Query()
	to, err := url.Parse(q.Get("to"))
	if err != nil || to.Scheme != "" || to.Host != "" || to.RawQuery != "" || to.Fragment != "" {
		return errNoPage
	}
	ans := &answer{}
	confirmTargets.ServeHTTP(ans, &http.Request{Method: http.MethodPost, URL: &url.URL{Path: to.Path}, Host: r.Host, Header: http.Header{}})
	if !ans.ok {
		return errNoPage
	}
	d := confirmData{question: ans.q, Action: to.Path, Back: "/console/"}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if name == "to" {
			continue
		}
		if d.Choice != nil && name == d.Choice.Name {
			d.Chosen = q.Get(name)
			continue
		}
		for _, v := range q[name] {
			d.Fields = append(d.Fields, confirmField{name, v})
		}
	}
	if ret := q.Get("return"); ret != "" {
		d.Back = backTo(ret)
	} else if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host && hasPrefix(ref.Path, "/console/") {
		d.Back = ref.RequestURI()
	}
	c.render(w, r, http.StatusOK, "confirm", view{Title: d.Title, Data: d})
	return nil
}
