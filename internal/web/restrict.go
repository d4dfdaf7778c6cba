package web

import (
	"net/http"
	"strings"

	"github.com/tokenward/tokenward"
)

// The console's side of token restrictions (reference §14): the generate forms' networks
// field and permission picker, and the edit dialog's networks field.

// formNetworks reads a form's "allowed_cidrs" field: CIDRs or addresses separated by
// commas, spaces or lines; empty: anywhere. Errors: EInvalid naming the bad entry.
func formNetworks(r *http.Request) ([]string, error) {
	text := strings.TrimSpace(r.PostFormValue("allowed_cidrs"))
	if text == "" {
		return nil, nil
	}
	return strings.FieldsFunc(text, func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t' }), nil
}

// formRestrictions reads a generate form's restrictions: the networks field and the
// permission picker ("scope" is "all", the default, or "subset" with the chosen
// "permission" boxes). Errors: EInvalid naming a bad CIDR or an unknown permission.
func formRestrictions(r *http.Request) (tokenward.Restrictions, error) {
	list, _ := formNetworks(r)
	networks, err := tokenward.ParseAllowedCIDRs(list)
	if err != nil {
		return tokenward.Restrictions{}, err
	}
	out := tokenward.Restrictions{Networks: networks}
	if r.PostFormValue("scope") == "subset" {
		set, err := tokenward.ParsePermissionList(r.PostForm["permission"])
		if err != nil {
			return out, err
		}
		out.Permissions = &set
	}
	return out, nil
}

// formGenerate reads a generate form: the token's lifetime and restrictions. A form that
// cannot be read fails outright, a bad value on the page back builds.
func formGenerate(w http.ResponseWriter, r *http.Request, back func() (view, error)) (tokenward.Lifetime, tokenward.Restrictions, error) {
	if err := parseForm(w, r); err != nil {
		return tokenward.Lifetime{}, tokenward.Restrictions{}, err
	}
	life, err := formLifetime(r)
	if err != nil {
		return life, tokenward.Restrictions{}, onPage(err, back)
	}
	restrict, err := formRestrictions(r)
	return life, restrict, onPage(err, back)
}

// formEdit reads a token's edit dialog: its name and networks, both always posted.
func formEdit(r *http.Request) (tokenward.TokenEdit, error) {
	name := r.PostFormValue("name")
	edit := tokenward.TokenEdit{Name: &name}
	if _, posted := r.PostForm["allowed_cidrs"]; !posted {
		return edit, nil // an older form: the name only
	}
	list, _ := formNetworks(r)
	networks, err := tokenward.ParseAllowedCIDRs(list)
	if err != nil {
		return edit, err
	}
	edit.Networks = &networks
	return edit, nil
}

// networksField is a token's networks as the edit dialog's field shows them; "" for anywhere.
func networksField(t tokenward.Token) string {
	return strings.Join(tokenward.CIDRStrings(t.AllowedNetworks), ", ")
}

// networksText is a token's networks as a table shows them.
func networksText(t tokenward.Token) string {
	switch {
	case t.AllowedNetworks == nil:
		return "Anywhere"
	case len(t.AllowedNetworks) == 0:
		return "Nowhere"
	}
	return strings.Join(tokenward.CIDRStrings(t.AllowedNetworks), ", ")
}

// scopeText is a token's permissions as a table shows them.
func scopeText(t tokenward.Token) string {
	if t.Permissions == nil {
		return "All of the account's"
	}
	if *t.Permissions == 0 {
		return "None"
	}
	return tokenward.PermissionList(*t.Permissions)
}
