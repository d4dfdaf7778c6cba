package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/tokenward/tokenward"
)

// policyCommand: tokenward policy show|set, the organization's token lifetime policy.
func (c *cli) policyCommand() *cobra.Command {
	cmd := c.group(&cobra.Command{Use: "policy", Short: "Show or set the organization's token lifetime policy",
		Long: `The token lifetime policy, separately for user and service-account tokens: the lifetime
of a token generated without one (default), the longest any may have (max) and how long
one may go unused before it is disabled (idle). None of them keeps Wavefront's behaviour:
tokens live until revoked. The policy also sets the format of new secrets: uuid
(Wavefront's) or prefixed (twt_..., which secret scanners recognize).`})
	cmd.AddCommand(c.policyShow(), c.policySet())
	return cmd
}

// policyView is the policy as --output json prints it; null: no such limit.
type policyView struct {
	UserDefault    *string `json:"user_default"`
	UserMax        *string `json:"user_max"`
	ServiceDefault *string `json:"service_account_default"`
	ServiceMax     *string `json:"service_account_max"`
	UserIdle       *string `json:"user_idle"`
	ServiceIdle    *string `json:"service_account_idle"`
	TokenFormat    string  `json:"token_format"`
}

func duration(d time.Duration) *string {
	if d == 0 {
		return nil
	}
	s := d.String()
	return &s
}

func viewPolicy(p tokenward.TokenPolicy) policyView {
	return policyView{duration(p.UserTokens.Default), duration(p.UserTokens.Max),
		duration(p.ServiceAccountTokens.Default), duration(p.ServiceAccountTokens.Max),
		duration(p.UserTokens.IdleTimeout), duration(p.ServiceAccountTokens.IdleTimeout), string(p.Format)}
}

func (c *cli) policyShow() *cobra.Command {
	cmd := leaf(&cobra.Command{Use: "show", Short: "Print the token lifetime policy", Args: exactArgs()})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			p, err := o.TokenPolicy(cmd.Context())
			if err != nil {
				return err
			}
			if *out == outputJSON {
				return writeJSON(c.stdout, viewPolicy(p))
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TOKENS\tDEFAULT LIFETIME\tMAXIMUM LIFETIME\tIDLE TIMEOUT")
			for _, row := range []struct {
				name   string
				limits tokenward.LifetimeLimits
			}{{"user", p.UserTokens}, {"service account", p.ServiceAccountTokens}} {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.name, orNone(row.limits.Default), orNone(row.limits.Max), orNone(row.limits.IdleTimeout))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(c.stdout, "\nNew secrets: %s\n", p.Format)
			return err
		})
	}
	return cmd
}

func orNone(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

func (c *cli) policySet() *cobra.Command {
	var p tokenward.TokenPolicy
	var dryRun bool
	cmd := leaf(&cobra.Command{Use: "set", Short: "Replace the token lifetime policy",
		Long: `Replace the whole policy: a limit not given is none, a format not given uuid. A new
maximum applies to existing tokens too: none lives longer than now plus the maximum; an
idle timeout disables at once the tokens unused for longer (serve's lifecycle sweep
disables the others as they pass it). --dry-run prints how many tokens each affects and
changes nothing.`,
		Example: "  tokenward policy set --user-default 2160h --user-max 8760h --dry-run\n  tokenward policy set   # no limits: tokens live until revoked\n  tokenward policy set --token-format prefixed   # new secrets twt_..., for secret scanners",
		Args:    exactArgs()})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.Flags().DurationVar(&p.UserTokens.Default, "user-default", 0, "default lifetime of user tokens, e.g. 2160h")
	cmd.Flags().DurationVar(&p.UserTokens.Max, "user-max", 0, "maximum lifetime of user tokens")
	cmd.Flags().DurationVar(&p.ServiceAccountTokens.Default, "service-default", 0, "default lifetime of service-account tokens")
	cmd.Flags().DurationVar(&p.ServiceAccountTokens.Max, "service-max", 0, "maximum lifetime of service-account tokens")
	cmd.Flags().DurationVar(&p.UserTokens.IdleTimeout, "user-idle", 0, "disable user tokens unused this long, e.g. 2160h (at least 1h)")
	cmd.Flags().DurationVar(&p.ServiceAccountTokens.IdleTimeout, "service-idle", 0, "disable service-account tokens unused this long")
	var format string
	cmd.Flags().StringVar(&format, "token-format", "uuid", "the `FORMAT` of new secrets: uuid, or prefixed (twt_ and 36 base62 characters, for secret scanners)")
	_ = cmd.RegisterFlagCompletionFunc("token-format", completeFrom("uuid", "prefixed"))
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "change nothing: only count the tokens the new policy would shorten or disable")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		f, err := tokenward.ParseTokenFormat(format)
		if err != nil {
			return err
		}
		p.Format = f
		return withOperator(cmd.Context(), *dsn, func(o *tokenward.Operator) error {
			effect, err := o.SetTokenPolicy(cmd.Context(), p, dryRun)
			if err != nil {
				return err
			}
			verb, idle := "now expire", "disabled"
			if dryRun {
				verb, idle = "would expire", "would be disabled"
			}
			return c.report(*out, map[string]any{"dry_run": dryRun, "expire_sooner": effect.ExpireSooner, "idle_disabled": effect.IdleDisabled},
				"%d existing tokens %s sooner; %d idle tokens %s", effect.ExpireSooner, verb, effect.IdleDisabled, idle)
		})
	}
	return cmd
}
