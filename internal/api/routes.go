package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/edge"
)

// routes registers every route of the API; this file is the one place that lists them,
// each with the permission it needs.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /api/v2/openapi.json", serveOpenAPI)

	// Operations and forward auth (not part of the Wavefront API).
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.metricsHandler())
	s.mux.HandleFunc(verifyPath, s.forwardAuth)
	s.mux.HandleFunc(verifyPath+"/", s.forwardAuth)

	s.tokenRoutes()
	s.accountRoutes()
	s.roleAndGroupRoutes()
	s.webhookRoutes()

	if s.console != nil {
		s.mux.Handle("/console/", s.console)
		s.mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusSeeOther))
	}
	s.mux.HandleFunc("/", s.noRoute)
}

// tokenRoutes registers the routes of tokens, the audit trail and saved searches.
func (s *Server) tokenRoutes() {
	// The caller's own tokens (reference §4).
	s.authed("GET /api/v2/apitoken", authenticated, s.listOwnTokens)
	s.authed("POST /api/v2/apitoken", authenticated, s.generateOwnToken)
	s.authed("PUT /api/v2/apitoken/{id}", authenticated, s.renameOwnToken)
	s.authed("DELETE /api/v2/apitoken/{id}", authenticated, s.revokeOwnToken)

	// Leak response (§14, ours): revoke by value needs no authentication, only the secrets.
	s.mux.HandleFunc("POST /api/v2/apitoken/revoke-leaked", s.revokeLeaked)
	s.authed("DELETE /api/v2/apitoken/self", authenticated, s.revokeSelf)
	s.authed("POST /api/v2/apitoken/customertokens/revoke-bulk", tokenward.UserManagement, s.revokeBulk)
	s.authed("GET /api/v2/job/{jobId}", tokenward.UserManagement, s.revokeJob)

	// Rotation with overlap (§13, ours).
	s.authed("POST /api/v2/apitoken/{id}/{action}", authenticated, s.rotateOwnToken)
	s.authed("POST /api/v2/apitoken/serviceaccount/{saId}/{token}/rotate", tokenward.UserManagement, s.rotateServiceAccountToken)
	s.authed("POST /api/v2/apitoken/customertokens/{id}/rotate", tokenward.UserManagement, s.rotateOrgToken)

	// The organization's token lifetime policy (§13, ours).
	s.authed("GET /api/v2/apitoken/policy", tokenward.UserManagement, s.getPolicy)
	s.authed("PUT /api/v2/apitoken/policy", tokenward.UserManagement, s.setPolicy)

	// The organization's tokens (§4, §7).
	s.authed("GET /api/v2/apitoken/customertokens", tokenward.UserManagement, s.listOrgTokens)
	s.authed("GET /api/v2/apitoken/customertokens/{id}", tokenward.UserManagement, s.getOrgToken)
	s.authed("PUT /api/v2/apitoken/customertokens/revoke", tokenward.UserManagement, s.revokeOrgToken)
	s.authed("POST /api/v2/search/token", tokenward.UserManagement, s.searchTokens)
	s.authed("POST /api/v2/search/token/facets", tokenward.UserManagement, s.tokenFacets)
	s.authed("POST /api/v2/search/token/{facet}", tokenward.UserManagement, s.tokenFacet)

	// The audit trail (ours).
	s.authed("GET /api/v2/audit", tokenward.UserManagement, s.auditTrail)

	// Saved searches (§8), each user's own.
	s.authed("GET /api/v2/savedsearch", authenticated, s.listSavedSearches)
	s.authed("POST /api/v2/savedsearch", authenticated, s.createSavedSearch)
	s.authed("GET /api/v2/savedsearch/type/{entityType}", authenticated, s.listSavedSearches)
	s.authed("GET /api/v2/savedsearch/{id}", authenticated, s.getSavedSearch)
	s.authed("PUT /api/v2/savedsearch/{id}", authenticated, s.updateSavedSearch)
	s.authed("DELETE /api/v2/savedsearch/{id}", authenticated, s.deleteSavedSearch)

	// Service-account tokens (§4).
	s.authed("GET /api/v2/apitoken/serviceaccount/{saId}", tokenward.UserManagement, s.listServiceAccountTokens)
	s.authed("POST /api/v2/apitoken/serviceaccount/{saId}", tokenward.UserManagement, s.generateServiceAccountToken)
	s.authed("PUT /api/v2/apitoken/serviceaccount/{saId}/{token}", tokenward.UserManagement, s.renameServiceAccountToken)
	s.authed("DELETE /api/v2/apitoken/serviceaccount/{saId}/{token}", tokenward.UserManagement, s.revokeServiceAccountToken)
}

// accountRoutes registers the routes of accounts of both kinds, the legacy user API's among them.
func (s *Server) accountRoutes() {
	// Service accounts (§5).
	s.authed("GET /api/v2/account/serviceaccount", tokenward.UserManagement, s.listServiceAccounts)
	s.authed("POST /api/v2/account/serviceaccount", tokenward.UserManagement, s.createServiceAccount)
	s.authed("GET /api/v2/account/serviceaccount/{id}", authenticated, s.getServiceAccount)
	s.authed("PUT /api/v2/account/serviceaccount/{id}", tokenward.UserManagement, s.updateServiceAccount)
	s.authed("POST /api/v2/account/serviceaccount/{id}/activate", tokenward.UserManagement, s.setServiceAccountActive(true))
	s.authed("POST /api/v2/account/serviceaccount/{id}/deactivate", tokenward.UserManagement, s.setServiceAccountActive(false))
	s.authed("POST /api/v2/search/serviceaccount", tokenward.UserManagement, s.searchServiceAccounts)

	// Accounts of both kinds and users (§5, §6). Answers marked bare are the model itself,
	// without a response container, as Wavefront's published spec has them.
	s.authed("GET /api/v2/account", tokenward.UserManagement, s.listAccounts)
	s.authed("GET /api/v2/account/{id}", authenticated, s.getAccount)
	s.authed("DELETE /api/v2/account/{id}", tokenward.UserManagement, s.deleteAccount)
	s.authed("POST /api/v2/account/deleteAccounts", tokenward.UserManagement, s.deleteAccounts)
	s.authed("POST /api/v2/account/validateAccounts", tokenward.UserManagement, s.validateAccounts(""))
	// {action} patterns: literal ones would conflict with their siblings (see byAction).
	s.authed("POST /api/v2/account/{id}/{action}/{permission}", tokenward.UserManagement, s.byAction(map[string]edge.Handler{
		"grant":  s.changePermission(true),  // bare
		"revoke": s.changePermission(false), // bare
	}))
	s.authed("POST /api/v2/account/{id}/{action}", tokenward.UserManagement, s.byAction(map[string]edge.Handler{
		"addRoles":         s.changeAccountRoles(true),   // bare
		"removeRoles":      s.changeAccountRoles(false),  // bare
		"addUserGroups":    s.changeAccountGroups(true),  // bare
		"removeUserGroups": s.changeAccountGroups(false), // bare
	}))
	s.authed("POST /api/v2/account/grant/{permission}", tokenward.UserManagement, s.changePermission(true))   // bare
	s.authed("POST /api/v2/account/revoke/{permission}", tokenward.UserManagement, s.changePermission(false)) // bare
	s.authed("GET /api/v2/account/user", tokenward.UserManagement, s.listUsers)
	s.authed("POST /api/v2/account/user", tokenward.UserManagement, s.createUser) // bare
	s.authed("GET /api/v2/account/user/admin", tokenward.UserManagement, s.listAdministrators)
	s.authed("POST /api/v2/account/user/invite", tokenward.UserManagement, s.inviteUsers) // bare
	s.authed("GET /api/v2/account/user/{id}", authenticated, s.getUser)                   // bare
	s.authed("PUT /api/v2/account/user/{id}", tokenward.UserManagement, s.updateUser)     // bare
	s.authed("POST /api/v2/search/user", tokenward.UserManagement, s.searchUsers)

	// The legacy user API (§10): user accounts only; bare and dual answers as listed there.
	s.authed("GET /api/v2/user", tokenward.UserManagement, s.listUsersBare)         // a bare array
	s.authed("POST /api/v2/user", tokenward.UserManagement, s.createUserLegacy)     // dual
	s.authed("GET /api/v2/user/{id}", authenticated, s.getUser)                     // bare
	s.authed("PUT /api/v2/user/{id}", tokenward.UserManagement, s.updateUserLegacy) // dual
	s.authed("DELETE /api/v2/user/{id}", tokenward.UserManagement, s.deleteUser)
	s.authed("POST /api/v2/user/deleteUsers", tokenward.UserManagement, s.deleteUsers)
	s.authed("POST /api/v2/user/invite", tokenward.UserManagement, s.inviteUsers) // bare
	s.authed("POST /api/v2/user/validateUsers", tokenward.UserManagement, s.validateAccounts(tokenward.UserAccount))
	s.authed("POST /api/v2/user/{id}/{action}", tokenward.UserManagement, s.byAction(map[string]edge.Handler{
		"grant":            onlyUsers(s.changeUserPermission(true)),  // bare; form field group=<permission>
		"revoke":           onlyUsers(s.changeUserPermission(false)), // bare; form field group=<permission>
		"addUserGroups":    onlyUsers(s.changeAccountGroups(true)),   // bare
		"removeUserGroups": onlyUsers(s.changeAccountGroups(false)),  // bare
	}))
	s.authed("POST /api/v2/user/grant/{permission}", tokenward.UserManagement, s.changeUsersPermission(true))   // bare
	s.authed("POST /api/v2/user/revoke/{permission}", tokenward.UserManagement, s.changeUsersPermission(false)) // bare
}

// roleAndGroupRoutes registers the routes of roles and user groups.
func (s *Server) roleAndGroupRoutes() {
	// Roles and user groups (§11), all in containers.
	s.authed("GET /api/v2/role", tokenward.UserManagement, s.listRoles)
	s.authed("POST /api/v2/role", tokenward.UserManagement, s.createRole)
	s.authed("GET /api/v2/role/{id}", tokenward.UserManagement, s.getRole)
	s.authed("PUT /api/v2/role/{id}", tokenward.UserManagement, s.updateRole)
	s.authed("DELETE /api/v2/role/{id}", tokenward.UserManagement, s.deleteRole)
	s.authed("POST /api/v2/role/{id}/{action}", tokenward.UserManagement, s.byAction(map[string]edge.Handler{
		"addAssignees":    s.changeRoleAssignees(true),
		"removeAssignees": s.changeRoleAssignees(false),
	}))
	s.authed("POST /api/v2/role/grant/{permission}", tokenward.UserManagement, s.changeRolesPermission(true))
	s.authed("POST /api/v2/role/revoke/{permission}", tokenward.UserManagement, s.changeRolesPermission(false))
	s.authed("POST /api/v2/search/role", tokenward.UserManagement, s.searchRoles)
	s.authed("GET /api/v2/usergroup", tokenward.UserManagement, s.listGroups)
	s.authed("POST /api/v2/usergroup", tokenward.UserManagement, s.createGroup)
	s.authed("GET /api/v2/usergroup/{id}", tokenward.UserManagement, s.getGroup)
	s.authed("PUT /api/v2/usergroup/{id}", tokenward.UserManagement, s.updateGroup)
	s.authed("DELETE /api/v2/usergroup/{id}", tokenward.UserManagement, s.deleteGroup)
	s.authed("POST /api/v2/usergroup/{id}/addUsers", tokenward.UserManagement, s.changeGroupMembers(true))
	s.authed("POST /api/v2/usergroup/{id}/removeUsers", tokenward.UserManagement, s.changeGroupMembers(false))
	s.authed("POST /api/v2/usergroup/{id}/addRoles", tokenward.UserManagement, s.changeGroupRoles(true))
	s.authed("POST /api/v2/usergroup/{id}/removeRoles", tokenward.UserManagement, s.changeGroupRoles(false))
	s.authed("POST /api/v2/search/usergroup", tokenward.UserManagement, s.searchGroups)
}

// webhookRoutes registers the routes of webhooks and their delivery logs (§13, ours).
func (s *Server) webhookRoutes() {
	s.authed("GET /api/v2/webhook", tokenward.UserManagement, s.listWebhooks)
	s.authed("POST /api/v2/webhook", tokenward.UserManagement, s.createWebhook)
	s.authed("GET /api/v2/webhook/{id}", tokenward.UserManagement, s.getWebhook)
	s.authed("PUT /api/v2/webhook/{id}", tokenward.UserManagement, s.updateWebhook)
	s.authed("DELETE /api/v2/webhook/{id}", tokenward.UserManagement, s.deleteWebhook)
	s.authed("GET /api/v2/webhook/{id}/deliveries", tokenward.UserManagement, s.webhookDeliveries)
	s.authed("POST /api/v2/webhook/{id}/deliveries/{d}/redeliver", tokenward.UserManagement, s.redeliver)
}

// authenticated is the permission of routes open to any authenticated caller: the
// caller's own tokens and saved searches, and reading one's own account (the service
// decides what else such a caller may do).
const authenticated tokenward.Permission = ""

// Routes returns every route registered behind authentication, in registration order.
func (s *Server) Routes() []edge.Route { return slices.Clone(s.table) }

// authed registers h behind token authentication and the permission it needs. The check
// here comes before the handler reads anything, so that a caller without the permission
// learns nothing from validation messages; the service checks again on its own.
func (s *Server) authed(pattern string, needs tokenward.Permission, h edge.Handler) {
	s.table = append(s.table, edge.Route{Pattern: pattern, Needs: needs})
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err == nil && needs != authenticated {
			err = tokenward.RequireFor(p, needs)
		}
		if err == nil {
			p.Source = edge.ClientAddress(r, s.trustXFF)
			setExpiresHeader(w, p)
			err = h(w, r, p)
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
	// Named as net/http stores it: Get canonicalizes a name on every call, and
	// "X-AUTH-TOKEN" into a new string each time, an allocation a request.
	if h := strings.TrimSpace(r.Header.Get("X-Auth-Token")); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
			h = strings.TrimSpace(h[7:])
		}
		return h, true
	}
	return "", false
}

// invalidBudgetMessage is the refusal of an address over its invalid-token budget.
const invalidBudgetMessage = "too many requests with invalid tokens from this address; try again later"

// authenticate returns the principal the request's token speaks for, counting the outcome
// and timing it.
func (s *Server) authenticate(r *http.Request) (tokenward.Principal, error) {
	start := time.Now()
	token, present := credential(r)
	if !present {
		s.metrics.verifyMissing.Inc()
		return tokenward.Principal{}, tokenward.ErrNoCredentials
	}
	p, err := s.service.AuthenticateFrom(r.Context(), token, edge.CallerOf(r, s.trustXFF))
	s.metrics.verifySeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.verifyInvalid.Inc()
		// Only failures count, and only after verifying: a valid token is never refused
		// or slowed, whatever happened from its address.
		if s.invalid != nil && tokenward.ErrorCode(err) == tokenward.EUnauthorized {
			if over, wait := s.invalid.Fail(edge.ClientAddress(r, s.trustXFF)); over {
				return p, &tokenward.Error{Code: tokenward.ETooMany, RetryAfter: wait, Message: invalidBudgetMessage}
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

// setExpiresHeader tells the caller when its token expires (reference §13), as GitHub's
// API does, so that scripts can warn before it happens.
func setExpiresHeader(w http.ResponseWriter, p tokenward.Principal) {
	if !p.TokenExpires.IsZero() {
		w.Header().Set("Tokenward-Token-Expires", p.TokenExpires.UTC().Format(time.RFC3339))
	}
}
