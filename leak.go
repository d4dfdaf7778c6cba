package tokenward

import "context"

// Leak response (reference §14, beyond Wavefront).

// MaxLeakedSecrets is how many secrets one revoke-by-value request may carry.
const MaxLeakedSecrets = 1000

// AuditTokenLeaked is the event of a token revoked because its secret was reported found
// in the wild.
const AuditTokenLeaked = "token.leaked"

// RevokeLeaked revokes every live token whose secret (current, or replaced by a rotation and
// still in its grace period) is among secrets, found in the wild and reported from source
// (where they were found, as the reporter says) by whoever is at address: no
// authentication, since whoever holds a secret may end it. Each revocation is audited as
// token.leaked. It returns how many tokens it revoked, which the API does not tell the
// reporter (the answer is the same whatever was found). Errors: EInvalid for too many.
func (s *Service) RevokeLeaked(ctx context.Context, secrets []string, source, address string) (int, error) {
	if len(secrets) > MaxLeakedSecrets {
		return 0, Errorf(EInvalid, "at most %d secrets per request", MaxLeakedSecrets)
	}
	reporter := Principal{Source: auditable(address, 64)}
	revoked := 0
	for _, raw := range secrets {
		secret, ok := ParseSecret(raw)
		if !ok {
			continue
		}
		t, err := s.store.LiveTokenByDigest(ctx, secret.Digest())
		if ErrorCode(err) == ENotFound {
			t, err = s.store.TokenByReplacedDigest(ctx, secret.Digest())
		}
		if ErrorCode(err) == ENotFound {
			continue
		}
		if err != nil {
			return revoked, err
		}
		// The revocation's one event is token.leaked: the reason, with where it was found.
		by := s.by(reporter).NotifyToken(EventTokenLeaked, t.ID, Detail{"source": auditable(source, 256)})
		if _, err := s.revokeToken(ctx, by, anyOwner, t.ID); err != nil && ErrorCode(err) != ENotFound {
			return revoked, err
		}
		if err := s.store.RecordAudit(ctx, by.As(AuditTokenLeaked, TokenTarget(t.ID, t.Account),
			"reported found in the wild: "+auditable(source, 256))); err != nil {
			return revoked, err
		}
		revoked++
	}
	return revoked, nil
}

// RevokeSelf revokes the token that authenticated p's request and returns it as it was.
// Errors: ENotFound when it is gone meanwhile, EInvalid when no administrator would remain.
func (s *Service) RevokeSelf(ctx context.Context, p Principal) (Token, error) {
	t, err := s.store.LiveTokenBySeq(ctx, p.TokenSeq)
	if err != nil {
		return Token{}, err
	}
	return s.revokeToken(ctx, s.by(p), t.AccountID, t.ID)
}
