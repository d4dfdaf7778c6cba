package api

import (
	"net/http"
	"time"

	"github.com/tokenward/tokenward"
)

// The organization's token lifetime policy (reference §13): GET and PUT
// /api/v2/apitoken/policy, PUT ?dryRun=true counting what a change would do.

// lifetimeLimits is one kind of account's limits in seconds; null: none.
type lifetimeLimits struct {
	DefaultLifetimeSeconds *int64 `json:"defaultLifetimeSeconds"`
	MaxLifetimeSeconds     *int64 `json:"maxLifetimeSeconds"`
	IdleTimeoutSeconds     *int64 `json:"idleTimeoutSeconds"`
}

type policyBody struct {
	UserTokens           lifetimeLimits `json:"userTokens"`
	ServiceAccountTokens lifetimeLimits `json:"serviceAccountTokens"`
	TokenFormat          string         `json:"tokenFormat"`
	Updated              *int64         `json:"updatedEpochMillis,omitempty"`
	UpdatedBy            string         `json:"updatedBy,omitempty"`
}

func seconds(d time.Duration) *int64 {
	if d == 0 {
		return nil
	}
	s := int64(d / time.Second)
	return &s
}

func toLimits(l tokenward.LifetimeLimits) lifetimeLimits {
	return lifetimeLimits{DefaultLifetimeSeconds: seconds(l.Default), MaxLifetimeSeconds: seconds(l.Max), IdleTimeoutSeconds: seconds(l.IdleTimeout)}
}

// limits reads one kind's limits. The service checks the idle timeout's bounds
// (tokenward.MinIdleTimeout, MaxLifetime), which the console shares.
func (l lifetimeLimits) limits(which string) (tokenward.LifetimeLimits, error) {
	var out tokenward.LifetimeLimits
	for _, f := range []struct {
		name string
		in   *int64
		out  *time.Duration
	}{{"defaultLifetimeSeconds", l.DefaultLifetimeSeconds, &out.Default}, {"maxLifetimeSeconds", l.MaxLifetimeSeconds, &out.Max},
		{"idleTimeoutSeconds", l.IdleTimeoutSeconds, &out.IdleTimeout}} {
		if f.in == nil {
			continue
		}
		if *f.in <= 0 || *f.in > int64(tokenward.MaxLifetime/time.Second) {
			return out, tokenward.Errorf(tokenward.EInvalid, "%s.%s must be between 1 and %d, or null", which, f.name, int64(tokenward.MaxLifetime/time.Second))
		}
		*f.out = time.Duration(*f.in) * time.Second
	}
	return out, nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	policy, err := s.service.TokenPolicy(r.Context(), p)
	if err != nil {
		return err
	}
	out := policyBody{UserTokens: toLimits(policy.UserTokens), ServiceAccountTokens: toLimits(policy.ServiceAccountTokens),
		TokenFormat: string(policy.Format), UpdatedBy: policy.UpdatedBy, Updated: optionalMillis(policy.Updated)}
	writeOK(w, out)
	return nil
}

func (s *Server) setPolicy(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	var body policyBody
	if err := decodeBody(w, r, &body, false); err != nil {
		return err
	}
	// Absent or null: uuid, since PUT replaces the whole policy.
	format, err := tokenward.ParseTokenFormat(body.TokenFormat)
	if err != nil {
		return err
	}
	policy := tokenward.TokenPolicy{Format: format}
	if policy.UserTokens, err = body.UserTokens.limits("userTokens"); err != nil {
		return err
	}
	if policy.ServiceAccountTokens, err = body.ServiceAccountTokens.limits("serviceAccountTokens"); err != nil {
		return err
	}
	dryRun := r.URL.Query().Get("dryRun") == "true"
	effect, err := s.service.SetTokenPolicy(r.Context(), p, policy, dryRun)
	if err != nil {
		return err
	}
	writeOK(w, map[string]any{"affected": map[string]int{"expireSooner": effect.ExpireSooner, "idleDisabled": effect.IdleDisabled}, "dryRun": dryRun})
	return nil
}
