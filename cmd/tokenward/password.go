package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// readPasswordLine reads a password from the first line of standard input
// (--password-stdin): for scripts, which pipe it in.
func (c *cli) readPasswordLine() (string, error) {
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

// terminal returns standard input's file descriptor when it is a terminal.
func (c *cli) terminal() (int, bool) {
	f, ok := c.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// promptPassword asks for a password twice on the terminal, without echo (a password on
// the command line, or echoed, would be visible to others). It returns a usage error
// naming --password-stdin when standard input is not a terminal.
func (c *cli) promptPassword(email string) (string, error) {
	fd, ok := c.terminal()
	if !ok {
		return "", usageErrorf("standard input is not a terminal to ask for the password on: pipe it in with --password-stdin")
	}
	fmt.Fprintf(c.stderr, "Password for %s: ", email)
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(c.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(c.stderr, "Again, to confirm: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(c.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if string(first) != string(second) {
		return "", errors.New("the two passwords differ; nothing was changed")
	}
	if len(first) == 0 {
		return "", errors.New("no password given; nothing was changed")
	}
	return string(first), nil
}
