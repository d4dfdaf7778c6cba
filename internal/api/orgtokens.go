package api

import (
	"encoding/json"
	"net/http"

	"github.com/tokenward/tokenward"
)

// apiTokenModel is the ApiTokenModel object of the reference §3.
type apiTokenModel struct {
	ID                 string                 `json:"id"`
	Name               string                 `json:"name"`
	Account            string                 `json:"account"`
	AccountType        tokenward.AccountType  `json:"accountType"`
	Customer           string                 `json:"customer"`
	DateGenerated      int64                  `json:"dateGenerated"`
	LastUsed           *int64                 `json:"lastUsed"`
	CreatedEpochMillis int64                  `json:"createdEpochMillis"`
	ExpiresAt          *int64                 `json:"expiresAt"` // ours (§13): null, never
	DisabledReason     *string                `json:"disabledReason"`
	AllowedCidrs       []string               `json:"allowedCidrs"`  // ours (§14): null, anywhere
	Permissions        []tokenward.Permission `json:"permissions"`   // ours (§14): null, all of the account's
	RecentClients      []recentClient         `json:"recentClients"` // ours (§14): newest first, at most 5
}

func (s *Server) toAPITokenModel(t tokenward.Token) apiTokenModel {
	created := t.Created.UnixMilli()
	return apiTokenModel{ID: t.ID, Name: t.Name, Account: t.Account, AccountType: t.AccountType, Customer: s.org,
		DateGenerated: created, LastUsed: optionalMillis(t.LastUsed), CreatedEpochMillis: created, ExpiresAt: optionalMillis(t.Expires),
		DisabledReason: s.disabledReason(t), AllowedCidrs: tokenward.CIDRStrings(t.AllowedNetworks), Permissions: scopeList(t.Permissions),
		RecentClients: recentClientsOf(t)}
}

// listOrgTokens streams every live token of the organization as one plain list (the
// contract has no paging here), so that a million tokens are never held in memory.
func (s *Server) listOrgTokens(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	started := false
	enc := json.NewEncoder(w)
	err := s.service.EachOrgToken(r.Context(), p, func(t tokenward.Token) error {
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"status":{"result":"OK","message":"","code":200},"response":[`))
			started = true
		} else {
			w.Write([]byte(","))
		}
		return enc.Encode(s.toAPITokenModel(t))
	})
	switch {
	case err != nil && !started:
		return err
	case err != nil:
		// Too late for an error status: end the body malformed so that no client takes a
		// truncated list for the whole one.
		s.logger.Error("listing the organization's tokens failed midway", "err", err)
		panic(http.ErrAbortHandler)
	case !started:
		writeOK(w, []apiTokenModel{})
	default:
		w.Write([]byte("]}\n"))
	}
	return nil
}

func (s *Server) getOrgToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	t, err := s.service.OrgToken(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeOK(w, s.toAPITokenModel(t))
	return nil
}

func (s *Server) revokeOrgToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var body struct {
		TokenID string `json:"tokenID"`
	}
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	if body.TokenID == "" {
		return tokenward.Errorf(tokenward.EInvalid, "tokenID is required")
	}
	t, err := s.service.RevokeOrgToken(r.Context(), p, body.TokenID)
	if err != nil {
		return err
	}
	writeOK(w, s.userToken(t))
	return nil
}

func (s *Server) searchTokens(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var req tokenward.SearchRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	page, err := s.service.SearchTokens(r.Context(), p, req)
	if err != nil {
		return err
	}
	writeOK(w, toPaged(page, s.toAPITokenModel))
	return nil
}

func (s *Server) tokenFacet(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var req tokenward.FacetRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	page, err := s.service.TokenFacet(r.Context(), p, r.PathValue("facet"), req)
	if err != nil {
		return err
	}
	writeOK(w, toPaged(page, func(v string) string { return v }))
	return nil
}

func (s *Server) tokenFacets(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var req struct {
		Facets []string `json:"facets"`
		tokenward.FacetRequest
	}
	if err := decodeBody(w, r, &req, false); err != nil {
		return err
	}
	out, limit, err := s.service.TokenFacetsOf(r.Context(), p, req.Facets, req.FacetRequest)
	if err != nil {
		return err
	}
	writeOK(w, map[string]any{"facets": out, "limit": limit})
	return nil
}
