package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
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
		if password, err = c.readPassword(); err != nil {
			return err
		}
	}
	operator, db, err := openOperator(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := operator.CreateUser(ctx, pos[0], perms.set, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "created user account %s with permissions [%s]\n", a.Identifier, joinPermissions(a))
	return nil
}

// readPassword reads a password from the first line of standard input.
func (c *cli) readPassword() (string, error) {
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", usageErrorf("--password-stdin: standard input holds no password")
	}
	return password, nil
}

// userSetPassword: tokenward user set-password EMAIL --password-stdin. For recovery: it
// also ends the account's console sessions.
func (c *cli) userSetPassword(ctx context.Context, args []string) error {
	fs, dsn := c.newFlagSet("user set-password", "user set-password EMAIL --password-stdin [--db DSN]")
	passwordStdin := fs.Bool("password-stdin", false, "read the new password from the first line of standard input (required)")
	pos, err := parse(fs, args, "EMAIL")
	if err != nil {
		return err
	}
	if !*passwordStdin {
		return usageErrorf("user set-password needs --password-stdin (a password on the command line would be visible to other users)")
	}
	password, err := c.readPassword()
	if err != nil {
		return err
	}
	operator, db, err := openOperator(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := operator.SetPassword(ctx, pos[0], password); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "password set for %s; its console sessions were ended\n", pos[0])
	return nil
}

// serviceAccountCreate: tokenward serviceaccount create sa::NAME [--permission P]...
func (c *cli) serviceAccountCreate(ctx context.Context, args []string) error {
	fs, dsn := c.newFlagSet("serviceaccount create", "serviceaccount create sa::NAME [--permission P]... [--description TEXT] [--db DSN]")
	var perms permissionsFlag
	fs.Var(&perms, "permission", "a permission to grant (repeat, or separate with commas), e.g. ingestion")
	description := fs.String("description", "", "what the service account is for")
	pos, err := parse(fs, args, "sa::NAME")
	if err != nil {
		return err
	}
	operator, db, err := openOperator(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	a, err := operator.CreateServiceAccount(ctx, pos[0], perms.set, *description)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "created service account %s with permissions [%s]\n", a.Identifier, joinPermissions(a))
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
	operator, db, err := openOperator(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, _, err := operator.GenerateToken(ctx, pos[0], *name)
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

// backup: tokenward backup FILE. An online, consistent copy of a SQLite database.
func (c *cli) backup(ctx context.Context, args []string) error {
	fs, dsn := c.newFlagSet("backup", "backup FILE [--db DSN]")
	pos, err := parse(fs, args, "FILE")
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Backup(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "backed up %s to %s\n", *dsn, pos[0])
	return nil
}

// restore: tokenward restore FILE. Replaces a SQLite database with a backup; every server
// on it must be stopped first.
func (c *cli) restore(ctx context.Context, args []string) error {
	fs, dsn := c.newFlagSet("restore", "restore FILE [--db PATH]  (stop every tokenward server on the database first)")
	pos, err := parse(fs, args, "FILE")
	if err != nil {
		return err
	}
	if strings.HasPrefix(*dsn, "postgres") {
		return store.ErrBackupPostgres
	}
	target := strings.TrimPrefix(strings.TrimPrefix(*dsn, "sqlite:"), "//")
	if err := store.Restore(ctx, pos[0], target); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "restored %s from %s\n", target, pos[0])
	return nil
}
