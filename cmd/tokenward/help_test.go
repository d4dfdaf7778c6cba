package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commands returns every command of the tree under root that a person may run or ask
// help for, cobra's help command aside.
func commands(root *cobra.Command) []*cobra.Command {
	var all []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		all = append(all, cmd)
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() && sub.Name() != "help" {
				walk(sub)
			}
		}
	}
	walk(root)
	return all
}

// TestHelpReadsWell holds `tokenward --help` and every command's help to what a well-kept
// Go CLI's reads like: each command has a one-line description (a capital, no full stop),
// a command with subcommands lists each with its description and shows no usage line of
// its own, flags are POSIX (--name, never -name) and name their values (--db DATABASE,
// not --db string), paragraphs are wrapped, examples start with the command, and every
// command that prints data takes --output.
func TestHelpReadsWell(t *testing.T) {
	root := (&cli{getenv: func(string) string { return "" }}).rootCommand()
	singleDash := regexp.MustCompile(`^\s+-[a-z][a-z-]+\b`)
	listed := regexp.MustCompile(`^  (\S+)\s+(\S.*)$`)
	for _, cmd := range commands(root) {
		path := cmd.CommandPath()
		out, errOut, code := runCLI(t, "", append(strings.Fields(strings.TrimPrefix(path, "tokenward")), "--help")...)
		if code != 0 || errOut != "" || out == "" {
			t.Errorf("%s --help: exit %d, stderr %q", path, code, errOut)
			continue
		}
		if s := cmd.Short; s == "" || !unicode.IsUpper([]rune(s)[0]) || strings.HasSuffix(s, ".") || strings.Contains(s, "\n") {
			t.Errorf("%s: short description %q, want one line, a capital, no full stop", path, s)
		}
		for _, line := range strings.Split(cmd.Long, "\n") {
			if len([]rune(line)) > 90 {
				t.Errorf("%s: a line of its description is %d characters, want at most 90: %q", path, len([]rune(line)), line)
			}
		}
		for _, line := range strings.Split(cmd.Example, "\n") {
			if cmd.Example != "" && !strings.HasPrefix(line, "  tokenward ") && !strings.Contains(line, "| tokenward ") && !strings.Contains(line, "$(tokenward ") &&
				!strings.HasPrefix(line, "\t") && cmd.Parent() != nil && cmd.Parent().Name() != "completion" {
				t.Errorf("%s: example %q does not run tokenward", path, line)
			}
		}
		lines := strings.Split(out, "\n")
		for _, line := range lines {
			if singleDash.MatchString(line) {
				t.Errorf("%s --help: a single-dash long flag: %q", path, line)
			}
		}
		if cmd.HasAvailableSubCommands() {
			if slices.Contains(lines, "  "+path) {
				t.Errorf("%s --help: a bare %q usage line, as if it ran on its own", path, path)
			}
			for _, sub := range cmd.Commands() {
				if !sub.IsAvailableCommand() {
					continue
				}
				found := false
				for _, line := range lines {
					if m := listed.FindStringSubmatch(line); m != nil && m[1] == sub.Name() && m[2] == sub.Short {
						found = true
					}
				}
				if !found {
					t.Errorf("%s --help does not list %s with its description %q", path, sub.Name(), sub.Short)
				}
			}
		}
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if name, _ := pflag.UnquoteUsage(f); slices.Contains([]string{"string", "stringArray", "int", "strings"}, name) {
				t.Errorf("%s --%s: its value is called %q; name it (`NAME` in the usage)", path, f.Name, name)
			}
			if usage := f.Usage; len(usage) > 110 {
				t.Errorf("%s --%s: a %d-character description, want at most 110 (details go in the command's description)", path, f.Name, len(usage))
			}
		})
		runs := cmd.Runnable() && !cmd.HasAvailableSubCommands()
		exempt := slices.Contains([]string{"serve", "version"}, cmd.Name()) || cmd.Parent() != nil && cmd.Parent().Name() == "completion" || cmd.Name() == "completion"
		if runs && !exempt && cmd.Flags().Lookup("output") == nil {
			t.Errorf("%s takes no --output", path)
		}
	}
}

// TestShellCompletion: completion scripts for the four shells, and completions of the
// flags whose values are a fixed list.
func TestShellCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if out, errOut, code := runCLI(t, "", "completion", shell); code != 0 || !strings.Contains(out, "tokenward") {
			t.Errorf("completion %s: exit %d, stderr %q, %d bytes", shell, code, errOut, len(out))
		}
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"tok"}, []string{"token"}},
		{[]string{"token", "list", "--output", ""}, []string{"table", "json"}},
		{[]string{"user", "create", "x@example.com", "--permission", ""}, []string{"token_management", "user_management", "ingestion"}},
		{[]string{"token", "create", "sa::x", "--permission", "inge"}, []string{"ingestion"}},
		{[]string{"account", "list", "--type", ""}, []string{"user", "service"}},
		{[]string{"policy", "set", "--token-format", ""}, []string{"uuid", "prefixed"}},
		{[]string{"serve", "--log-format", ""}, []string{"text", "json"}},
	}
	for _, tc := range tests {
		out, errOut, code := runCLI(t, "", append([]string{cobra.ShellCompRequestCmd}, tc.args...)...)
		if code != 0 {
			t.Errorf("complete %q: exit %d, %q", tc.args, code, errOut)
			continue
		}
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if line != "" && !strings.HasPrefix(line, ":") {
				name, _, _ := strings.Cut(line, "\t")
				got = append(got, name)
			}
		}
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("complete %q: %q, want %q among them", tc.args, got, w)
			}
		}
	}
}
