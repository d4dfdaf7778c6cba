package tokenward

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// TokenTarget names a token in the audit trail: public id and owner, never the secret.
func TokenTarget(id, account string) string { return id + " of " + account }

// TokenGenerated, TokenRenamed and TokenRevoked are the events of a token's life; account
// is its owner's identifier.
func TokenGenerated(by AuditEvent, t Token, account string) AuditEvent {
	detail := "name: " + t.Name
	if t.AllowedNetworks != nil {
		detail += "; allowed networks: " + NetworkList(t.AllowedNetworks)
	}
	if t.Permissions != nil {
		detail += "; permissions: " + PermissionList(*t.Permissions)
	}
	return by.As(AuditTokenGenerate, TokenTarget(t.ID, account), detail).NotifyToken(EventTokenGenerated, t.ID, nil)
}

// TokenNetworksSet is the event of a change of the networks a token works from (nil:
// anywhere).
func TokenNetworksSet(by AuditEvent, id, account string, networks []netip.Prefix) AuditEvent {
	return by.As(AuditTokenNetworks, TokenTarget(id, account), "allowed networks: "+NetworkList(networks))
}

// TokenUsedOutsideNetworks is the event of t presented from outside its allowed networks;
// by.Source is the address it came from. It has no actor: whoever presented the token is
// not authenticated.
func TokenUsedOutsideNetworks(by AuditEvent, t Token) AuditEvent {
	return by.As(AuditTokenOutsideNetworks, TokenTarget(t.ID, t.Account),
		"presented from outside its allowed networks ("+NetworkList(t.AllowedNetworks)+"): it may have leaked").
		NotifyToken(EventTokenOutsideNetworks, t.ID, Detail{"address": by.Source})
}

// NetworkList is a token's allowed networks as the audit trail writes them.
func NetworkList(networks []netip.Prefix) string {
	if networks == nil {
		return "anywhere"
	}
	return strings.Join(CIDRStrings(networks), ", ")
}

func TokenRenamed(by AuditEvent, id, account, name string) AuditEvent {
	return by.As(AuditTokenRename, TokenTarget(id, account), "name: "+name).NotifyToken(EventTokenRenamed, id, nil)
}

// TokenRevoked's notice is token.revoked, unless by carries a notice about the same token:
// the reason for the revocation (a leak report), which then is the one event of the change.
func TokenRevoked(by AuditEvent, id, account string) AuditEvent {
	e := by.As(AuditTokenRevoke, TokenTarget(id, account), "")
	if n := by.Notice; n != nil && n.Token != nil && n.Token.ID == id {
		e.Notice = n
		return e
	}
	return e.NotifyToken(EventTokenRevoked, id, nil)
}

// TokenRevokedByJob is TokenRevoked for a token that a bulk revocation job revoked: the
// same event, its detail naming the job.
func TokenRevokedByJob(by AuditEvent, id, account, job string) AuditEvent {
	e := TokenRevoked(by, id, account)
	e.Detail = "bulk revocation " + job
	return e
}

// RevokeJobStarted is the event of creating a bulk revocation job of total tokens.
func RevokeJobStarted(by AuditEvent, j RevokeJob) AuditEvent {
	return by.As(AuditTokenRevokeBulk, "bulk revocation "+j.ID, fmt.Sprintf("%s: %d tokens", j.Scope, j.Total))
}

// TokenRotated is the event of a token's rotation; its previous secret works until graceEnds
// (when after by.At).
func TokenRotated(by AuditEvent, id, account string, graceEnds time.Time) AuditEvent {
	detail := "the previous secret stopped working"
	if graceEnds.After(by.At) {
		detail = "the previous secret works until " + graceEnds.UTC().Format(time.RFC3339)
	}
	var graceEndsAt any // null: the previous secret stopped working at once
	if graceEnds.After(by.At) {
		graceEndsAt = graceEnds.UnixMilli()
	}
	return by.As(AuditTokenRotate, TokenTarget(id, account), detail).
		NotifyToken(EventTokenRotated, id, Detail{"gracePeriodEndsAt": graceEndsAt})
}

// TokenExpiring is the lifecycle sweep's notice that t expires within daysLeft days (one
// of 30, 7 and 1); account is its owner's identifier.
func TokenExpiring(by AuditEvent, t Token, account string, daysLeft int) AuditEvent {
	return bySweep(by.As(AuditTokenExpiring, TokenTarget(t.ID, account),
		fmt.Sprintf("daysLeft: %d; expires at %s", daysLeft, t.Expires.UTC().Format(time.RFC3339))).
		NotifyToken(EventTokenExpiring, t.ID, Detail{"daysLeft": daysLeft}))
}

// TokenExpired is the lifecycle sweep's notice that t expired.
func TokenExpired(by AuditEvent, t Token, account string) AuditEvent {
	return bySweep(by.As(AuditTokenExpired, TokenTarget(t.ID, account), "expired at "+t.Expires.UTC().Format(time.RFC3339)).
		NotifyToken(EventTokenExpired, t.ID, nil))
}

// TokenIdleDisabled is the event of the lifecycle sweep disabling t, unused for longer than
// the policy's idle timeout.
func TokenIdleDisabled(by AuditEvent, t Token, account string) AuditEvent {
	last := t.Created
	for _, at := range []time.Time{t.Rotated, t.LastUsed} {
		if at.After(last) {
			last = at
		}
	}
	return bySweep(by.As(AuditTokenIdleDisabled, TokenTarget(t.ID, account), "unused since "+last.UTC().Format(time.RFC3339)).
		NotifyToken(EventTokenIdleDisabled, t.ID, Detail{"unusedSince": last.UnixMilli()}))
}

// bySweep gives e's notice no actor when the lifecycle sweep made it: nobody acted (the
// audit trail still names the sweep). A policy change that disables idle tokens at once
// keeps the administrator who made it.
func bySweep(e AuditEvent) AuditEvent {
	if e.Notice != nil && e.Actor == sweeper.Account && e.Source == sweeper.Source {
		e.Notice.Actor = ""
	}
	return e
}

// TokenReused is the event of a rotated token's previous secret presented after its grace
// period (AuditTokenReused), by nobody the service can name.
func TokenReused(at time.Time, t Token) AuditEvent {
	return AuditEvent{At: at, Action: AuditTokenReused, Target: TokenTarget(t.ID, t.Account),
		Detail: "the secret its rotation replaced was used after the grace period ended: it may have leaked"}.
		NotifyToken(EventTokenReused, t.ID, nil)
}
