package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
)

// Token lifecycle in the console (issue 14 part 5): the expiry picker of every Generate
// form, Rotate… in every token row's menu, and the token lifetime policy page.

const day = 24 * time.Hour

// presetDays are the lifetimes the expiry picker offers besides custom and never.
var presetDays = []int{7, 30, 60, 90}

// expiryOption is one choice of the expiry picker.
type expiryOption struct {
	Value, Label string
	Selected     bool
}

// expiryPicker is what a Generate form shows of the policy: the choices its limits allow
// and which one is selected (the policy's default, never when it has none).
type expiryPicker struct {
	Options    []expiryOption
	CustomDays int // the custom field's value when the default is not a preset
	MaxDays    int // 0: no maximum
	Hint       string
}

// newExpiryPicker returns the picker for tokens under limits.
func newExpiryPicker(limits tokenward.LifetimeLimits) expiryPicker {
	def := limits.Default
	if def == 0 {
		def = limits.Max // a maximum without a default: new tokens get the longest allowed
	}
	p := expiryPicker{MaxDays: int(limits.Max / day)}
	selected := ""
	if def == 0 {
		selected = "never"
	}
	for _, n := range presetDays {
		if limits.Max > 0 && time.Duration(n)*day > limits.Max {
			continue
		}
		v := strconv.Itoa(n)
		if def == time.Duration(n)*day {
			selected = v
		}
		p.Options = append(p.Options, expiryOption{Value: v, Label: v + " days"})
	}
	if selected == "" {
		selected = "custom"
		p.CustomDays = int((def + day - 1) / day)
	}
	p.Options = append(p.Options, expiryOption{Value: "custom", Label: "Custom…"})
	if limits.Max == 0 {
		p.Options = append(p.Options, expiryOption{Value: "never", Label: "Never"})
	}
	for i := range p.Options {
		p.Options[i].Selected = p.Options[i].Value == selected
	}
	switch {
	case limits.Max > 0:
		p.Hint = "The organization's tokens expire within " + lifetimeText(limits.Max) + " at most."
	case limits.Default > 0:
		p.Hint = "The organization's default is " + lifetimeText(limits.Default) + "."
	}
	return p
}

// lifetimeText is a duration in days when it is whole days.
func lifetimeText(d time.Duration) string {
	if d%day == 0 {
		return plural(int(d/day), "day")
	}
	return d.String()
}

// formLifetime reads the expiry picker of a posted form: "expires" is a number of days,
// "custom" (the days in "expires_days") or "never"; absent, the policy's default.
func formLifetime(r *http.Request) (tokenward.Lifetime, error) {
	v := r.PostFormValue("expires")
	switch v {
	case "":
		return tokenward.Lifetime{}, nil
	case "never":
		return tokenward.Lifetime{Never: true}, nil
	case "custom":
		v = strings.TrimSpace(r.PostFormValue("expires_days"))
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || time.Duration(n)*day > tokenward.MaxLifetime {
		return tokenward.Lifetime{}, tokenward.Errorf(tokenward.EInvalid, "Expires: a number of days between 1 and %d", int(tokenward.MaxLifetime/day))
	}
	return tokenward.Lifetime{In: time.Duration(n) * day}, nil
}

// formRotation reads a rotate form: "grace" is 0, 1h or 24h.
func formRotation(r *http.Request) (tokenward.Rotation, error) {
	switch r.PostFormValue("grace") {
	case "", "0":
		return tokenward.Rotation{}, nil
	case "1h":
		return tokenward.Rotation{Grace: time.Hour}, nil
	case "24h":
		return tokenward.Rotation{Grace: 24 * time.Hour}, nil
	}
	return tokenward.Rotation{}, tokenward.Errorf(tokenward.EInvalid, "Grace period: none, 1 hour or 24 hours")
}

// rotatedNotice tells what became of the previous secret.
func rotatedNotice(rot tokenward.Rotation) string {
	if rot.Grace == 0 {
		return "Token rotated: its previous secret stopped working."
	}
	return "Token rotated: its previous secret keeps working for " + plural(int(rot.Grace/time.Hour), "hour") + "."
}

func (c *Console) rotateOwnToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.rotateToken(w, r, func() (view, error) { return c.apiAccessView(r, p) },
		func(rot tokenward.Rotation) (tokenward.Secret, []tokenward.Token, error) {
			return c.service.RotateOwnToken(r.Context(), p, r.PathValue("id"), rot)
		},
		func(t tokenward.Token) (string, string) { return "/console/profile/api-access", t.Name })
}

func (c *Console) rotateServiceAccountToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.rotateToken(w, r, func() (view, error) { return c.accountView(r, p, tokenward.ServiceAccount) },
		func(rot tokenward.Rotation) (tokenward.Secret, []tokenward.Token, error) {
			return c.service.RotateServiceAccountToken(r.Context(), p, r.PathValue("id"), r.PathValue("token"), rot)
		},
		func(t tokenward.Token) (string, string) {
			return "/console/accounts/service-accounts/" + url.PathEscape(r.PathValue("id")), t.Name
		})
}

func (c *Console) rotateOrgToken(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.rotateToken(w, r, func() (view, error) { return c.orgTokensView(r, p) },
		func(rot tokenward.Rotation) (tokenward.Secret, []tokenward.Token, error) {
			return c.service.RotateOrgToken(r.Context(), p, r.PostFormValue("token"), rot)
		},
		func(t tokenward.Token) (string, string) { return back(r), t.Name + " of " + t.Account })
}

// rotateToken reads a rotation form and rotates the token with rotate: a refusal shows on
// the page page builds; the new secret is shown once on the page done names, with the name
// it gives the rotated token.
func (c *Console) rotateToken(w http.ResponseWriter, r *http.Request, page func() (view, error),
	rotate func(tokenward.Rotation) (tokenward.Secret, []tokenward.Token, error),
	done func(rotated tokenward.Token) (to, name string)) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	rot, err := formRotation(r)
	var secret tokenward.Secret
	var tokens []tokenward.Token
	if err == nil {
		secret, tokens, err = rotate(rot)
	}
	if err != nil {
		return onPage(err, page)
	}
	to, name := done(tokens[len(tokens)-1])
	return c.redirect(w, r, to, flash{Notice: rotatedNotice(rot), Secret: &revealedToken{Secret: secret.Reveal(), Name: name}})
}

// policyData is the token policy page: the policy as stored, or as posted when the page
// shows a preview or an error, and the preview's count.
type policyData struct {
	Form    policyForm
	Policy  tokenward.TokenPolicy
	Preview *tokenward.PolicyEffect
}

// policyForm is the policy form's fields, in days ("" is none).
type policyForm struct{ UserDefault, UserMax, UserIdle, SADefault, SAMax, SAIdle string }

func daysField(d time.Duration) string {
	if d == 0 {
		return ""
	}
	if d%day == 0 {
		return strconv.Itoa(int(d / day))
	}
	return strconv.FormatFloat(d.Hours()/24, 'f', -1, 64)
}

func formOfPolicy(p tokenward.TokenPolicy) policyForm {
	return policyForm{
		UserDefault: daysField(p.UserTokens.Default), UserMax: daysField(p.UserTokens.Max), UserIdle: daysField(p.UserTokens.IdleTimeout),
		SADefault: daysField(p.ServiceAccountTokens.Default), SAMax: daysField(p.ServiceAccountTokens.Max), SAIdle: daysField(p.ServiceAccountTokens.IdleTimeout),
	}
}

// parseDays reads a field of whole days; empty is none.
func parseDays(label, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || time.Duration(n)*day > tokenward.MaxLifetime {
		return 0, tokenward.Errorf(tokenward.EInvalid, "%s: a number of days between 1 and %d, or empty for none", label, int(tokenward.MaxLifetime/day))
	}
	return time.Duration(n) * day, nil
}

func (f policyForm) policy() (tokenward.TokenPolicy, error) {
	var p tokenward.TokenPolicy
	var err error
	for _, field := range []struct {
		label, v string
		to       *time.Duration
	}{
		{"User tokens, default lifetime", f.UserDefault, &p.UserTokens.Default},
		{"User tokens, maximum lifetime", f.UserMax, &p.UserTokens.Max},
		{"User tokens, idle timeout", f.UserIdle, &p.UserTokens.IdleTimeout},
		{"Service-account tokens, default lifetime", f.SADefault, &p.ServiceAccountTokens.Default},
		{"Service-account tokens, maximum lifetime", f.SAMax, &p.ServiceAccountTokens.Max},
		{"Service-account tokens, idle timeout", f.SAIdle, &p.ServiceAccountTokens.IdleTimeout},
	} {
		if *field.to, err = parseDays(field.label, field.v); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (c *Console) policyView(r *http.Request, p tokenward.Principal, d *policyData) (view, error) {
	policy, err := c.service.TokenPolicy(r.Context(), p)
	if err != nil {
		return view{}, err
	}
	if d == nil {
		d = &policyData{Form: formOfPolicy(policy)}
	}
	d.Policy = policy
	return view{Title: "Token policy", Nav: "token-policy", Data: d}, nil
}

func (c *Console) tokenPolicy(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	return c.page(w, r, "token-policy", func() (view, error) { return c.policyView(r, p, nil) })
}

// setTokenPolicy previews (action=preview: the page again, with how many tokens the
// change makes expire sooner and disables as idle, nothing changed) or saves the posted
// policy.
func (c *Console) setTokenPolicy(w http.ResponseWriter, r *http.Request, p tokenward.Principal) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	d := &policyData{Form: policyForm{
		UserDefault: r.PostFormValue("user_default"), UserMax: r.PostFormValue("user_max"), UserIdle: r.PostFormValue("user_idle"),
		SADefault: r.PostFormValue("sa_default"), SAMax: r.PostFormValue("sa_max"), SAIdle: r.PostFormValue("sa_idle"),
	}}
	back := func() (view, error) { return c.policyView(r, p, d) }
	policy, err := d.Form.policy()
	if err != nil {
		return onPage(err, back)
	}
	preview := r.PostFormValue("action") == "preview"
	effect, err := c.service.SetTokenPolicy(r.Context(), p, policy, preview)
	if err != nil {
		return onPage(err, back)
	}
	if preview {
		d.Preview = &effect
		v, err := back()
		if err != nil {
			return err
		}
		c.render(w, r, http.StatusOK, "token-policy", v)
		return nil
	}
	notice := "Token policy saved."
	if effect.ExpireSooner > 0 {
		notice += " " + plural(effect.ExpireSooner, "existing token") + " now expire sooner."
	}
	if effect.IdleDisabled > 0 {
		notice += " " + plural(effect.IdleDisabled, "idle token") + " disabled."
	}
	return c.redirect(w, r, "/console/accounts/token-policy", flash{Notice: notice})
}
