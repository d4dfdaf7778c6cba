package api

import (
	"encoding/json"
	"net/http"

	"github.com/tokenward/tokenward"
)

// savedSearchJSON is the SavedSearch object of the reference §8.
type savedSearchJSON struct {
	ID                 string          `json:"id"`
	EntityType         string          `json:"entityType"`
	Query              json.RawMessage `json:"query"`
	UserID             string          `json:"userId"`
	CreatorID          string          `json:"creatorId"`
	UpdaterID          string          `json:"updaterId"`
	CreatedEpochMillis int64           `json:"createdEpochMillis"`
	UpdatedEpochMillis int64           `json:"updatedEpochMillis"`
}

func toSavedSearch(s tokenward.SavedSearch) savedSearchJSON {
	return savedSearchJSON{ID: s.ID, EntityType: s.EntityType, Query: json.RawMessage(s.Query), UserID: s.Owner,
		CreatorID: s.Creator, UpdaterID: s.Updater, CreatedEpochMillis: s.Created.UnixMilli(), UpdatedEpochMillis: s.Updated.UnixMilli()}
}

// savedSearchBody reads a SavedSearch body: entityType, and query, which must be a JSON
// object of strings (a search name to an opaque string) and is kept verbatim.
func savedSearchBody(w http.ResponseWriter, r *http.Request) (string, string, error) {
	var body struct {
		EntityType string          `json:"entityType"`
		Query      json.RawMessage `json:"query"`
	}
	if err := decodeBody(w, r, &body, false); err != nil {
		return "", "", err
	}
	var query map[string]any
	if len(body.Query) == 0 || json.Unmarshal(body.Query, &query) != nil || query == nil {
		return "", "", tokenward.Errorf(tokenward.EInvalid, "query is required: an object from a search name to a string")
	}
	for name, v := range query {
		if _, ok := v.(string); !ok {
			return "", "", tokenward.Errorf(tokenward.EInvalid, "query %q must map to a string", name)
		}
	}
	return body.EntityType, string(body.Query), nil
}

func (s *Server) createSavedSearch(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	entityType, query, err := savedSearchBody(w, r)
	if err != nil {
		return err
	}
	ss, err := s.service.CreateSavedSearch(r.Context(), p, entityType, query)
	if err != nil {
		return err
	}
	writeOK(w, toSavedSearch(ss))
	return nil
}

func (s *Server) getSavedSearch(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	ss, err := s.service.SavedSearchOf(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeOK(w, toSavedSearch(ss))
	return nil
}

func (s *Server) updateSavedSearch(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	entityType, query, err := savedSearchBody(w, r)
	if err != nil {
		return err
	}
	ss, err := s.service.UpdateSavedSearch(r.Context(), p, r.PathValue("id"), entityType, query)
	if err != nil {
		return err
	}
	writeOK(w, toSavedSearch(ss))
	return nil
}

func (s *Server) deleteSavedSearch(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	ss, err := s.service.DeleteSavedSearch(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeOK(w, toSavedSearch(ss))
	return nil
}

func (s *Server) listSavedSearches(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	req, err := pageQuery(r)
	if err != nil {
		return err
	}
	page, err := s.service.SavedSearches(r.Context(), p, r.PathValue("entityType"), req.Offset, req.Limit)
	if err != nil {
		return err
	}
	writeOK(w, toPaged(page, toSavedSearch))
	return nil
}
