package api

import (
	"net/http"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// Leak response (reference §14, ours).

// revokeLeaked answers POST /api/v2/apitoken/revoke-leaked, without authentication: a
// secret scanner or anyone who found secrets in the wild sends them, and each live one is
// revoked. The answer is 202 with the number received whatever was found, so that it tells
// nothing about which secrets were live; requests are limited per source address.
func (s *Server) revokeLeaked(w http.ResponseWriter, r *http.Request) {
	from := edge.ClientAddress(r, s.trustXFF)
	if over, wait := s.leaks.Fail(from); over {
		s.fail(w, r, &tokenward.Error{Code: tokenward.ETooMany, RetryAfter: wait,
			Message: "too many leaked-secret reports from this address; try again later"})
		return
	}
	var body struct {
		Secrets []string `json:"secrets"`
		Source  string   `json:"source"`
	}
	if err := decodeBody(w, r, &body, false); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.service.RevokeLeaked(r.Context(), body.Secrets, body.Source, from); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, container{Status: status{Result: "OK", Code: http.StatusAccepted},
		Response: map[string]int{"received": len(body.Secrets)}})
}

// revokeSelf answers DELETE /api/v2/apitoken/self: the token that authenticates the request
// revokes itself, whatever its account (a script that knows it leaked its own secret).
func (s *Server) revokeSelf(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	t, err := s.service.RevokeSelf(r.Context(), p)
	if err != nil {
		return err
	}
	writeOK(w, s.userToken(t))
	return nil
}
