package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// How a console request's failure is shown. Handlers return their error; the route's
// registration (session, public) hands it to fail, the one place that answers it: a
// rule's refusal on the page the person was on when the handler named that page (onPage),
// the error page otherwise.

// errNoPage answers a path the console has no page for.
var errNoPage = tokenward.Errorf(tokenward.ENotFound, "there is no such page")

// pageError is a failure to show on the page the person was on, rebuilt by page.
type pageError struct {
	err  error
	page func() (view, error)
}

func (e *pageError) Error() string { return e.err.Error() }
func (e *pageError) Unwrap() error { return e.err }

// onPage returns err (nil when it is nil) marked to be shown on the page that page
// builds, as it is now, when it is a rule's refusal (a bad name, the cap, a name taken,
// something gone): see fail.
func onPage(err error, page func() (view, error)) error {
	if err == nil {
		return nil
	}
	return &pageError{err: err, page: page}
}

// fail answers a failed request: a refusal marked onPage re-renders that page with the
// message and the refusal's status; everything else gets the error page, in words a
// person understands.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *pageError
	if errors.As(err, &pe) {
		err = pe.err
		if c.failOnPage(w, r, err, pe.page) {
			return
		}
	}
	status := edge.Status(err)
	msg := tokenward.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		c.logger.Error("console request failed", "route", r.Pattern, "err", err)
		msg = "Something went wrong on our side. Try again in a moment."
	}
	title := map[int]string{400: "That did not work", 403: "Not allowed", 404: "Not found", 409: "Already exists"}[status]
	if title == "" {
		title = "Error"
	}
	c.render(w, r, status, "error", view{Title: title, Error: sentence(msg)})
}

// failOnPage shows a rule's refusal on the page page builds and reports whether it did:
// other failures, and a page that cannot be built, are left to the error page.
func (c *Console) failOnPage(w http.ResponseWriter, r *http.Request, err error, page func() (view, error)) bool {
	code := tokenward.ErrorCode(err)
	if code != tokenward.EInvalid && code != tokenward.EConflict && code != tokenward.ENotFound {
		return false
	}
	v, perr := page()
	if perr != nil {
		return false
	}
	v.Error = sentence(tokenward.ErrorMessage(err))
	v.Notice = ""
	c.render(w, r, edge.Status(err), pageOf(r), v)
	return true
}

// sentence capitalises an API message for display.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:] + map[bool]string{true: "", false: "."}[strings.HasSuffix(s, ".")]
}

// pageOf names the page template a console path renders: an area's list page, or its
// item page when the path names an item ({id}).
func pageOf(r *http.Request) string {
	switch {
	case hasPrefix(r.URL.Path, "/console/profile"):
		return "api-access"
	case hasPrefix(r.URL.Path, "/console/accounts/token-policy"):
		return "token-policy"
	}
	for _, area := range []struct{ prefix, list, item string }{
		{"/console/accounts/service-accounts", "service-accounts", "service-account"},
		{"/console/accounts/users", "users", "user"},
		{"/console/accounts/roles", "roles", "role"},
		{"/console/accounts/groups", "groups", "group"},
		{"/console/accounts/webhooks", "webhooks", "webhook"},
	} {
		switch {
		case hasPrefix(r.URL.Path, area.prefix+"/") && r.PathValue("id") != "":
			return area.item
		case hasPrefix(r.URL.Path, area.prefix):
			return area.list
		}
	}
	return "api-tokens"
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }
