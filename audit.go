package tokenward

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// AuditStore is what the audit trail needs from the database.
type AuditStore interface {
	// RecordAudit writes an audit event that belongs to no other change (a failed sign-in);
	// the store writes every other event in the transaction of its change.
	RecordAudit(ctx context.Context, e AuditEvent) error
	// AuditEvents returns a page of audit events matching f, newest first.
	AuditEvents(ctx context.Context, f AuditFilter) (Page[AuditEvent], error)
}

// AuditEvent is one entry of the audit trail: who did what to what, when and from where.
// It never holds a secret: tokens appear by public id.
type AuditEvent struct {
	ID     int64
	At     time.Time
	Actor  string // the account that acted; "" for an anonymous attempt (a failed sign-in)
	Source string // the client's address, or "command line"
	Action string
	Target string // an account identifier, or a token's public id and owner
	Detail string
	// Notice, when set, is the event for webhooks this entry also is (event.go): the store
	// writes it to the outbox in the same transaction. Attach it with NotifyToken or
	// NotifyAccount.
	Notice *Event
}

// Visible returns an audit value for display. The trail stores what a request sent, as
// sent (an unauthenticated sign-in names any "email"); shown raw, a newline could forge a
// second entry and a bidirectional override could reverse what a reader sees. A value
// holding a control or invisible format character is shown quoted with those characters
// escaped (`"evil\u202e"`), and the quotes tell it from a value that merely reads so.
func Visible(s string) string {
	if strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar
	}) < 0 {
		return s
	}
	return strconv.Quote(s)
}

// Audit actions.
const (
	AuditTokenGenerate     = "token.generate"
	AuditTokenRename       = "token.rename"
	AuditTokenRevoke       = "token.revoke"
	AuditTokenRotate       = "token.rotate"
	AuditTokenExpiring     = "token.expiring"      // the lifecycle sweep: 30, 7 or 1 days left
	AuditTokenExpired      = "token.expired"       // the lifecycle sweep: the expiry passed
	AuditTokenIdleDisabled = "token.idle_disabled" // the lifecycle sweep: unused too long
	AuditTokenNetworks     = "token.networks"      // its allowed networks changed
	AuditAccountCreate     = "account.create"
	AuditAccountUpdate     = "account.update"
	AuditAccountDelete     = "account.delete"
	AuditAccountActivate   = "account.activate"
	AuditAccountDeactivate = "account.deactivate"
	AuditPermissionGrant   = "permission.grant"
	AuditPermissionRevoke  = "permission.revoke"
	AuditPasswordSet       = "password.set"
	AuditSignIn            = "signin.success"
	AuditSignInFailure     = "signin.failure" // the password was checked, and was wrong
	AuditSignInLimited     = "signin.limited" // refused before any check: a spent budget, no room
	AuditSavedSearchCreate = "savedsearch.create"
	AuditSavedSearchUpdate = "savedsearch.update"
	AuditSavedSearchDelete = "savedsearch.delete"
	AuditRoleCreate        = "role.create"
	AuditRoleUpdate        = "role.update"
	AuditRoleDelete        = "role.delete"
	AuditGroupCreate       = "group.create"
	AuditGroupUpdate       = "group.update"
	AuditGroupDelete       = "group.delete"
	AuditPolicyUpdate      = "policy.update"
)

// AuditTokenOutsideNetworks is the event of a token presented from outside the networks it
// is bound to: whoever presents it is not where its owner said it would be used, so it may
// have leaked.
const AuditTokenOutsideNetworks = "token.used_outside_allowed_networks"

// operator is the principal of the operator at the command line, as the audit trail names
// it. It holds no permission: the operator's methods (Operator) check none.
var operator = Principal{Account: "operator", Source: "command line"}

// by returns the audit event that a write p makes now starts from: its actor, source and
// instant (the service's clock). The service hands it to the store write; the store, inside
// the write's transaction, turns it into the write's events with the constructors below
// and inserts them, so the trail and the change commit together, and what an event says
// is decided here, in one file, not in SQL code.
func (s *Service) by(p Principal) AuditEvent {
	return AuditEvent{At: s.clock(), Actor: p.Account, Source: p.Source}
}

// As returns e for another action, target and detail: the events of one write share its
// actor, source and instant. The result has no notice: each entry attaches its own, so one
// notice is never written twice.
func (e AuditEvent) As(action, target, detail string) AuditEvent {
	e.Action, e.Target, e.Detail, e.Notice = action, target, detail, nil
	return e
}

// RoleTarget and GroupTarget name a role and a group in the audit trail.
func RoleTarget(name, id string) string  { return "role " + name + " (" + id + ")" }
func GroupTarget(name, id string) string { return "group " + name + " (" + id + ")" }

// PermissionList is a permission set as the audit trail writes it.
func PermissionList(set PermissionSet) string {
	var names []string
	for _, p := range set.List() {
		names = append(names, string(p))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// SignedIn is the event of a successful sign-in, whose actor is the account signing in.
func SignedIn(by AuditEvent, identifier string) AuditEvent {
	by.Actor = identifier
	return by.As(AuditSignIn, identifier, "")
}

// PasswordSet is the event of setting an account's password, which ends its sessions.
func PasswordSet(by AuditEvent, identifier string) AuditEvent {
	return by.As(AuditPasswordSet, identifier, "console sessions ended")
}

// SavedSearchWritten is the event of creating, updating or deleting a saved search.
func SavedSearchWritten(by AuditEvent, action, id, entityType string) AuditEvent {
	return by.As(action, "saved search "+id, entityType)
}

// RoleCreated, RoleDeleted, GroupCreated and GroupDeleted are the events of a role's and
// a group's life.
func RoleCreated(by AuditEvent, r Role) AuditEvent {
	return by.As(AuditRoleCreate, RoleTarget(r.Name, r.ID), "permissions: "+PermissionList(r.Permissions))
}

func RoleDeleted(by AuditEvent, name, id string) AuditEvent {
	return by.As(AuditRoleDelete, RoleTarget(name, id), "")
}

func GroupCreated(by AuditEvent, g UserGroup) AuditEvent {
	return by.As(AuditGroupCreate, GroupTarget(g.Name, g.ID), "roles: "+strings.Join(g.Roles, ", "))
}

func GroupDeleted(by AuditEvent, name, id string) AuditEvent {
	return by.As(AuditGroupDelete, GroupTarget(name, id), "")
}

// AccountCreated is the event of creating a, by the actor and at the instant of by.
func AccountCreated(by AuditEvent, a Account) AuditEvent {
	detail := "permissions: " + PermissionList(a.Permissions)
	if len(a.Roles) > 0 {
		detail += "; roles: " + strings.Join(a.Roles, ", ")
	}
	if len(a.Groups) > 0 {
		detail += "; groups: " + strings.Join(a.Groups, ", ")
	}
	return by.As(AuditAccountCreate, a.Identifier, detail).
		NotifyAccount(EventAccountCreated, a.Identifier, Detail{"permissions": permissionStrings(a.Permissions)})
}

// permissionStrings lists a permission set for an event's detail: never null.
func permissionStrings(set PermissionSet) []string {
	names := []string{}
	for _, p := range set.List() {
		names = append(names, string(p))
	}
	return names
}

// AccountChanged returns the events of one account change against the account as the
// write's transaction locked it (before): activation, the description, each permission
// granted or revoked, the roles and groups set. The store calls it inside that transaction,
// so the events describe exactly what the write changed, whatever ran concurrently.
func AccountChanged(by AuditEvent, before Account, c AccountChange) []AuditEvent {
	var events []AuditEvent
	if c.Active != nil && *c.Active != before.Active {
		action := AuditAccountDeactivate
		if *c.Active {
			action = AuditAccountActivate
		}
		events = append(events, by.As(action, before.Identifier, ""))
	}
	if c.Description != nil && *c.Description != before.Description {
		events = append(events, by.As(AuditAccountUpdate, before.Identifier, "description changed"))
	}
	if c.Permissions != nil {
		first := len(events)
		granted, revoked := []string{}, []string{}
		for _, p := range AllPermissions {
			had, has := before.Permissions.Has(p), c.Permissions.Has(p)
			switch {
			case has && !had:
				events = append(events, by.As(AuditPermissionGrant, before.Identifier, string(p)))
				granted = append(granted, string(p))
			case had && !has:
				events = append(events, by.As(AuditPermissionRevoke, before.Identifier, string(p)))
				revoked = append(revoked, string(p))
			}
		}
		if len(events) > first { // one notice for the whole change, on its first entry
			events[first] = events[first].NotifyAccount(EventAccountPermissionsChanged, before.Identifier,
				Detail{"granted": granted, "revoked": revoked})
		}
	}
	if c.Roles != nil {
		events = append(events, by.As(AuditAccountUpdate, before.Identifier, "roles: "+strings.Join(*c.Roles, ", ")))
	}
	if c.Groups != nil {
		events = append(events, by.As(AuditAccountUpdate, before.Identifier, "groups: "+strings.Join(*c.Groups, ", ")))
	}
	return events
}

// AccountDeleted is the event of deleting an account, which revoked that many tokens.
func AccountDeleted(by AuditEvent, identifier string, revoked int64) AuditEvent {
	return by.As(AuditAccountDelete, identifier, fmt.Sprintf("%d tokens revoked", revoked)).
		NotifyAccount(EventAccountDeleted, identifier, Detail{"tokensRevoked": revoked})
}

// AuditSearch is what the audit trail can be filtered by.
type AuditFilter struct {
	Actor, Target, Action string
	Start, End            time.Time // zero: open
	Offset, Limit         int
}

// AuditTrail returns a page of audit events, newest first. Errors: EForbidden.
func (s *Service) AuditTrail(ctx context.Context, p Principal, f AuditFilter) (Page[AuditEvent], error) {
	if err := RequireAccounts(p); err != nil {
		return Page[AuditEvent]{}, err
	}
	req := SearchRequest{Offset: f.Offset, Limit: f.Limit}
	if err := req.Normalize(SearchSpec{DefaultSort: SearchSort{Field: "time"}}); err != nil {
		return Page[AuditEvent]{}, err
	}
	f.Offset, f.Limit = req.Offset, req.Limit
	return s.store.AuditEvents(ctx, f)
}

// RoleChanged is the event of one change to a role, as its write's transaction saw it: the
// role's name after the change, the name it had when renamed ("" otherwise), and the
// identifiers of the accounts assigned (added) and taken from it (removed).
func RoleChanged(by AuditEvent, c RoleChange, name, renamedFrom string, added, removed []string) AuditEvent {
	details := nameAndDescription(renamedFrom, c.Description)
	if c.Permissions != nil {
		details = append(details, "permissions: "+PermissionList(*c.Permissions))
	}
	for _, l := range []struct {
		verb  string
		names []string
	}{
		{"assigned to accounts", added}, {"taken from accounts", removed},
		{"assigned to groups", c.AddGroups}, {"taken from groups", c.RemoveGroups},
	} {
		if len(l.names) > 0 {
			details = append(details, l.verb+" "+strings.Join(l.names, ", "))
		}
	}
	return by.As(AuditRoleUpdate, RoleTarget(name, c.ID), strings.Join(details, "; "))
}

// GroupChanged is the event of one change to a user group, as RoleChanged is for roles.
func GroupChanged(by AuditEvent, c GroupChange, name, renamedFrom string, added, removed []string) AuditEvent {
	details := nameAndDescription(renamedFrom, c.Description)
	if c.Roles != nil {
		details = append(details, "roles: "+strings.Join(*c.Roles, ", "))
	}
	for _, l := range []struct {
		verb  string
		names []string
	}{
		{"roles added", c.AddRoles}, {"roles removed", c.RemoveRoles},
		{"members added", added}, {"members removed", removed},
	} {
		if len(l.names) > 0 {
			details = append(details, l.verb+": "+strings.Join(l.names, ", "))
		}
	}
	return by.As(AuditGroupUpdate, GroupTarget(name, c.ID), strings.Join(details, "; "))
}

func nameAndDescription(renamedFrom string, description *string) []string {
	var details []string
	if renamedFrom != "" {
		details = append(details, "renamed from "+renamedFrom)
	}
	if description != nil {
		details = append(details, "description set")
	}
	return details
}
