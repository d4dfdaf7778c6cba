// Command tokenward runs the tokenward server and its administration commands. main only
// wires things together: the rules live in the root package, SQL in internal/store, HTTP in
// internal/api.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

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

const usage = `tokenward manages API tokens, user accounts and service accounts.

Usage:
  tokenward serve [--listen ADDR] [--org NAME] [--admin-email EMAIL]
  tokenward user create EMAIL [--permission P]... [--password-stdin]
  tokenward user set-password EMAIL --password-stdin
  tokenward serviceaccount create sa::NAME [--permission P]... [--description TEXT]
  tokenward token create ACCOUNT [--name NAME]
  tokenward backup FILE          (SQLite: an online, consistent copy)
  tokenward restore FILE         (SQLite: stop the servers first)
  tokenward version

Every command takes --db (env TOKENWARD_DB; default tokenward.db in the working
directory): a file path or sqlite:PATH selects SQLite, postgres://... PostgreSQL.
Run "tokenward COMMAND --help" for a command's flags.
`

// run executes one command line and returns the process exit code: 0 on success, 1 when
// the command failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = c.serve(ctx, rest)
	case "user":
		err = c.subcommand(ctx, "user", rest, map[string]func(context.Context, []string) error{
			"create": c.userCreate, "set-password": c.userSetPassword})
	case "serviceaccount":
		err = c.subcommand(ctx, "serviceaccount", rest, map[string]func(context.Context, []string) error{"create": c.serviceAccountCreate})
	case "token":
		err = c.subcommand(ctx, "token", rest, map[string]func(context.Context, []string) error{"create": c.tokenCreate})
	case "backup":
		err = c.backup(ctx, rest)
	case "restore":
		err = c.restore(ctx, rest)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "tokenward", buildVersion())
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		err = usageErrorf("unknown command %q", cmd)
	}
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tokenward: %s\nRun \"tokenward --help\" for usage.\n", ue.msg)
		return 2
	default:
		fmt.Fprintf(stderr, "tokenward: %s\n", errorText(err))
		return 1
	}
}

// usageError is a bad command line: exit code 2 and a pointer to --help.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

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

func (c *cli) subcommand(ctx context.Context, name string, args []string, cmds map[string]func(context.Context, []string) error) error {
	names := slices.Sorted(maps.Keys(cmds))
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintf(c.stdout, "Usage: tokenward %s %s ...\n", name, strings.Join(names, "|"))
		if len(args) == 0 {
			return usageErrorf("%s needs a subcommand: %s", name, strings.Join(names, ", "))
		}
		return nil
	}
	fn, ok := cmds[args[0]]
	if !ok {
		return usageErrorf("unknown command %q %q", name, args[0])
	}
	return fn(ctx, args[1:])
}

// newFlagSet returns a flag set that reports errors instead of exiting, with --db.
func (c *cli) newFlagSet(name, synopsis string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "Usage: tokenward %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	dsn := c.getenv("TOKENWARD_DB")
	if dsn == "" {
		dsn = "tokenward.db"
	}
	return fs, fs.String("db", dsn, "database: a SQLite file path or sqlite:PATH, or a postgres:// URL (env TOKENWARD_DB)")
}

// parse parses flags that may come before, between or after positional arguments, and
// checks the number of positional arguments.
func parse(fs *flag.FlagSet, args []string, positional ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageErrorf("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
	}
	if len(pos) != len(positional) {
		if len(positional) == 0 {
			return nil, usageErrorf("%s takes no arguments, got %q", fs.Name(), pos)
		}
		return nil, usageErrorf("%s needs %s", fs.Name(), strings.Join(positional, " "))
	}
	return pos, nil
}

// openService opens the database and returns the service over it.
func openService(ctx context.Context, dsn string) (*tokenward.Service, *store.DB, error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	return tokenward.NewService(tokenward.Config{Store: db}), db, nil
}

// openOperator opens the database and returns the operator's methods over it: what the
// account and token commands do.
func openOperator(ctx context.Context, dsn string) (*tokenward.Operator, *store.DB, error) {
	service, db, err := openService(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	return tokenward.NewOperator(service), db, nil
}

// permissionsFlag collects --permission, repeated or comma-separated.
type permissionsFlag struct{ set tokenward.PermissionSet }

func (f *permissionsFlag) String() string { return "" }

func (f *permissionsFlag) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		p, err := tokenward.ParsePermission(name)
		if err != nil {
			return errors.New(errorText(err))
		}
		f.set |= tokenward.NewPermissionSet(p)
	}
	return nil
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
