package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tokenward/tokenward"
)

// userCommand: tokenward user create|set-password|list.
func (c *cli) userCommand() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "user", Short: "Create and list user accounts, and set their passwords"})
	list := c.listOf("list", "List user accounts", constKind(tokenward.UserAccount))
	list.Example = "  tokenward user list\n  tokenward user list --output json"
	cmd.AddCommand(c.userCreate(), c.userSetPassword(), list)
	return cmd
}

// userCreate: tokenward user create EMAIL [--permission P]... [--password-stdin|--password-prompt]
func (c *cli) userCreate() *cobra.Command {
	var perms permissionsFlag
	var passwordStdin, passwordPrompt bool
	cmd := leaf(&cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a user account",
		Long: `Create a user account. Without --password-stdin or --password-prompt it has no password
and cannot sign in to the console until one is set (tokenward user set-password).

` + permissionHelp(),
		Example: `  tokenward user create jane@example.com --permission token_management
  printf '%s\n' "$PASSWORD" | tokenward user create ops@example.com --permission user_management --password-stdin`,
		Args: exactArgs("EMAIL"),
	})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	permissionFlag(cmd, &perms)
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the account's password from the first line of standard input")
	cmd.Flags().BoolVar(&passwordPrompt, "password-prompt", false, "ask for the account's password on the terminal, without echo")
	cmd.MarkFlagsMutuallyExclusive("password-stdin", "password-prompt")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var password string
		var err error
		switch {
		case passwordStdin:
			password, err = c.readPasswordLine()
		case passwordPrompt:
			password, err = c.promptPassword(args[0])
		}
		if err != nil {
			return err
		}
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			created, err := o.CreateUser(cmd.Context(), args[0], perms.set, password)
			if err != nil {
				return err
			}
			return c.showAccount(cmd.Context(), o, *out, created.Identifier)
		})
	}
	return cmd
}

// userSetPassword: tokenward user set-password EMAIL [--password-stdin]. For recovery: it
// also ends the account's console sessions.
func (c *cli) userSetPassword() *cobra.Command {
	var passwordStdin bool
	cmd := leaf(&cobra.Command{
		Use:   "set-password EMAIL",
		Short: "Set a user's password and end their console sessions",
		Long: `Set a user account's password, for recovery, and end its console sessions. On a terminal
it asks for the password twice, without echo; a script pipes it in with --password-stdin.
A password is never taken from the command line, where other users could see it.`,
		Example: `  tokenward user set-password admin@localhost
  printf '%s\n' "$PASSWORD" | tokenward user set-password admin@localhost --password-stdin`,
		Args: exactArgs("EMAIL"),
	})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the new password from the first line of standard input")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var password string
		var err error
		if passwordStdin {
			password, err = c.readPasswordLine()
		} else {
			password, err = c.promptPassword(args[0])
		}
		if err != nil {
			return err
		}
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			if err := o.SetPassword(cmd.Context(), args[0], password); err != nil {
				return err
			}
			a, err := o.Account(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return c.report(*out, viewAccount(a), "password set for %s; its console sessions were ended", a.Identifier)
		})
	}
	return cmd
}

// serviceAccountCommand: tokenward serviceaccount create|list.
func (c *cli) serviceAccountCommand() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "serviceaccount", Short: "Create and list service accounts, for automation"})
	list := c.listOf("list", "List service accounts", constKind(tokenward.ServiceAccount))
	list.Example = "  tokenward serviceaccount list\n  tokenward serviceaccount list --output json"
	cmd.AddCommand(c.serviceAccountCreate(), list)
	return cmd
}

// serviceAccountCreate: tokenward serviceaccount create sa::NAME [--permission P]...
func (c *cli) serviceAccountCreate() *cobra.Command {
	var perms permissionsFlag
	var description string
	cmd := leaf(&cobra.Command{
		Use:   "create sa::NAME",
		Short: "Create a service account",
		Long: `Create an active service account ("sa::" is added when missing). Generate its tokens
with tokenward token create sa::NAME. A service account never holds token_management.

` + permissionHelp(),
		Example: `  tokenward serviceaccount create sa::ci-bot --permission ingestion --description "CI uploads"`,
		Args:    exactArgs("sa::NAME"),
	})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	permissionFlag(cmd, &perms)
	cmd.Flags().StringVar(&description, "description", "", "`TEXT` saying what the service account is for")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			created, err := o.CreateServiceAccount(cmd.Context(), args[0], perms.set, description)
			if err != nil {
				return err
			}
			return c.showAccount(cmd.Context(), o, *out, created.Identifier)
		})
	}
	return cmd
}

// accountCommand: tokenward account list|show|deactivate|activate|delete, for accounts of
// either kind.
func (c *cli) accountCommand() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "account", Short: "List, show, deactivate, activate and delete accounts"})
	cmd.AddCommand(c.accountList(), c.accountShow(), c.accountSetActive(false), c.accountSetActive(true), c.accountDelete())
	return cmd
}

// accountList: tokenward account list [--type user|service]
func (c *cli) accountList() *cobra.Command {
	var kind string
	cmd := c.listOf("list", "List accounts: users and service accounts", func() tokenward.AccountKind { return tokenward.AccountKind(kind) })
	cmd.Example = "  tokenward account list\n  tokenward account list --type service --output json"
	cmd.Flags().StringVar(&kind, "type", "", "only accounts of this `TYPE`: user or service")
	_ = cmd.RegisterFlagCompletionFunc("type", completeFrom("user", "service"))
	cmd.PreRunE = func(*cobra.Command, []string) error {
		switch tokenward.AccountKind(kind) {
		case "", tokenward.UserAccount, tokenward.ServiceAccount:
			return nil
		}
		return usageErrorf("--type must be user or service, not %q", kind)
	}
	return cmd
}

// listOf returns a command that lists the live accounts of the kind that kind returns when
// it runs ("" for both).
func (c *cli) listOf(use, short string, kind func() tokenward.AccountKind) *cobra.Command {
	cmd := leaf(&cobra.Command{Use: use, Short: short, Args: exactArgs()})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			accounts, err := o.Accounts(cmd.Context(), kind())
			if err != nil {
				return err
			}
			return writeAccounts(c.stdout, *out, accounts)
		})
	}
	return cmd
}

// accountShow: tokenward account show ACCOUNT
func (c *cli) accountShow() *cobra.Command {
	cmd := leaf(&cobra.Command{Use: "show ACCOUNT", Short: "Show an account: its type, permissions, roles, groups and activity",
		Example: "  tokenward account show admin@localhost\n  tokenward account show sa::ci-bot --output json",
		Args:    exactArgs("ACCOUNT")})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			return c.showAccount(cmd.Context(), o, *out, args[0])
		})
	}
	return cmd
}

// showAccount prints an account as it is now, with its effective permissions and its
// live tokens counted: account show, and what the create commands print.
func (c *cli) showAccount(ctx context.Context, o *tokenward.Operator, out output, id string) error {
	a, err := o.Account(ctx, id)
	if err != nil {
		return err
	}
	tokens, err := o.Tokens(ctx, a.Identifier)
	if err != nil {
		return err
	}
	return writeAccount(c.stdout, out, a, tokens)
}

// accountSetActive: tokenward account activate|deactivate sa::NAME
func (c *cli) accountSetActive(active bool) *cobra.Command {
	use, short, done := "deactivate sa::NAME", "Deactivate a service account: its tokens fail at once, and are kept", "deactivated"
	if active {
		use, short, done = "activate sa::NAME", "Activate a deactivated service account: its tokens work again", "activated"
	}
	cmd := leaf(&cobra.Command{Use: use, Short: short, Args: exactArgs("sa::NAME"),
		Long:    short + ".\nUser accounts are always active: delete one, or revoke its tokens, to stop it.",
		Example: "  tokenward account " + strings.Fields(use)[0] + " sa::ci-bot"})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			a, err := o.SetActive(cmd.Context(), args[0], active)
			if err != nil {
				return err
			}
			return c.report(*out, viewAccount(a), "%s service account %s", done, a.Identifier)
		})
	}
	return cmd
}

// accountDelete: tokenward account delete ACCOUNT
func (c *cli) accountDelete() *cobra.Command {
	cmd := leaf(&cobra.Command{Use: "delete ACCOUNT", Short: "Delete an account, revoking its tokens and ending its sessions",
		Long: `Delete an account (a user or a service account): every token of it is revoked and every
console session ended, at once. This cannot be undone. The last administrator (an account
holding user_management) cannot be deleted.`,
		Example: "  tokenward account delete sa::ci-bot\n  tokenward account delete jane@example.com --output json",
		Args:    exactArgs("ACCOUNT")})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			a, err := o.DeleteAccount(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return c.report(*out, viewAccount(a), "deleted account %s; its tokens are revoked and its sessions ended", a.Identifier)
		})
	}
	return cmd
}

func constKind(k tokenward.AccountKind) func() tokenward.AccountKind {
	return func() tokenward.AccountKind { return k }
}
