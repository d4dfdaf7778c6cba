package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tokenward/tokenward"
)

// userCreate: tokenward user create EMAIL [--permission P]... [--password-stdin]
func (c *cli) userCreate(ctx context.Context, args []string) error {
	fs, dsn := c.newFlagSet("user create", "user create EMAIL [--permission P]... [--password-stdin] [--db DSN]")
	var perms permissionsFlag
	fs.Var(&perms, "permission", "a permission to grant (repeat, or separate with commas), e.g. token_management")
	passwordStdin := fs.Bool("password-stdin", false, "read the account's password from the first line of standard input")
	pos, err := parse(fs, args, "EMAIL")
	if err != nil {
		return err
	}
	var password string
	if *passwordStdin {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from standard input: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
		if password == "" {
			return usageErrorf("--password-stdin: standard input holds no password")
		}
	}
	service, db, err := openService(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := service.CreateUser(ctx, pos[0], perms.set, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "created user account %s with permissions [%s]\n", a.Identifier, joinPermissions(a))
	return nil
}

// tokenCreate: tokenward token create ACCOUNT [--name NAME]. It prints only the secret, so
// that scripts can capture it: T=$(tokenward token create admin@localhost).
func (c *cli) tokenCreate(ctx context.Context, args []string) error {
	fs, dsn := c.newFlagSet("token create", "token create ACCOUNT [--name NAME] [--db DSN]")
	name := fs.String("name", "", "the token's name")
	pos, err := parse(fs, args, "ACCOUNT")
	if err != nil {
		return err
	}
	service, db, err := openService(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, _, err := service.GenerateToken(ctx, pos[0], *name)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, secret.Reveal())
	return nil
}

func joinPermissions(a tokenward.Account) string {
	var names []string
	for _, p := range a.Permissions.List() {
		names = append(names, string(p))
	}
	return strings.Join(names, " ")
}
