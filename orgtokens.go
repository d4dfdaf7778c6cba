package tokenward

import (
	"context"
	"slices"
	"strings"
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
	return s.anyToken(ctx, ref)
}

// RevokeOrgToken revokes any live token, named by public id or secret, and returns it as it
// was. Errors: EForbidden, ENotFound.
func (s *Service) RevokeOrgToken(ctx context.Context, p Principal, ref string) (Token, error) {
	if err := RequireAccounts(p); err != nil {
		return Token{}, err
	}
	t, err := s.anyToken(ctx, ref)
	if err != nil {
		return Token{}, err
	}
	by := s.by(p)
	if err := s.written(ctx, s.store.RevokeToken(ctx, t.ID, by), t.AccountID); err != nil {
		return Token{}, err
	}
	t.Revoked = by.At
	return t, nil
}

// anyToken returns the live token ref names, whoever owns it.
func (s *Service) anyToken(ctx context.Context, ref string) (Token, error) {
	var t Token
	var err error
	if secret, ok := ParseSecret(ref); ok {
		t, err = s.store.LiveTokenByDigest(ctx, secret.Digest())
	} else {
		t, err = s.store.LiveTokenByID(ctx, ref)
	}
	if ErrorCode(err) == ENotFound {
		return Token{}, Errorf(ENotFound, "no such API token (it may have been revoked)")
	}
	return t, err
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
		if !slices.Contains(TokenFacets, facet) {
			return nil, 0, Errorf(EInvalid, "unknown facet %q; facets are %s", truncate(facet, 64), strings.Join(TokenFacets, ", "))
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
	if !slices.Contains(TokenFacets, facet) {
		return Page[string]{}, Errorf(EInvalid, "unknown facet %q; facets are %s", truncate(facet, 64), strings.Join(TokenFacets, ", "))
	}
	search := SearchRequest{Query: req.Query, Limit: req.Limit, Offset: req.Offset}
	if err := search.Normalize(TokenSearch); err != nil {
		return Page[string]{}, err
	}
	req.Query, req.Limit, req.Offset = search.Query, search.Limit, search.Offset
	method := strings.ToUpper(req.FacetQueryMatchingMethod)
	switch method {
	case "":
		method = MatchContains
	case MatchContains, MatchStartsWith, MatchExact, MatchTagPath:
	default:
		return Page[string]{}, Errorf(EInvalid, "unknown facetQueryMatchingMethod %q", req.FacetQueryMatchingMethod)
	}
	req.FacetQueryMatchingMethod = method
	return s.store.TokenFacet(ctx, facet, req)
}
