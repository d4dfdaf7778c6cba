package tokenward

import (
	"math/bits"
	"strings"
)

// Permission is one of the permission identifiers of the Wavefront API. tokenward enforces
// two of them itself (TokenManagement and UserManagement); it stores and reports the others
// for the services that ask tokenward who a caller is.
type Permission string

// The permission identifiers, in the order the reference lists them. The order is part of
// the on-disk format of nothing (permissions are stored by name) but fixes each one's bit
// in a PermissionSet.
const (
	LogManagement                         Permission = "log_management"
	DashboardManagement                   Permission = "dashboard_management"
	EventsManagement                      Permission = "events_management"
	AlertsManagement                      Permission = "alerts_management"
	DerivedMetricsManagement              Permission = "derived_metrics_management"
	HostTagManagement                     Permission = "host_tag_management"
	AgentManagement                       Permission = "agent_management"
	TokenManagement                       Permission = "token_management"
	Ingestion                             Permission = "ingestion"
	UserManagement                        Permission = "user_management"
	EmbeddedCharts                        Permission = "embedded_charts"
	MetricsManagement                     Permission = "metrics_management"
	ExternalLinksManagement               Permission = "external_links_management"
	ApplicationManagement                 Permission = "application_management"
	BatchQueryPriority                    Permission = "batch_query_priority"
	SAMLSSOManagement                     Permission = "saml_sso_management"
	MonitoredApplicationServiceManagement Permission = "monitored_application_service_management"
)

// AllPermissions lists every known permission in reference order.
var AllPermissions = []Permission{
	LogManagement, DashboardManagement, EventsManagement, AlertsManagement,
	DerivedMetricsManagement, HostTagManagement, AgentManagement, TokenManagement,
	Ingestion, UserManagement, EmbeddedCharts, MetricsManagement, ExternalLinksManagement,
	ApplicationManagement, BatchQueryPriority, SAMLSSOManagement,
	MonitoredApplicationServiceManagement,
}

// ParsePermission returns the permission named s (case-insensitive, surrounding spaces
// ignored), or an EInvalid error naming s when it is not a known identifier.
func ParsePermission(s string) (Permission, error) {
	p := Permission(strings.ToLower(strings.TrimSpace(s)))
	if p.bit() == 0 {
		return "", Errorf(EInvalid, "unknown permission %q", s)
	}
	return p, nil
}

// bit returns the permission's bit in a PermissionSet, or 0 for an unknown permission.
func (p Permission) bit() PermissionSet {
	for i, q := range AllPermissions {
		if p == q {
			return 1 << i
		}
	}
	return 0
}

// PermissionSet is a set of permissions as a bit mask, so that checking a permission on the
// verification path is one AND and copying a set allocates nothing.
type PermissionSet uint32

// NewPermissionSet returns the set of the given permissions; unknown ones are ignored.
func NewPermissionSet(ps ...Permission) PermissionSet {
	var s PermissionSet
	for _, p := range ps {
		s |= p.bit()
	}
	return s
}

// Has reports whether p is in the set.
func (s PermissionSet) Has(p Permission) bool {
	b := p.bit()
	return b != 0 && s&b == b
}

// EffectivePermissions is the one rule of what an account may do (reference §11): the
// permissions granted to it directly and those of its roles and its groups' roles, but
// never token_management for a service account, which generates no tokens for itself
// whatever role it is given.
func EffectivePermissions(kind AccountKind, direct, fromRoles PermissionSet) PermissionSet {
	set := direct | fromRoles
	if kind == ServiceAccount {
		set &^= NewPermissionSet(TokenManagement)
	}
	return set
}

// List returns the set's permissions in reference order; never nil, so it encodes as [].
func (s PermissionSet) List() []Permission {
	out := make([]Permission, 0, bits.OnesCount32(uint32(s)))
	for i, p := range AllPermissions {
		if s&(1<<i) != 0 {
			out = append(out, p)
		}
	}
	return out
}

// RequireAccounts is the check every account-management operation starts with: EForbidden
// unless p holds user_management. Handlers call it before validating a request body, so
// that a caller without the permission learns nothing from validation messages.
func RequireAccounts(p Principal) error { return require(p, UserManagement, "managing accounts") }

// RequireFor is the check a route declares for the permission it needs, in the words the
// service uses for the same check: EForbidden when p lacks perm.
func RequireFor(p Principal, perm Permission) error {
	if perm == UserManagement {
		return RequireAccounts(p)
	}
	return RequirePermission(p, perm)
}
