package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/tokenward/tokenward"
)

// userAPIToken is the UserApiToken object of the reference §3.
type userAPIToken struct {
	TokenID       string                `json:"tokenID"`
	TokenName     string                `json:"tokenName"`
	Account       string                `json:"account"`
	AccountType   tokenward.AccountType `json:"accountType"`
	DateGenerated int64                 `json:"dateGenerated"`
	LastUsed      *int64                `json:"lastUsed"`
	ExpiresAt     *int64                `json:"expiresAt"` // ours (§13): null, never
	RotatedAt     *int64                `json:"rotatedAt"`
	GraceEnds     *int64                `json:"gracePeriodEndsAt"` // while the previous secret still works
	// DisabledReason is "expired" or "idle" for a listed token that no longer works; null
	// otherwise.
	DisabledReason *string `json:"disabledReason"`
	// AllowedCidrs are the networks it works from (§14); null: anywhere.
	AllowedCidrs []string `json:"allowedCidrs"`
	// Permissions it carries (§14); null: all of the account's.
	Permissions   []tokenward.Permission `json:"permissions"`
	RecentClients []recentClient         `json:"recentClients"` // ours (§14): newest first, at most 5
}

// recentClient is one of a token's recent clients (reference §14).
type recentClient struct {
	Address   string `json:"address"`
	UserAgent string `json:"userAgent"`
	LastSeen  int64  `json:"lastSeen"`
}

// recentClientsOf returns t's recent clients for JSON: an empty list, never null, when it
// has none.
func recentClientsOf(t tokenward.Token) []recentClient {
	out := make([]recentClient, len(t.RecentClients))
	for i, c := range t.RecentClients {
		out[i] = recentClient{Address: c.Address.String(), UserAgent: c.UserAgent, LastSeen: c.LastSeen.UnixMilli()}
	}
	return out
}

// userToken is t as a UserApiToken, its disabledReason as of the service's clock.
func (s *Server) userToken(t tokenward.Token) userAPIToken {
	return userAPIToken{TokenID: t.ID, TokenName: t.Name, Account: t.Account, AccountType: t.AccountType,
		DateGenerated: t.Created.UnixMilli(), LastUsed: optionalMillis(t.LastUsed), ExpiresAt: optionalMillis(t.Expires),
		RotatedAt: optionalMillis(t.Rotated), GraceEnds: optionalMillis(t.GraceEnds), DisabledReason: s.disabledReason(t),
		AllowedCidrs: tokenward.CIDRStrings(t.AllowedNetworks), Permissions: scopeList(t.Permissions),
		RecentClients: recentClientsOf(t)}
}

// scopeList is a token's permissions as the API lists them: null for all of the
// account's, [] for none.
func scopeList(set *tokenward.PermissionSet) []tokenward.Permission {
	if set == nil {
		return nil
	}
	return set.List()
}

func (s *Server) userTokens(ts []tokenward.Token) []userAPIToken {
	out := make([]userAPIToken, len(ts))
	for i, t := range ts {
		out[i] = s.userToken(t)
	}
	return out
}

// withSecret is userTokens with the last token's tokenID replaced by its new secret: the
// one answer that ever shows it.
func (s *Server) withSecret(ts []tokenward.Token, secret tokenward.Secret) []userAPIToken {
	out := s.userTokens(ts)
	out[len(out)-1].TokenID = secret.Reveal()
	return out
}

// disabledReason says why a listed token no longer works (reference §13): "expired" from
// its expiry instant on, "idle" once the idle timeout disabled it; null while it works.
func (s *Server) disabledReason(t tokenward.Token) *string {
	if reason := t.DisabledReason(s.service.Now()); reason != "" {
		return &reason
	}
	return nil
}

// optionalMillis returns t in epoch milliseconds, or nil (JSON null) for the zero time.
func optionalMillis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// tokenNameBody is the optional body of a generate request.
type tokenNameBody struct {
	TokenName        string `json:"tokenName"`
	ExpiresInSeconds *int64 `json:"expiresInSeconds"` // reference §13; absent: the policy's default
	NeverExpires     bool   `json:"neverExpires"`
	// AllowedCidrs and Permissions restrict the token (§14); absent or null: no restriction.
	AllowedCidrs []string `json:"allowedCidrs"`
	Permissions  []string `json:"permissions"`
}

// decodeGenerate reads a generate request's optional body: the name, lifetime and
// restrictions asked.
func decodeGenerate(w http.ResponseWriter, r *http.Request) (string, tokenward.Lifetime, tokenward.Restrictions, error) {
	var body tokenNameBody
	if err := decodeBody(w, r, &body, true); err != nil {
		return "", tokenward.Lifetime{}, tokenward.Restrictions{}, err
	}
	life, err := body.lifetime()
	if err != nil {
		return "", life, tokenward.Restrictions{}, err
	}
	restrict, err := body.restrictions()
	return body.TokenName, life, restrict, err
}

// restrictions are the restrictions the body asks for. Errors: EInvalid naming a bad CIDR
// or an unknown permission.
func (b tokenNameBody) restrictions() (tokenward.Restrictions, error) {
	networks, err := tokenward.ParseAllowedCIDRs(b.AllowedCidrs)
	if err != nil {
		return tokenward.Restrictions{}, err
	}
	r := tokenward.Restrictions{Networks: networks}
	if b.Permissions != nil {
		set, err := tokenward.ParsePermissionList(b.Permissions)
		if err != nil {
			return r, tokenward.Errorf(tokenward.EInvalid, "permissions: %s", tokenward.ErrorMessage(err))
		}
		r.Permissions = &set
	}
	return r, nil
}

// lifetime is the lifetime the body asks for.
func (b tokenNameBody) lifetime() (tokenward.Lifetime, error) {
	life := tokenward.Lifetime{Never: b.NeverExpires}
	if b.ExpiresInSeconds != nil {
		if *b.ExpiresInSeconds <= 0 || *b.ExpiresInSeconds > int64(tokenward.MaxLifetime/time.Second) {
			return life, tokenward.Errorf(tokenward.EInvalid, "expiresInSeconds must be between 1 and %d", int64(tokenward.MaxLifetime/time.Second))
		}
		life.In = time.Duration(*b.ExpiresInSeconds) * time.Second
	}
	return life, nil
}

// renameBody is the body of a PUT on a token: its name, its allowed networks (§14) or
// both. tokenID is accepted and ignored: the path names the token.
type renameBody struct {
	TokenID   string  `json:"tokenID"`
	TokenName *string `json:"tokenName"`
	// AllowedCidrs: absent keeps them; null: anywhere.
	AllowedCidrs json.RawMessage `json:"allowedCidrs"`
}

// decodeEdit reads a PUT on a token. Errors: EInvalid for a body that changes nothing or
// names a bad CIDR.
func decodeEdit(w http.ResponseWriter, r *http.Request) (tokenward.TokenEdit, error) {
	var body renameBody
	if err := decodeBody(w, r, &body, false); err != nil {
		return tokenward.TokenEdit{}, err
	}
	edit := tokenward.TokenEdit{Name: body.TokenName}
	if body.AllowedCidrs != nil {
		var list []string
		if err := json.Unmarshal(body.AllowedCidrs, &list); err != nil {
			return edit, tokenward.Errorf(tokenward.EInvalid, "allowedCidrs must be a list of CIDRs, or null for anywhere")
		}
		networks, err := tokenward.ParseAllowedCIDRs(list)
		if err != nil {
			return edit, err
		}
		edit.Networks = &networks
	}
	if edit.Name == nil && edit.Networks == nil {
		return edit, tokenward.Errorf(tokenward.EInvalid, "tokenName is required (or allowedCidrs, to change only those)")
	}
	return edit, nil
}

func (s *Server) listOwnTokens(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	tokens, err := s.service.OwnTokens(r.Context(), p)
	if err != nil {
		return err
	}
	writeOK(w, s.userTokens(tokens))
	return nil
}

func (s *Server) generateOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	name, life, restrict, err := decodeGenerate(w, r)
	if err != nil {
		return err
	}
	secret, tokens, err := s.service.GenerateOwnToken(r.Context(), p, name, life, restrict)
	if err != nil {
		return err
	}
	writeOK(w, s.withSecret(tokens, secret))
	return nil
}

func (s *Server) renameOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	edit, err := decodeEdit(w, r)
	if err != nil {
		return err
	}
	t, err := s.service.EditOwnToken(r.Context(), p, r.PathValue("id"), edit)
	if err != nil {
		return err
	}
	writeOK(w, s.userToken(t))
	return nil
}

func (s *Server) revokeOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	tokens, err := s.service.RevokeOwnToken(r.Context(), p, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeOK(w, s.userTokens(tokens))
	return nil
}
