package api

import (
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
	DisabledReason *string        `json:"disabledReason"`
	RecentClients  []recentClient `json:"recentClients"` // ours (§14): newest first, at most 5
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
		RecentClients: recentClientsOf(t)}
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
}

// decodeGenerate reads a generate request's optional body: the name and lifetime asked.
func decodeGenerate(w http.ResponseWriter, r *http.Request) (string, tokenward.Lifetime, error) {
	var body tokenNameBody
	if err := decodeBody(w, r, &body, true); err != nil {
		return "", tokenward.Lifetime{}, err
	}
	life, err := body.lifetime()
	return body.TokenName, life, err
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

// renameBody is the body of a rename request. tokenID is accepted and ignored: the path
// names the token.
type renameBody struct {
	TokenID   string  `json:"tokenID"`
	TokenName *string `json:"tokenName"`
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
	name, life, err := decodeGenerate(w, r)
	if err != nil {
		return err
	}
	secret, tokens, err := s.service.GenerateOwnToken(r.Context(), p, name, life)
	if err != nil {
		return err
	}
	writeOK(w, s.withSecret(tokens, secret))
	return nil
}

func (s *Server) renameOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var body renameBody
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	if body.TokenName == nil {
		return tokenward.Errorf(tokenward.EInvalid, "tokenName is required")
	}
	t, err := s.service.RenameOwnToken(r.Context(), p, r.PathValue("id"), *body.TokenName)
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
