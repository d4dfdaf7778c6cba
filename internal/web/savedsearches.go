package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tokenward/tokenward"
)

type savedSearchItem struct {
	ID, Name, Query string
}

// Link opens the saved search: its view, marked as open.
func (s savedSearchItem) Link() string {
	if s.Query == "" {
		return "/console/accounts/api-tokens?saved=" + url.QueryEscape(s.ID)
	}
	return "/console/accounts/api-tokens?" + s.Query + "&saved=" + url.QueryEscape(s.ID)
}

// Saved searches store {"<name>": "<the view's query string>"}, the shape the API's
// SavedSearch query has.
func savedQuery(name, query string) string {
	b, _ := jsonMarshal(map[string]string{name: query})
	return string(b)
}

func savedNameAndQuery(stored string) (string, string) {
	var m map[string]string
	if jsonUnmarshal([]byte(stored), &m) != nil {
		return "(unreadable)", ""
	}
	for k, v := range m {
		return k, v
	}
	return "(unnamed)", ""
}

func (c *Console) saveSearch(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	table := func() (view, error) { return c.orgTokensView(r, p) }
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		return onPage(tokenward.Errorf(tokenward.EInvalid, "give the search a name to save it"), table)
	}
	query := r.PostFormValue("query")
	s, err := c.service.CreateSavedSearch(r.Context(), p, "TOKEN", savedQuery(name, query))
	if err != nil {
		return onPage(err, table)
	}
	target := "/console/accounts/api-tokens?" + query
	return c.redirect(w, r, target+map[bool]string{true: "", false: "&"}[query == ""]+"saved="+s.ID, flash{Notice: fmt.Sprintf("Search %q saved.", name)})
}

func (c *Console) renameSavedSearch(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	s, err := c.service.SavedSearchOf(r.Context(), p, r.PathValue("id"))
	if err == nil {
		name := strings.TrimSpace(r.PostFormValue("name"))
		if name == "" {
			err = tokenward.Errorf(tokenward.EInvalid, "a saved search needs a name")
		} else {
			_, query := savedNameAndQuery(s.Query)
			_, err = c.service.UpdateSavedSearch(r.Context(), p, s.ID, s.EntityType, savedQuery(name, query))
		}
	}
	if err != nil {
		return onPage(err, func() (view, error) { return c.orgTokensView(r, p) })
	}
	return c.redirect(w, r, back(r), flash{Notice: "Saved search renamed."})
}

func (c *Console) deleteSavedSearch(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	if _, err := c.service.DeleteSavedSearch(r.Context(), p, r.PathValue("id")); err != nil {
		return onPage(err, func() (view, error) { return c.orgTokensView(r, p) })
	}
	return c.redirect(w, r, back(r), flash{Notice: "Saved search deleted."})
}
