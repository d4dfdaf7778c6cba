package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
)

// routes registers every route of the API; this is the one place that lists them.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /api/v2/openapi.json", serveOpenAPI)

	// Operations and forward auth (not part of the Wavefront API).
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.metricsHandler())
	s.mux.HandleFunc("/auth/verify", s.forwardAuth)
	s.mux.HandleFunc("/auth/verify/", s.forwardAuth)

	// The caller's own tokens (reference §4).
	s.authed("GET /api/v2/apitoken", s.listOwnTokens)
	s.authed("POST /api/v2/apitoken", s.generateOwnToken)
	s.authed("PUT /api/v2/apitoken/{id}", s.renameOwnToken)
	s.authed("DELETE /api/v2/apitoken/{id}", s.revokeOwnToken)

	// The organization's tokens (§4, §7).
	s.authed("GET /api/v2/apitoken/customertokens", s.listOrgTokens)
	s.authed("GET /api/v2/apitoken/customertokens/{id}", s.getOrgToken)
	s.authed("PUT /api/v2/apitoken/customertokens/revoke", s.revokeOrgToken)
	s.authed("POST /api/v2/search/token", s.searchTokens)
	s.authed("POST /api/v2/search/token/facets", s.tokenFacets)
	s.authed("POST /api/v2/search/token/{facet}", s.tokenFacet)

	// The audit trail (ours).
	s.authed("GET /api/v2/audit", s.auditTrail)

	// Saved searches (§8), each user's own.
	s.authed("GET /api/v2/savedsearch", s.listSavedSearches)
	s.authed("POST /api/v2/savedsearch", s.createSavedSearch)
	s.authed("GET /api/v2/savedsearch/type/{entityType}", s.listSavedSearches)
	s.authed("GET /api/v2/savedsearch/{id}", s.getSavedSearch)
	s.authed("PUT /api/v2/savedsearch/{id}", s.updateSavedSearch)
	s.authed("DELETE /api/v2/savedsearch/{id}", s.deleteSavedSearch)

	// Service-account tokens (§4).
	s.authed("GET /api/v2/apitoken/serviceaccount/{saId}", s.listServiceAccountTokens)
	s.authed("POST /api/v2/apitoken/serviceaccount/{saId}", s.generateServiceAccountToken)
	s.authed("PUT /api/v2/apitoken/serviceaccount/{saId}/{token}", s.renameServiceAccountToken)
	s.authed("DELETE /api/v2/apitoken/serviceaccount/{saId}/{token}", s.revokeServiceAccountToken)

	// Service accounts (§5).
	s.authed("GET /api/v2/account/serviceaccount", s.listServiceAccounts)
	s.authed("POST /api/v2/account/serviceaccount", s.createServiceAccount)
	s.authed("GET /api/v2/account/serviceaccount/{id}", s.getServiceAccount)
	s.authed("PUT /api/v2/account/serviceaccount/{id}", s.updateServiceAccount)
	s.authed("POST /api/v2/account/serviceaccount/{id}/activate", s.setServiceAccountActive(true))
	s.authed("POST /api/v2/account/serviceaccount/{id}/deactivate", s.setServiceAccountActive(false))
	s.authed("POST /api/v2/search/serviceaccount", s.searchServiceAccounts)

	// Accounts of both kinds and users (§5, §6). Answers marked bare are the model itself,
	// without a response container, as Wavefront's published spec has them.
	s.authed("GET /api/v2/account", s.listAccounts)
	s.authed("GET /api/v2/account/{id}", s.getAccount)
	s.authed("DELETE /api/v2/account/{id}", s.deleteAccount)
	s.authed("POST /api/v2/account/deleteAccounts", s.deleteAccounts)
	s.authed("POST /api/v2/account/validateAccounts", s.validateAccounts(""))
	// {action} patterns: literal ones would conflict with their siblings (see byAction).
	s.authed("POST /api/v2/account/{id}/{action}/{permission}", s.byAction(map[string]authedHandler{
		"grant":  s.changePermission(true),  // bare
		"revoke": s.changePermission(false), // bare
	}))
	s.authed("POST /api/v2/account/{id}/{action}", s.byAction(map[string]authedHandler{
		"addRoles":         s.changeAccountRoles(true),   // bare
		"removeRoles":      s.changeAccountRoles(false),  // bare
		"addUserGroups":    s.changeAccountGroups(true),  // bare
		"removeUserGroups": s.changeAccountGroups(false), // bare
	}))
	s.authed("POST /api/v2/account/grant/{permission}", s.changePermission(true))   // bare
	s.authed("POST /api/v2/account/revoke/{permission}", s.changePermission(false)) // bare
	s.authed("GET /api/v2/account/user", s.listUsers)
	s.authed("POST /api/v2/account/user", s.createUser) // bare
	s.authed("GET /api/v2/account/user/admin", s.listAdministrators)
	s.authed("POST /api/v2/account/user/invite", s.inviteUsers) // bare
	s.authed("GET /api/v2/account/user/{id}", s.getUser)        // bare
	s.authed("PUT /api/v2/account/user/{id}", s.updateUser)     // bare
	s.authed("POST /api/v2/search/user", s.searchUsers)

	// The legacy user API (§10): user accounts only; bare and dual answers as listed there.
	s.authed("GET /api/v2/user", s.listUsersBare)         // a bare array
	s.authed("POST /api/v2/user", s.createUserLegacy)     // dual
	s.authed("GET /api/v2/user/{id}", s.getUser)          // bare
	s.authed("PUT /api/v2/user/{id}", s.updateUserLegacy) // dual
	s.authed("DELETE /api/v2/user/{id}", s.deleteUser)
	s.authed("POST /api/v2/user/deleteUsers", s.deleteUsers)
	s.authed("POST /api/v2/user/invite", s.inviteUsers) // bare
	s.authed("POST /api/v2/user/validateUsers", s.validateAccounts(tokenward.UserAccount))
	s.authed("POST /api/v2/user/{id}/{action}", s.byAction(map[string]authedHandler{
		"grant":            onlyUsers(s.changeUserPermission(true)),  // bare; form field group=<permission>
		"revoke":           onlyUsers(s.changeUserPermission(false)), // bare; form field group=<permission>
		"addUserGroups":    onlyUsers(s.changeAccountGroups(true)),   // bare
		"removeUserGroups": onlyUsers(s.changeAccountGroups(false)),  // bare
	}))
	s.authed("POST /api/v2/user/grant/{permission}", s.changeUsersPermission(true))   // bare
	s.authed("POST /api/v2/user/revoke/{permission}", s.changeUsersPermission(false)) // bare

	// Roles and user groups (§11), all in containers.
	s.authed("GET /api/v2/role", s.listRoles)
	s.authed("POST /api/v2/role", s.createRole)
	s.authed("GET /api/v2/role/{id}", s.getRole)
	s.authed("PUT /api/v2/role/{id}", s.updateRole)
	s.authed("DELETE /api/v2/role/{id}", s.deleteRole)
	s.authed("POST /api/v2/role/{id}/{action}", s.byAction(map[string]authedHandler{
		"addAssignees":    s.changeRoleAssignees(true),
		"removeAssignees": s.changeRoleAssignees(false),
	}))
	s.authed("POST /api/v2/role/grant/{permission}", s.changeRolesPermission(true))
	s.authed("POST /api/v2/role/revoke/{permission}", s.changeRolesPermission(false))
	s.authed("POST /api/v2/search/role", s.searchRoles)
	s.authed("GET /api/v2/usergroup", s.listGroups)
	s.authed("POST /api/v2/usergroup", s.createGroup)
	s.authed("GET /api/v2/usergroup/{id}", s.getGroup)
	s.authed("PUT /api/v2/usergroup/{id}", s.updateGroup)
	s.authed("DELETE /api/v2/usergroup/{id}", s.deleteGroup)
	s.authed("POST /api/v2/usergroup/{id}/addUsers", s.changeGroupMembers(true))
	s.authed("POST /api/v2/usergroup/{id}/removeUsers", s.changeGroupMembers(false))
	s.authed("POST /api/v2/usergroup/{id}/addRoles", s.changeGroupRoles(true))
	s.authed("POST /api/v2/usergroup/{id}/removeRoles", s.changeGroupRoles(false))
	s.authed("POST /api/v2/search/usergroup", s.searchGroups)

	if s.console != nil {
		s.mux.Handle("/console/", s.console)
		s.mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusSeeOther))
	}
	s.mux.HandleFunc("/", s.noRoute)
}

// authedHandler is a handler that runs for an authenticated caller and returns its error
// rather than writing it, so that every failure is answered the same way.
type authedHandler func(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error

// authed registers h behind token authentication.
func (s *Server) authed(pattern string, h authedHandler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err == nil {
			ctx := tokenward.WithActor(r.Context(), tokenward.Actor{Account: p.Account, Source: ClientAddress(r, s.trustXFF)})
			err = h(w, r.WithContext(ctx), p)
		}
		if err != nil {
			s.fail(w, r, err)
		}
	})
}

// fail answers a request with err, logging internal errors (which clients only see as
// "internal error"). Wrapped errors never carry a secret: queries bind digests, not secrets.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if tokenward.ErrorCode(err) == tokenward.EInternal {
		s.logger.Error("request failed", "method", r.Method, "route", r.Pattern, "err", err)
	}
	writeError(w, err)
}

// credential returns the token a request presents: "Authorization: Bearer T", or the older
// "X-AUTH-TOKEN: T" (which some clients also prefix with "Bearer "). present is false when
// the request carries neither header; an Authorization header of another scheme is present
// but yields no token, and so fails verification.
func credential(r *http.Request) (token string, present bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", true
		}
		return strings.TrimSpace(rest), true
	}
	if h := strings.TrimSpace(r.Header.Get("X-AUTH-TOKEN")); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
			h = strings.TrimSpace(h[7:])
		}
		return h, true
	}
	return "", false
}

// authenticate returns the principal the request's token speaks for, counting the outcome
// and timing it.
func (s *Server) authenticate(r *http.Request) (tokenward.Principal, error) {
	start := time.Now()
	token, present := credential(r)
	if !present {
		s.metrics.verifyMissing.Inc()
		return tokenward.Principal{}, tokenward.ErrNoCredentials
	}
	p, err := s.service.Authenticate(r.Context(), token)
	s.metrics.verifySeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.verifyInvalid.Inc()
		// Only failures count, and only after verifying: a valid token is never refused
		// or slowed, whatever happened from its address.
		if s.invalid != nil && tokenward.ErrorCode(err) == tokenward.EUnauthorized {
			if over, wait := s.invalid.Fail(ClientAddress(r, s.trustXFF)); over {
				return p, &tokenward.Error{Code: tokenward.ETooMany, RetryAfter: wait,
					Message: "too many requests with invalid tokens from this address; try again later"}
			}
		}
	} else {
		s.metrics.verifyOK.Inc()
	}
	return p, err
}

// noRoute answers requests that no route matched: 405 with an Allow header when the path
// exists under other methods, 404 otherwise, both as error containers.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		if m == r.Method {
			continue // it has no route here, even when a pattern matched (see byAction)
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, container{Status: status{Result: "ERROR", Code: http.StatusMethodNotAllowed,
			Message: "method " + r.Method + " is not allowed here; allowed: " + strings.Join(allowed, ", ")}})
		return
	}
	writeError(w, tokenward.Errorf(tokenward.ENotFound, "no such API endpoint"))
}
