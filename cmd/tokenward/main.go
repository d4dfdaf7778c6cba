// Command tokenward runs the tokenward server and its administration commands. main only
// wires things together: the rules live in the root package, SQL in internal/store, HTTP in
// internal/api.
//
// The command line is built on github.com/spf13/cobra: the best-known, maintained Go CLI
// library (kubectl, gh, hugo), with help for every command, POSIX flags through pflag and
// shell completion built in, so that `tokenward --help` reads like any well-kept Go CLI's
// and none of that is ours to maintain.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; otherwise it is
// taken from the module's build information.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// cli is what every command gets: its streams and environment, never globals.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// run executes one command line and returns the process exit code: 0 on success, 1 when
// the command failed, 2 for a usage error. An error is printed once, on stderr; only a
// usage error points to the command's help, a failure never dumps it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := c.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tokenward: %s\nRun \"%s --help\" for usage.\n", ue.msg, cmd.CommandPath())
		return 2
	default:
		fmt.Fprintf(stderr, "tokenward: %s\n", errorText(err))
		return 1
	}
}

// rootCommand returns the command tree. Every command silences cobra's own error and usage
// printing: run prints the one message, and the usage only for a usage error.
func (c *cli) rootCommand() *cobra.Command {
	root := c.group(&cobra.Command{
		Use:   "tokenward",
		Short: "Manage API tokens, user accounts and service accounts",
		Long: `tokenward manages API tokens, user accounts and service accounts, and serves the
Wavefront-compatible API and the console.

Every command that uses the database takes --db (env TOKENWARD_DB; default tokenward.db
in the working directory): a file path or sqlite:PATH selects SQLite, postgres://...
PostgreSQL. Commands work while a server runs on the same database (except restore).
Commands that print data take --output table (default) or --output json.

Exit codes: 0 success, 1 the command failed, 2 a usage error.`,
		Version: buildVersion(),
	})
	root.SetVersionTemplate("tokenward {{.Version}}\n")
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.AddGroup(&cobra.Group{ID: "server", Title: "Server:"}, &cobra.Group{ID: "admin", Title: "Accounts and tokens:"},
		&cobra.Group{ID: "data", Title: "Data:"})
	for _, cmd := range []*cobra.Command{c.serveCommand()} {
		cmd.GroupID = "server"
		root.AddCommand(cmd)
	}
	for _, cmd := range []*cobra.Command{c.tokenCommand(), c.accountCommand(), c.userCommand(), c.serviceAccountCommand(), c.policyCommand()} {
		cmd.GroupID = "admin"
		root.AddCommand(cmd)
	}
	for _, cmd := range []*cobra.Command{c.backupCommand(), c.restoreCommand()} {
		cmd.GroupID = "data"
		root.AddCommand(cmd)
	}
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print tokenward's version",
		Args:  exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(c.stdout, "tokenward", buildVersion())
			return nil
		},
	})
	return root
}

// group completes a command that only holds subcommands: it refuses an unknown one as a
// usage error (with cobra's suggestion), and prints its usage and exits 2 without one.
func (c *cli) group(cmd *cobra.Command) *cobra.Command {
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SuggestionsMinimumDistance = 2
	cmd.DisableFlagsInUseLine = true // "tokenward user [command]", not a runnable "tokenward user [flags]"
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return usageError{msg}
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		fmt.Fprint(c.stderr, cmd.UsageString())
		var names []string
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() && sub.Name() != "help" && sub.Name() != "completion" {
				names = append(names, sub.Name())
			}
		}
		if !cmd.HasParent() {
			return usageErrorf("missing command; one of: %s", strings.Join(names, ", "))
		}
		return usageErrorf("%s needs a subcommand: %s", commandName(cmd), strings.Join(names, ", "))
	}
	return cmd
}

// usageError is a bad command line: exit code 2 and a pointer to --help.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// exactArgs returns a cobra argument check that wants exactly the named positional
// arguments, as a usage error naming them.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(names) == 0 {
			return usageErrorf("%s takes no arguments, got %q", commandName(cmd), args)
		}
		return usageErrorf("%s needs %s", commandName(cmd), strings.Join(names, " "))
	}
}

// maxArgs returns a cobra argument check that takes at most the named, optional, positional
// arguments.
func maxArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= len(names) {
			return nil
		}
		return usageErrorf("%s takes at most %s, got %q", commandName(cmd), strings.Join(names, " "), args)
	}
}

// commandName is a command's path without the program's name: "token create".
func commandName(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// leaf completes a command that does the work: errors are printed once, by run.
func leaf(cmd *cobra.Command) *cobra.Command {
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd
}

// errorText is the message printed for a failed command: a tokenward error's public
// message, or the wrapped error's full text (the operator may see internals; never secrets,
// which no error carries).
func errorText(err error) string {
	var te *tokenward.Error
	if errors.As(err, &te) {
		return te.Message
	}
	return err.Error()
}

// dbFlag adds --db to cmd, defaulting to TOKENWARD_DB or tokenward.db, and returns where
// its value lands.
func (c *cli) dbFlag(cmd *cobra.Command) *string {
	dsn := c.getenv("TOKENWARD_DB")
	if dsn == "" {
		dsn = "tokenward.db"
	}
	return cmd.Flags().String("db", dsn, "a SQLite `DATABASE` file (or sqlite:PATH) or a postgres:// URL (env TOKENWARD_DB)")
}

// openService opens the database and returns the service over it.
func openService(ctx context.Context, dsn string) (*tokenward.Service, *store.DB, error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	return tokenward.NewService(tokenward.Config{Store: db}), db, nil
}

// withOperator opens the database, calls fn with the operator's methods over it (what the
// account and token commands do), and closes it.
func withOperator(ctx context.Context, dsn string, fn func(*tokenward.Operator) error) error {
	service, db, err := openService(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(tokenward.NewOperator(service))
}

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}
