package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tokenward/tokenward"
)

// output is --output: how a command prints what it reports. Table is for people; JSON is for
// scripts, with field names that stay as they are (snake_case, documented in the README).
type output string

const (
	outputTable output = "table"
	outputJSON  output = "json"
)

func (o *output) String() string { return string(*o) }
func (o *output) Type() string   { return "table|json" }

func (o *output) Set(v string) error {
	switch output(v) {
	case outputTable, outputJSON:
		*o = output(v)
		return nil
	}
	return fmt.Errorf("want table or json")
}

// outputFlag adds --output (-o) to cmd and returns where its value lands.
func outputFlag(cmd *cobra.Command) *output {
	o := outputTable
	cmd.Flags().VarP(&o, "output", "o", "how to print the result: table or json")
	_ = cmd.RegisterFlagCompletionFunc("output", completeFrom(string(outputTable), string(outputJSON)))
	return &o
}

// report prints the result of a command that changed something: v as JSON, or for a table
// one line of text made from format and args.
func (c *cli) report(o output, v any, format string, args ...any) error {
	if o == outputJSON {
		return writeJSON(c.stdout, v)
	}
	_, err := fmt.Fprintf(c.stdout, format+"\n", args...)
	return err
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// permissionNames lists every permission identifier, for help and for the error of a bad
// one.
func permissionNames() string { return strings.Join(permissionValues(), ", ") }

// permissionValues is every permission identifier, for completion.
func permissionValues() []string {
	names := make([]string, len(tokenward.AllPermissions))
	for i, p := range tokenward.AllPermissions {
		names[i] = string(p)
	}
	return names
}

// permissionHelp is the paragraph of help that lists the permissions.
func permissionHelp() string {
	return `Permissions are the Wavefront identifiers: token_management is the console's "API Tokens"
(a user may generate tokens), user_management is "Accounts" (an administrator); the
others are stored and reported for the services that use tokenward's verdicts.
` + wrap("Valid names: "+permissionNames()+".", helpWidth)
}

// permissionFlag adds --permission, repeatable and comma-separated, to cmd: the
// permissions an account is created with.
func permissionFlag(cmd *cobra.Command, perms *permissionsFlag) {
	cmd.Flags().Var(perms, "permission", "a permission to grant; repeat, or separate with commas (the valid names are above)")
	_ = cmd.RegisterFlagCompletionFunc("permission", completeFrom(permissionValues()...))
}

// permissionsFlag collects --permission, repeated or comma-separated.
type permissionsFlag struct{ set tokenward.PermissionSet }

func (f *permissionsFlag) String() string { return "" }
func (f *permissionsFlag) Type() string   { return "PERMISSION" }

func (f *permissionsFlag) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		p, err := tokenward.ParsePermission(name)
		if err != nil {
			return fmt.Errorf("%s; valid permissions: %s", errorText(err), permissionNames())
		}
		f.set |= tokenward.NewPermissionSet(p)
	}
	return nil
}

// accountView is an account as --output json prints it.
type accountView struct {
	Identifier           string                 `json:"identifier"`
	Type                 tokenward.AccountType  `json:"type"`
	Active               bool                   `json:"active"`
	Description          string                 `json:"description"`
	Permissions          []tokenward.Permission `json:"permissions"`
	EffectivePermissions []tokenward.Permission `json:"effective_permissions"`
	Roles                []string               `json:"roles"`
	Groups               []string               `json:"groups"`
	Created              time.Time              `json:"created"`
	LastLogin            *time.Time             `json:"last_login"` // null: never
	LastUsed             *time.Time             `json:"last_used"`  // null: never
}

func viewAccount(a tokenward.Account) accountView {
	return accountView{Identifier: a.Identifier, Type: a.Type(), Active: a.Active, Description: a.Description,
		Permissions: a.Permissions.List(), EffectivePermissions: a.Effective.List(),
		Roles: nonNil(a.Roles), Groups: nonNil(a.Groups), Created: a.Created.UTC(),
		LastLogin: optionalTime(a.LastLogin), LastUsed: optionalTime(a.LastUsed)}
}

// tokenView is a token as --output json prints it. Secret is there only when the command
// made the token: it is shown once.
type tokenView struct {
	ID          string                `json:"id"`
	Name        string                `json:"name"`
	Hint        string                `json:"hint"`
	Account     string                `json:"account"`
	AccountType tokenward.AccountType `json:"account_type"`
	Created     time.Time             `json:"created"`
	LastUsed    *time.Time            `json:"last_used"`         // null: never
	Expires     *time.Time            `json:"expires_at"`        // null: never
	Revoked     *time.Time            `json:"revoked,omitempty"` // only from token revoke
	Secret      string                `json:"secret,omitempty"`  // only from token create
	// AllowedCidrs: the networks it works from, null for anywhere; Permissions: those it
	// carries, null for all of its account's (reference §14).
	AllowedCidrs []string               `json:"allowed_cidrs"`
	Permissions  []tokenward.Permission `json:"permissions"`
}

func viewToken(t tokenward.Token) tokenView {
	v := tokenView{ID: t.ID, Name: t.Name, Hint: t.Hint, Account: t.Account, AccountType: t.AccountType,
		Created: t.Created.UTC(), LastUsed: optionalTime(t.LastUsed), Expires: optionalTime(t.Expires), Revoked: optionalTime(t.Revoked),
		AllowedCidrs: tokenward.CIDRStrings(t.AllowedNetworks)}
	if t.Permissions != nil {
		v.Permissions = t.Permissions.List()
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// when formats a time for a table: minutes in UTC, or "never".
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// tokenLabel is how tables show a token's secret without it: the console's ••••hint.
func tokenLabel(t tokenward.Token) string { return "••••" + t.Hint }

func joinPermissions(perms tokenward.PermissionSet) string {
	var names []string
	for _, p := range perms.List() {
		names = append(names, string(p))
	}
	return strings.Join(names, " ")
}

// writeTokens prints tokens as a table or a JSON array.
func writeTokens(w io.Writer, o output, tokens []tokenward.Token) error {
	return writeList(w, o, tokens, viewToken, []string{"ID", "NAME", "TOKEN", "ACCOUNT", "CREATED", "LAST USED", "EXPIRES"},
		func(t tokenward.Token) []string {
			return []string{t.ID, orDash(t.Name), tokenLabel(t), t.Account, when(t.Created), when(t.LastUsed), when(t.Expires)}
		})
}

// writeAccounts prints accounts as a table or a JSON array.
func writeAccounts(w io.Writer, o output, accounts []tokenward.Account) error {
	return writeList(w, o, accounts, viewAccount, []string{"IDENTIFIER", "TYPE", "PERMISSIONS", "CREATED", "LAST USED"},
		func(a tokenward.Account) []string {
			return []string{a.Identifier, string(a.Type()), orDash(joinPermissions(a.Effective)), when(a.Created), when(a.LastUsed)}
		})
}

// writeList prints items as a JSON array of their views, or as a table of the columns
// header names, one row of cells a line.
func writeList[T, V any](w io.Writer, o output, items []T, view func(T) V, header []string, cells func(T) []string) error {
	if o == outputJSON {
		views := make([]V, len(items))
		for i, item := range items {
			views[i] = view(item)
		}
		return writeJSON(w, views)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, item := range items {
		fmt.Fprintln(tw, strings.Join(cells(item), "\t"))
	}
	return tw.Flush()
}

// writeAccount prints one account: a JSON object, or one field a line.
func writeAccount(w io.Writer, o output, a tokenward.Account, tokens []tokenward.Token) error {
	if o == outputJSON {
		return writeJSON(w, viewAccount(a))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, row := range [][2]string{
		{"Identifier", a.Identifier}, {"Type", string(a.Type())}, {"Description", orDash(a.Description)},
		{"Permissions", orDash(joinPermissions(a.Permissions))}, {"Effective permissions", orDash(joinPermissions(a.Effective))},
		{"Roles", orDash(strings.Join(a.Roles, " "))}, {"Groups", orDash(strings.Join(a.Groups, " "))},
		{"Created", when(a.Created)}, {"Last sign-in", when(a.LastLogin)}, {"Last used", when(a.LastUsed)},
		{"Live tokens", fmt.Sprint(len(tokens))},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
