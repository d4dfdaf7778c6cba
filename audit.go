package tokenward

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode"
)

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
)

// Actor is who a request acts as, carried in its context down to the store, which writes
// the audit event in the transaction of the change.
type Actor struct {
	Account string
	Source  string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor of the changes made with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries, or the operator at the command line when none.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{Account: "operator", Source: "command line"}
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
