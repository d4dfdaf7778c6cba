package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tokenward/tokenward"
)

// tokenCommand: tokenward token list|create|rename|revoke.
func (c *cli) tokenCommand() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "token", Short: "List, create, rename, rotate and revoke API tokens",
		Long: `List, create, rename, rotate and revoke API tokens of any account. A token is named
by its public id (tw_..., shown by token list) or by its secret; give - to read it from
standard input, since a secret on the command line is visible to other users.`})
	cmd.AddCommand(c.tokenList(), c.tokenCreate(), c.tokenRename(), c.tokenRevoke(), c.tokenRotate())
	return cmd
}

// tokenList: tokenward token list [ACCOUNT]
func (c *cli) tokenList() *cobra.Command {
	cmd := leaf(&cobra.Command{Use: "list [ACCOUNT]", Short: "List the live tokens of an account, or of every account",
		Example: "  tokenward token list\n  tokenward token list sa::ci-bot --output json",
		Args:    maxArgs("ACCOUNT")})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			var tokens []tokenward.Token
			var err error
			if len(args) == 1 {
				tokens, err = o.Tokens(cmd.Context(), args[0])
			} else {
				tokens, err = o.AllTokens(cmd.Context())
			}
			if err != nil {
				return err
			}
			return writeTokens(c.stdout, *out, tokens)
		})
	}
	return cmd
}

// tokenCreate: tokenward token create ACCOUNT [--name NAME] [--force]. Its table output is
// only the secret, so that scripts can capture it: T=$(tokenward token create admin@localhost).
func (c *cli) tokenCreate() *cobra.Command {
	var name string
	var force bool
	cmd := leaf(&cobra.Command{Use: "create ACCOUNT", Short: "Generate a token for an account and print its secret, once",
		Long: `Generate a token for a user or service account and print its secret: this once, never
again. The 20-token cap applies. As in the API, a user account needs the token_management
permission ("API Tokens") to have tokens; --force generates one anyway. Without
--expires-in or --never-expires the token gets the organization's default lifetime
(none unless a policy sets one). --allowed-cidr (repeatable) binds the token to networks;
--permission (repeatable) gives it only those of the account's permissions.`,
		Example: `  T=$(tokenward token create admin@localhost --name laptop)
  tokenward token create sa::ci-bot --name deploy --output json
  tokenward token create sa::ci-bot --name nightly --expires-in 720h
  tokenward token create sa::ci-bot --name runner --allowed-cidr 10.0.0.0/8 --permission ingestion`,
		Args: exactArgs("ACCOUNT")})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.Flags().StringVar(&name, "name", "", "the token's `NAME`")
	cmd.Flags().BoolVar(&force, "force", false, "generate it even for a user account without token_management")
	lifetime, restrictions := lifetimeFlags(cmd), restrictionFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		life, err := lifetime()
		if err != nil {
			return err
		}
		restrict, err := restrictions()
		if err != nil {
			return err
		}
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			generate := o.GenerateTokenAsAPI
			if force {
				generate = o.GenerateTokenFor
			}
			secret, t, err := generate(cmd.Context(), args[0], name, life, restrict)
			if tokenward.ErrorCode(err) == tokenward.EForbidden {
				return fmt.Errorf("%s; grant it, or pass --force to generate the token anyway", errorText(err))
			}
			if err != nil {
				return err
			}
			return c.printSecret(*out, secret, t)
		})
	}
	return cmd
}

// tokenRename: tokenward token rename TOKEN NAME
func (c *cli) tokenRename() *cobra.Command {
	cmd := leaf(&cobra.Command{Use: "rename TOKEN NAME", Short: "Rename a live token, named by its id or secret",
		Example: "  tokenward token rename tw_abcdefghijklmnop laptop-2024", Args: exactArgs("TOKEN", "NAME")})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return c.withTokenRef(cmd.Context(), *dsn, args[0], func(o *tokenward.Operator, ref string) error {
			t, err := o.RenameToken(cmd.Context(), ref, args[1])
			if err != nil {
				return err
			}
			return c.report(*out, viewToken(t), "renamed token %s (%s) of %s to %q", t.ID, tokenLabel(t), t.Account, t.Name)
		})
	}
	return cmd
}

// tokenRevoke: tokenward token revoke TOKEN
func (c *cli) tokenRevoke() *cobra.Command {
	cmd := leaf(&cobra.Command{Use: "revoke TOKEN", Short: "Revoke a live token, named by its id or secret; irreversible",
		Long: `Revoke a live token of any account, named by its public id or its secret (- reads it from
standard input). Servers on the database refuse it within the propagation bound (see the
README). Revocation cannot be undone.`,
		Example: "  tokenward token revoke tw_abcdefghijklmnop\n  printf '%s\\n' \"$LEAKED\" | tokenward token revoke -",
		Args:    exactArgs("TOKEN")})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return c.withTokenRef(cmd.Context(), *dsn, args[0], func(o *tokenward.Operator, ref string) error {
			t, err := o.RevokeToken(cmd.Context(), ref)
			if err != nil {
				return err
			}
			return c.report(*out, viewToken(t), "revoked token %s (%s) of %s", t.ID, tokenLabel(t), t.Account)
		})
	}
	return cmd
}

// tokenRotate: tokenward token rotate TOKEN [--grace 1h] [--expires-in D | --never-expires].
// Like create, its table output is only the new secret.
func (c *cli) tokenRotate() *cobra.Command {
	var grace time.Duration
	cmd := leaf(&cobra.Command{Use: "rotate TOKEN", Short: "Give a live token a new secret and print it, once",
		Long: `Give a live token of any account, named by its public id or its secret (- reads it from
standard input), a new secret: the same token (id, name, place under the 20-token cap)
that answers to a new secret from now on. The previous secret keeps working for --grace
(0 to 24h; 0: it stops at once), so that its users can switch without an outage. The new
secret's lifetime is --expires-in, --never-expires or the organization's default.`,
		Example: `  NEW=$(tokenward token rotate tw_abcdefghijklmnop --grace 1h)
  printf '%s\n' "$OLD" | tokenward token rotate - --grace 0`,
		Args: exactArgs("TOKEN")})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long the previous secret keeps working, at most 24h")
	lifetime := lifetimeFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		life, err := lifetime()
		if err != nil {
			return err
		}
		return c.withTokenRef(cmd.Context(), *dsn, args[0], func(o *tokenward.Operator, ref string) error {
			secret, t, err := o.RotateToken(cmd.Context(), ref, tokenward.Rotation{Grace: grace, Life: life})
			if err != nil {
				return err
			}
			return c.printSecret(*out, secret, t)
		})
	}
	return cmd
}

// lifetimeFlags adds --expires-in and --never-expires to cmd and returns what they ask for.
func lifetimeFlags(cmd *cobra.Command) func() (tokenward.Lifetime, error) {
	var life tokenward.Lifetime
	cmd.Flags().DurationVar(&life.In, "expires-in", 0, "the secret's lifetime, e.g. 720h (within the organization's maximum)")
	cmd.Flags().BoolVar(&life.Never, "never-expires", false, "the token never expires (refused when the organization has a maximum)")
	return func() (tokenward.Lifetime, error) {
		if life.In < 0 || (life.Never && life.In != 0) {
			return life, usageErrorf("--expires-in must be positive, and cannot go with --never-expires")
		}
		return life, nil
	}
}

// printSecret prints a new secret, once: alone as a table (so that T=$(...) captures it),
// or with its token as JSON.
func (c *cli) printSecret(o output, secret tokenward.Secret, t tokenward.Token) error {
	if o == outputJSON {
		v := viewToken(t)
		v.Secret = secret.Reveal()
		return writeJSON(c.stdout, v)
	}
	_, err := fmt.Fprintln(c.stdout, secret.Reveal())
	return err
}

// tokenRef returns the token a command names: arg itself, or for "-" the first line of
// standard input.
func (c *cli) tokenRef(arg string) (string, error) {
	if arg != "-" {
		return arg, nil
	}
	line, err := c.readPasswordLine()
	if err != nil {
		return "", usageErrorf("-: standard input holds no token id or secret")
	}
	return strings.TrimSpace(line), nil
}

// withTokenRef runs fn with the token the argument names (its id or secret; - reads it
// from standard input) and the operator of the database dsn names.
func (c *cli) withTokenRef(ctx context.Context, dsn, arg string, fn func(o *tokenward.Operator, ref string) error) error {
	ref, err := c.tokenRef(arg)
	if err != nil {
		return err
	}
	return withOperator(ctx, dsn, func(o *tokenward.Operator) error { return fn(o, ref) })
}

// restrictionFlags adds --allowed-cidr and --permission to cmd and returns the reader of
// the restrictions they ask for (none when neither is given).
func restrictionFlags(cmd *cobra.Command) func() (tokenward.Restrictions, error) {
	var cidrs, perms []string
	cmd.Flags().StringArrayVar(&cidrs, "allowed-cidr", nil, "a network (`CIDR` or address) the token works from; repeat for several; default anywhere")
	cmd.Flags().StringArrayVar(&perms, "permission", nil, "a `PERMISSION` of the account's that the token carries; repeat for several; default all")
	_ = cmd.RegisterFlagCompletionFunc("permission", completeFrom(permissionValues()...))
	return func() (tokenward.Restrictions, error) {
		var r tokenward.Restrictions
		if cmd.Flags().Changed("allowed-cidr") {
			networks, err := tokenward.ParseAllowedCIDRs(cidrs)
			if err != nil {
				return r, err
			}
			r.Networks = networks
		}
		if cmd.Flags().Changed("permission") {
			set, err := tokenward.ParsePermissionList(perms)
			if err != nil {
				return r, err
			}
			r.Permissions = &set
		}
		return r, nil
	}
}
