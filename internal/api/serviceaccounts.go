package api

import (
	"encoding/json"
	"net/http"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// serviceAccountJSON is the ServiceAccount object of the reference §5.
type serviceAccountJSON struct {
	Identifier        string                 `json:"identifier"`
	Active            bool                   `json:"active"`
	Description       string                 `json:"description"`
	Groups            []tokenward.Permission `json:"groups"`
	Tokens            []tokenRef             `json:"tokens"`
	UserGroups        []userGroupJSON        `json:"userGroups"`
	Roles             []roleDTO              `json:"roles"`
	UnitedPermissions []tokenward.Permission `json:"unitedPermissions"`
	LastUsed          *int64                 `json:"lastUsed"`
}

// tokenRef is a token as a service account lists it: public id and name.
type tokenRef struct {
	TokenID   string `json:"tokenID"`
	TokenName string `json:"tokenName"`
}

func (x *expander) serviceAccount(a tokenward.Account, tokens []tokenward.Token) (serviceAccountJSON, error) {
	roles, err := x.rolesByID(a.Roles, 1)
	if err != nil {
		return serviceAccountJSON{}, err
	}
	groups, err := x.groupsByID(a.Groups, 1)
	if err != nil {
		return serviceAccountJSON{}, err
	}
	refs := make([]tokenRef, len(tokens))
	for i, t := range tokens {
		refs[i] = tokenRef{TokenID: t.ID, TokenName: t.Name}
	}
	return serviceAccountJSON{Identifier: a.Identifier, Active: a.Active, Description: a.Description, Groups: a.Permissions.List(),
		Tokens: refs, UserGroups: groups, Roles: roles, UnitedPermissions: a.Effective.List(), LastUsed: optionalMillis(a.LastUsed)}, nil
}

// serviceAccountsWithTokens returns service accounts with their tokens, roles and groups.
func (s *Server) serviceAccountsWithTokens(r *http.Request, p tokenward.Principal, accounts []tokenward.Account) ([]serviceAccountJSON, error) {
	tokens, err := s.service.TokensOf(r.Context(), p, accounts)
	if err != nil {
		return nil, err
	}
	x := s.expander(r, p)
	return convertAll(accounts, func(a tokenward.Account) (serviceAccountJSON, error) { return x.serviceAccount(a, tokens[a.ID]) })
}

func (s *Server) writeServiceAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal, a tokenward.Account) error {
	out, err := s.serviceAccountsWithTokens(r, p, []tokenward.Account{a})
	if err != nil {
		return err
	}
	writeOK(w, out[0])
	return nil
}

// serviceAccountWrite is the ServiceAccountWrite body. Pointers tell an absent key (leave
// the field) from a present one; "tokens" and legacy keys such as "ingestionPolicyId" are
// accepted and ignored.
type serviceAccountWrite struct {
	Identifier  string          `json:"identifier"`
	Active      *bool           `json:"active"`
	Description *string         `json:"description"`
	Groups      *[]string       `json:"groups"`
	Roles       *idList         `json:"roles"`
	UserGroups  *idList         `json:"userGroups"`
	Tokens      json.RawMessage `json:"tokens"`
}

// decodeServiceAccountWrite reads a ServiceAccountWrite body.
func decodeServiceAccountWrite(w http.ResponseWriter, r *http.Request) (tokenward.ServiceAccountWrite, error) {
	var body serviceAccountWrite
	if err := decodeBody(w, r, &body, false); err != nil {
		return tokenward.ServiceAccountWrite{}, err
	}
	return body.toWrite()
}

func (b serviceAccountWrite) toWrite() (tokenward.ServiceAccountWrite, error) {
	w := tokenward.ServiceAccountWrite{Identifier: b.Identifier, Active: b.Active, Description: b.Description,
		Roles: (*[]string)(b.Roles), Groups: (*[]string)(b.UserGroups)}
	if b.Groups != nil {
		perms, err := parsePermissions(*b.Groups)
		if err != nil {
			return w, err
		}
		w.Permissions = &perms
	}
	return w, nil
}

func (s *Server) listServiceAccounts(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	accounts, err := s.service.AllAccounts(r.Context(), p, tokenward.ServiceAccount)
	if err != nil {
		return err
	}
	out, err := s.serviceAccountsWithTokens(r, p, accounts)
	if err != nil {
		return err
	}
	writeOK(w, out)
	return nil
}

func (s *Server) createServiceAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	write, err := decodeServiceAccountWrite(w, r)
	if err != nil {
		return err
	}
	if write.Identifier == "" {
		return tokenward.Errorf(tokenward.EInvalid, "identifier is required")
	}
	a, err := s.service.CreateServiceAccount(r.Context(), p, write)
	if err != nil {
		return err
	}
	return s.writeServiceAccount(w, r, p, a)
}

func (s *Server) getServiceAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	a, err := s.service.AccountFor(r.Context(), p, r.PathValue("id"), tokenward.ServiceAccount)
	if err != nil {
		return err
	}
	return s.writeServiceAccount(w, r, p, a)
}

func (s *Server) updateServiceAccount(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	write, err := decodeServiceAccountWrite(w, r)
	if err != nil {
		return err
	}
	a, err := s.service.UpdateServiceAccount(r.Context(), p, r.PathValue("id"), write)
	if err != nil {
		return err
	}
	return s.writeServiceAccount(w, r, p, a)
}

func (s *Server) setServiceAccountActive(active bool) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		a, err := s.service.SetServiceAccountActive(r.Context(), p, r.PathValue("id"), active)
		if err != nil {
			return err
		}
		return s.writeServiceAccount(w, r, p, a)
	}
}

func (s *Server) searchServiceAccounts(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var req tokenward.SearchRequest
	if err := decodeBody(w, r, &req, true); err != nil {
		return err
	}
	page, err := s.service.SearchAccounts(r.Context(), p, tokenward.ServiceAccount, req)
	if err != nil {
		return err
	}
	items, err := s.serviceAccountsWithTokens(r, p, page.Items)
	if err != nil {
		return err
	}
	out := toPaged(page, func(tokenward.Account) serviceAccountJSON { return serviceAccountJSON{} })
	out.Items = items
	writeOK(w, out)
	return nil
}

// Service-account tokens (reference §4).

func (s *Server) listServiceAccountTokens(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	tokens, err := s.service.ServiceAccountTokens(r.Context(), p, r.PathValue("saId"))
	if err != nil {
		return err
	}
	writeOK(w, s.userTokens(tokens))
	return nil
}

func (s *Server) generateServiceAccountToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	name, life, restrict, err := decodeGenerate(w, r)
	if err != nil {
		return err
	}
	secret, tokens, err := s.service.GenerateServiceAccountToken(r.Context(), p, r.PathValue("saId"), name, life, restrict)
	if err != nil {
		return err
	}
	writeOK(w, s.withSecret(tokens, secret))
	return nil
}

func (s *Server) renameServiceAccountToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	edit, err := decodeEdit(w, r)
	if err != nil {
		return err
	}
	t, err := s.service.EditServiceAccountToken(r.Context(), p, r.PathValue("saId"), r.PathValue("token"), edit)
	if err != nil {
		return err
	}
	writeOK(w, s.userToken(t))
	return nil
}

func (s *Server) revokeServiceAccountToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	tokens, err := s.service.RevokeServiceAccountToken(r.Context(), p, r.PathValue("saId"), r.PathValue("token"))
	if err != nil {
		return err
	}
	writeOK(w, s.userTokens(tokens))
	return nil
}
