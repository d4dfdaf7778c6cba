package main

import (
	"strings"
	"testing"

	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
)

// TestTokenCreateRestrictions: token create --allowed-cidr and --permission bind a token
// to networks and a subset of its account's permissions, shown in the JSON output (null
// for none); bad values are refused with their name and generate nothing.
func TestTokenCreateRestrictions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		db := []string{"--db", storetest.DSN(t, engine)}
		cmd := func(args ...string) []string { return append(args, db...) }
		mustRun(t, cmd("serviceaccount", "create", "sa::bot", "--permission", "ingestion,dashboard_management")...)

		var bound map[string]any
		decode(t, mustRun(t, cmd("token", "create", "sa::bot", "--allowed-cidr", "127.0.0.1", "--allowed-cidr", "10.1.2.3/8",
			"--permission", "ingestion", "--output", "json")...), &bound)
		if got := stringsOf(bound["allowed_cidrs"]); got != "[10.0.0.0/8 127.0.0.1/32]" {
			t.Errorf("allowed_cidrs = %v; want [10.0.0.0/8 127.0.0.1/32]", bound["allowed_cidrs"])
		}
		if got := stringsOf(bound["permissions"]); got != "[ingestion]" {
			t.Errorf("permissions = %v; want [ingestion]", bound["permissions"])
		}
		var plain map[string]any
		decode(t, mustRun(t, cmd("token", "create", "sa::bot", "--output", "json")...), &plain)
		if plain["allowed_cidrs"] != nil || plain["permissions"] != nil {
			t.Errorf("a token without restrictions: allowed_cidrs %v, permissions %v; want null, null", plain["allowed_cidrs"], plain["permissions"])
		}

		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--allowed-cidr", "10.0.0.0/40"}, `"10.0.0.0/40" is not a CIDR`},
			{[]string{"--permission", "user_management"}, "sa::bot does not hold user_management"},
			{[]string{"--permission", "bogus"}, `unknown permission "bogus"`},
		} {
			_, errOut, code := runCLI(t, "", cmd(append([]string{"token", "create", "sa::bot"}, c.args...)...)...)
			if code != 1 || !strings.Contains(errOut, c.want) {
				t.Errorf("token create %v: exit %d, stderr %q; want 1 naming %q", c.args, code, errOut, c.want)
			}
		}
		list := mustRun(t, cmd("token", "list", "sa::bot")...)
		if n := strings.Count(list, "\n") - 1; n != 2 {
			t.Errorf("after refused creates, token list shows %d tokens; want 2:\n%s", n, list)
		}
	})
}

// stringsOf formats a decoded JSON list as [a b], or "<nil>" for null.
func stringsOf(v any) string {
	list, ok := v.([]any)
	if !ok {
		return "<nil>"
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i], _ = x.(string)
	}
	return "[" + strings.Join(out, " ") + "]"
}
