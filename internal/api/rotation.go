package api

import (
	"net/http"
	"time"

	"github.com/tokenward/tokenward"
)

// Rotation with overlap (reference §13): a new secret for the same token record; the
// previous secret keeps working for the grace period the request chooses (0 to 24 h).

// rotateBody is a rotate request; both fields are optional.
type rotateBody struct {
	GracePeriodSeconds *int64 `json:"gracePeriodSeconds"`
	tokenNameBody             // expiresInSeconds, neverExpires; tokenName is ignored
}

func (b rotateBody) rotation() (tokenward.Rotation, error) {
	var r tokenward.Rotation
	if g := b.GracePeriodSeconds; g != nil {
		if *g < 0 || *g > int64(tokenward.MaxGracePeriod/time.Second) {
			return r, tokenward.Errorf(tokenward.EInvalid, "gracePeriodSeconds must be between 0 and %d", int64(tokenward.MaxGracePeriod/time.Second))
		}
		r.Grace = time.Duration(*g) * time.Second
	}
	var err error
	r.Life, err = b.lifetime()
	return r, err
}

func decodeRotation(w http.ResponseWriter, r *http.Request) (tokenward.Rotation, error) {
	var body rotateBody
	if err := decodeBody(w, r, &body, true); err != nil {
		return tokenward.Rotation{}, err
	}
	return body.rotation()
}

// rotateOwnToken answers POST /api/v2/apitoken/{id}/{action}, whose only action is rotate
// (one pattern for it: "{id}/rotate" and "serviceaccount/{saId}" would overlap).
func (s *Server) rotateOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if r.PathValue("action") != "rotate" {
		return tokenward.Errorf(tokenward.ENotFound, "no such endpoint: POST %s", r.URL.Path)
	}
	rot, err := decodeRotation(w, r)
	if err != nil {
		return err
	}
	secret, tokens, err := s.service.RotateOwnToken(r.Context(), p, r.PathValue("id"), rot)
	if err != nil {
		return err
	}
	writeOK(w, s.withSecret(tokens, secret))
	return nil
}

func (s *Server) rotateServiceAccountToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	rot, err := decodeRotation(w, r)
	if err != nil {
		return err
	}
	secret, tokens, err := s.service.RotateServiceAccountToken(r.Context(), p, r.PathValue("saId"), r.PathValue("token"), rot)
	if err != nil {
		return err
	}
	writeOK(w, s.withSecret(tokens, secret))
	return nil
}

func (s *Server) rotateOrgToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	rot, err := decodeRotation(w, r)
	if err != nil {
		return err
	}
	secret, tokens, err := s.service.RotateOrgToken(r.Context(), p, r.PathValue("id"), rot)
	if err != nil {
		return err
	}
	writeOK(w, s.withSecret(tokens, secret))
	return nil
}
