package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// The legacy user API, /api/v2/user (reference §10). Its two real clients disagree on
// shapes: some answers are bare, some "dual" (a container whose payload is also repeated
// at the top level), each as the reference lists it.

// dualUser is the dual answer: the Go client reads "response", the Python client the
// top-level fields.
type dualUser struct {
	Status   status    `json:"status"`
	Response userModel `json:"response"`
	userModel
}

// writeDualUser answers a as a dual UserModel.
func (s *Server) writeDualUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal, a tokenward.Account) error {
	u, err := s.expander(r, p).userModel(a)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, dualUser{Status: status{Result: "OK", Code: http.StatusOK}, Response: u, userModel: u})
	return nil
}

// requireUserIDs is ENotFound for an identifier that can only name a service account:
// /api/v2/user manages user accounts only.
func requireUserIDs(ids ...string) error {
	for _, id := range ids {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(id)), tokenward.ServiceAccountPrefix) {
			return tokenward.Errorf(tokenward.ENotFound, "user %s does not exist", id)
		}
	}
	return nil
}

// onlyUsers wraps a handler of /api/v2/user/{id}/... whose service operation takes any
// account, so that it refuses a service account in the path (after the route's permission
// check, so that a caller without it learns nothing).
func onlyUsers(h edge.Handler) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		if err := requireUserIDs(r.PathValue("id")); err != nil {
			return err
		}
		return h(w, r, p)
	}
}

// listUsersBare serves GET /api/v2/user: every user, a bare JSON array.
func (s *Server) listUsersBare(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	users, err := s.userModels(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, users)
	return nil
}

// createUserLegacy serves POST /api/v2/user?sendEmail=. tokenward sends no email; the
// parameter is checked and otherwise ignored.
func (s *Server) createUserLegacy(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if v := r.URL.Query().Get("sendEmail"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return tokenward.Errorf(tokenward.EInvalid, "sendEmail must be true or false")
		}
	}
	users, err := s.createUsers(w, r, p, false)
	if err != nil {
		return err
	}
	return s.writeDualUser(w, r, p, users[0])
}

func (s *Server) updateUserLegacy(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	a, err := s.updateUserFromBody(w, r, p)
	if err != nil {
		return err
	}
	return s.writeDualUser(w, r, p, a)
}

// deleteUser serves DELETE /api/v2/user/{id}, answering the deleted user in a container.
func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	a, err := s.service.AccountFor(r.Context(), p, r.PathValue("id"), tokenward.UserAccount)
	if err != nil {
		return err
	}
	deleted, err := s.service.DeleteAccounts(r.Context(), p, []string{a.Identifier}, false)
	if err != nil {
		return err
	}
	u, err := s.expander(r, p).userModel(deleted[0])
	if err != nil {
		return err
	}
	writeOK(w, u)
	return nil
}

// deleteUsers serves POST /api/v2/user/deleteUsers: the users among the ids are deleted,
// all or none; other ids (unknown, or service accounts) are skipped.
func (s *Server) deleteUsers(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var ids []string
	if err := decodeBody(w, r, &ids, false); err != nil {
		return err
	}
	users, _, err := s.service.ValidateAccounts(r.Context(), p, ids, tokenward.UserAccount)
	if err != nil {
		return err
	}
	deleted, err := s.service.DeleteAccounts(r.Context(), p, identifiers(users), true)
	if err != nil {
		return err
	}
	writeOK(w, identifiers(deleted))
	return nil
}

// changeUserPermission serves POST /api/v2/user/{id}/grant and revoke, whose permission
// is the form field "group".
func (s *Server) changeUserPermission(grant bool) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		r.Body = http.MaxBytesReader(w, r.Body, edge.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return tokenward.Errorf(tokenward.ETooLarge, "the request body is larger than %d bytes", edge.MaxBodyBytes)
			}
			return tokenward.Errorf(tokenward.EInvalid, "the request body must be a form with the field group=<permission>")
		}
		if err := edge.CheckValues("form field", r.PostForm); err != nil {
			return err
		}
		name := r.Form.Get("group") // the body's field, else the query's
		if name == "" {
			return tokenward.Errorf(tokenward.EInvalid, "the form field group=<permission> is required")
		}
		perm, err := tokenward.ParsePermission(name)
		if err != nil {
			return err
		}
		accounts, err := s.service.ChangePermission(r.Context(), p, perm, grant, []string{r.PathValue("id")})
		if err != nil {
			return err
		}
		return s.writeUserModel(w, r, p, accounts[0])
	}
}

// changeUsersPermission serves POST /api/v2/user/grant/{permission} and revoke, on the
// users the body lists.
func (s *Server) changeUsersPermission(grant bool) edge.Handler {
	return func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
		perm, err := tokenward.ParsePermission(r.PathValue("permission"))
		if err != nil {
			return err
		}
		var ids []string
		if err := decodeBody(w, r, &ids, false); err != nil {
			return err
		}
		if err := requireUserIDs(ids...); err != nil {
			return err
		}
		accounts, err := s.service.ChangePermission(r.Context(), p, perm, grant, ids)
		if err != nil {
			return err
		}
		return s.writeUserModel(w, r, p, accounts[0])
	}
}
