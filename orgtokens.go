package tokenward

import (
	"context"
	"slices"
	"strings"
	"time"
)

// The organization's tokens: every live token of every account, for administrators.

// EachOrgToken calls fn for every live token of the organization. Errors: EForbidden.
func (s *Service) EachOrgToken(ctx context.Context, p Principal, fn func(Token) error) error {
	if err := RequireAccounts(p); err != nil {
		return err
	}
	return s.store.EachLiveTokenOfOrg(ctx, fn)
}

// OrgToken returns any live token by public id or secret. Errors: EForbidden, ENotFound.
func (s *Service) OrgToken(ctx context.Context, p Principal, ref string) (Token, error) {
	if err := RequireAccounts(p); err != nil {
		return Token{}, err
	}
	return s.tokenOf(ctx, anyOwner, ref)
}

// RevokeOrgToken revokes any live token, named by public id or secret, and returns it as it
// was. Errors: EForbidden, ENotFound.
func (s *Service) RevokeOrgToken(ctx context.Context, p Principal, ref string) (Token, error) {
	if err := RequireAccounts(p); err != nil {
		return Token{}, err
	}
	return s.revokeToken(ctx, s.by(p), anyOwner, ref)
}

// RotateOrgToken rotates any live token, named by public id or secret, as RotateOwnToken
// does, and returns the new secret and its account's live tokens with it last, as a
// generate answers. Errors: EForbidden, ENotFound, EInvalid.
func (s *Service) RotateOrgToken(ctx context.Context, p Principal, ref string, r Rotation) (Secret, []Token, error) {
	if err := RequireAccounts(p); err != nil {
		return "", nil, err
	}
	secret, t, err := s.rotateToken(ctx, s.by(p), anyOwner, ref, r)
	if err != nil {
		return "", nil, err
	}
	return s.withLast(ctx, t.AccountID, t, secret)
}

// SearchTokens returns a page of the organization's live tokens. Errors: EForbidden,
// EInvalid for a bad request.
func (s *Service) SearchTokens(ctx context.Context, p Principal, req SearchRequest) (Page[Token], error) {
	if err := RequireAccounts(p); err != nil {
		return Page[Token]{}, err
	}
	if err := req.Normalize(TokenSearch); err != nil {
		return Page[Token]{}, err
	}
	return s.store.SearchTokens(ctx, req)
}

// TokenFacetsOf returns the distinct values of several token fields at once (the facets
// search), with the limit each list was cut at. Every facet is checked before any query
// runs, and each may be named once: a request repeating one 20,000 times would otherwise
// run 20,000 queries. Errors: EForbidden, EInvalid.
func (s *Service) TokenFacetsOf(ctx context.Context, p Principal, facets []string, req FacetRequest) (map[string][]string, int, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, 0, err
	}
	if len(facets) == 0 {
		return nil, 0, Errorf(EInvalid, "facets is required: name one or more of %s", strings.Join(TokenFacets, ", "))
	}
	seen := distinct[string]{}
	for _, facet := range facets {
		if err := checkFacet(facet); err != nil {
			return nil, 0, err
		}
		if err := seen.add(facet, "facet "+facet); err != nil {
			return nil, 0, err
		}
	}
	out, limit := map[string][]string{}, 0
	for _, facet := range facets {
		page, err := s.TokenFacet(ctx, p, facet, req)
		if err != nil {
			return nil, 0, err
		}
		out[facet], limit = page.Items, page.Limit
	}
	return out, limit, nil
}

// TokenFacet returns distinct values of a token field among matching tokens, for filter
// lists such as the console's Accounts panel. Errors: EForbidden, EInvalid.
func (s *Service) TokenFacet(ctx context.Context, p Principal, facet string, req FacetRequest) (Page[string], error) {
	if err := RequireAccounts(p); err != nil {
		return Page[string]{}, err
	}
	if err := checkFacet(facet); err != nil {
		return Page[string]{}, err
	}
	search := SearchRequest{Query: req.Query, Limit: req.Limit, Offset: req.Offset}
	if err := search.Normalize(TokenSearch); err != nil {
		return Page[string]{}, err
	}
	req.Query, req.Limit, req.Offset = search.Query, search.Limit, search.Offset
	method, ok := parseMatchingMethod(req.FacetQueryMatchingMethod)
	if !ok {
		return Page[string]{}, Errorf(EInvalid, "unknown facetQueryMatchingMethod %q", req.FacetQueryMatchingMethod)
	}
	req.FacetQueryMatchingMethod = method
	return s.store.TokenFacet(ctx, facet, req)
}

// checkFacet refuses a facet that is not one of TokenFacets.
func checkFacet(facet string) error {
	if !slices.Contains(TokenFacets, facet) {
		return Errorf(EInvalid, "unknown facet %q; facets are %s", truncate(facet, 64), strings.Join(TokenFacets, ", "))
	}
	return nil
}

// TokenUsage is a "By usage" filter of the organization's token table, as the console's
// URLs and shared saved searches spell it.
type TokenUsage string

const (
	AnyUsage        TokenUsage = ""
	UsedLast7Days   TokenUsage = "used7"
	UnusedFor30Days TokenUsage = "unused30"
)

// ParseTokenUsage reads a usage filter; anything unknown filters nothing.
func ParseTokenUsage(s string) TokenUsage {
	if u := TokenUsage(s); u == UsedLast7Days || u == UnusedFor30Days {
		return u
	}
	return AnyUsage
}

// Label is the filter as the console names it.
func (u TokenUsage) Label() string {
	switch u {
	case UsedLast7Days:
		return "Used in last 7 days"
	case UnusedFor30Days:
		return "Unused for 30 days or more"
	}
	return ""
}

// Conditions are the filter as search conditions, as the reference defines them: used in
// the last 7 days is lastUsed at or after now - 7 days; unused for 30 days or more is the
// later of lastUsed and dateGenerated before now - 30 days.
func (u TokenUsage) Conditions(now time.Time) []SearchCondition {
	ms := func(t time.Time) *int64 { v := t.UnixMilli(); return &v }
	switch u {
	case UsedLast7Days:
		return []SearchCondition{{Key: "lastUsed", Start: ms(now.Add(-7 * 24 * time.Hour))}}
	case UnusedFor30Days:
		return []SearchCondition{{Key: "lastActivity", End: ms(now.Add(-30*24*time.Hour - time.Millisecond))}}
	}
	return nil
}

// TokenExpiry is a "By expiry" filter of the organization's token table, as the console's
// URLs and shared saved searches spell it.
type TokenExpiry string

const (
	AnyExpiry          TokenExpiry = ""
	ExpiresWithin7Days TokenExpiry = "expires7"
	AlreadyExpired     TokenExpiry = "expired"
)

// ParseTokenExpiry reads an expiry filter; anything unknown filters nothing.
func ParseTokenExpiry(s string) TokenExpiry {
	if e := TokenExpiry(s); e == ExpiresWithin7Days || e == AlreadyExpired {
		return e
	}
	return AnyExpiry
}

// Label is the filter as the console names it.
func (e TokenExpiry) Label() string {
	switch e {
	case ExpiresWithin7Days:
		return "Expires within 7 days"
	case AlreadyExpired:
		return "Expired"
	}
	return ""
}

// Conditions are the filter as search conditions: expires within 7 days is an expiresAt
// after now and at most now + 7 days (a token that has expired already is not "expiring");
// expired is an expiresAt at or before now, the instant from which a token fails.
func (e TokenExpiry) Conditions(now time.Time) []SearchCondition {
	ms := func(t time.Time) *int64 { v := t.UnixMilli(); return &v }
	switch e {
	case ExpiresWithin7Days:
		return []SearchCondition{{Key: "expiresAt", Start: ms(now.Add(time.Millisecond)), End: ms(now.Add(7 * 24 * time.Hour))}}
	case AlreadyExpired:
		return []SearchCondition{{Key: "expiresAt", End: ms(now)}}
	}
	return nil
}
