package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/store"
	"github.com/tokenward/tokenward/internal/store/storetest"
	"github.com/tokenward/tokenward/internal/testkit"
)

// runCLI runs one command line in-process, exactly as main does, and returns its stdout,
// stderr and exit code.
func runCLI(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("tokenward %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out
}

// decode decodes a command's JSON output into v, failing the test when it is not JSON.
func decode(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("output is not JSON (%v): %q", err, out)
	}
}

var (
	tokenFields   = []string{"account", "account_type", "allowed_cidrs", "created", "expires_at", "hint", "id", "last_used", "name", "permissions"}
	accountFields = []string{"active", "created", "description", "effective_permissions", "groups", "identifier",
		"last_login", "last_used", "permissions", "roles", "type"}
)

// checkFields fails the test unless obj has exactly the fields want: the JSON output's
// names are a contract with scripts.
func checkFields(t *testing.T, what string, obj map[string]any, want []string) {
	t.Helper()
	if got := slices.Sorted(maps.Keys(obj)); !slices.Equal(got, want) {
		t.Errorf("%s: fields %q, want %q", what, got, want)
	}
}

func TestCommands(t *testing.T) {
	storetest.Run(t, func(t *testing.T, engine store.Engine) {
		dsn := storetest.DSN(t, engine)
		db := []string{"--db", dsn}
		cmd := func(args ...string) []string { return append(args, db...) }
		// With a password: revoking its only token must not leave the organization without a
		// usable administrator.
		if _, errOut, code := runCLI(t, "the administrator's password\n", cmd("user", "create", "admin@example.com",
			"--permission", "user_management,token_management", "--password-stdin")...); code != 0 {
			t.Fatalf("user create admin: exit %d, %q", code, errOut)
		}
		mustRun(t, cmd("user", "create", "jane@example.com", "--permission", "ingestion")...)
		// A created account is printed as account show prints it, not in words of its own.
		created := mustRun(t, cmd("serviceaccount", "create", "sa::bot", "--permission", "ingestion")...)
		if shown := mustRun(t, cmd("account", "show", "sa::bot")...); created != shown || !strings.Contains(created, "Permissions:") {
			t.Errorf("serviceaccount create printed %q, want what account show prints: %q", created, shown)
		}

		// token create --output json: the token's fields and its secret, once.
		var newToken map[string]any
		decode(t, mustRun(t, cmd("token", "create", "sa::bot", "--name", "deploy", "--output", "json")...), &newToken)
		checkFields(t, "token create --output json", newToken, append(slices.Clone(tokenFields), "secret"))
		secret, _ := newToken["secret"].(string)
		if _, ok := tokenward.ParseSecret(secret); !ok || newToken["name"] != "deploy" || newToken["account"] != "sa::bot" {
			t.Fatalf("token create --output json: %v", newToken)
		}
		id := newToken["id"].(string)
		// The table output of token create is the secret alone, for T=$(tokenward token create ...).
		adminSecret := strings.TrimSpace(mustRun(t, cmd("token", "create", "admin@example.com")...))
		if _, ok := tokenward.ParseSecret(adminSecret); !ok {
			t.Fatalf("token create: stdout %q, want only the secret", adminSecret)
		}

		tests := []struct {
			name       string
			args       []string
			stdin      string
			wantCode   int
			wantStdout string // a substring
			wantStderr string // a substring; "" wants an empty stderr
		}{
			{"token list of an account", cmd("token", "list", "sa::bot"), "", 0, id, ""},
			{"token list of every account", cmd("token", "list"), "", 0, "admin@example.com", ""},
			{"token list, unknown account", cmd("token", "list", "ghost@example.com"), "", 1, "", "ghost@example.com does not exist"},
			{"user without token_management", cmd("token", "create", "jane@example.com"), "", 1, "",
				`requires the "API Tokens" permission (token_management); grant it, or pass --force`},
			{"user without token_management, --force", cmd("token", "create", "jane@example.com", "--force"), "", 0, "-", ""},
			{"service account needs no token_management", cmd("token", "create", "sa::bot"), "", 0, "-", ""},
			{"rename by id", cmd("token", "rename", id, "deploy-2"), "", 0, `to "deploy-2"`, ""},
			{"rename by secret from stdin", cmd("token", "rename", "-", "deploy-3"), secret + "\n", 0, `to "deploy-3"`, ""},
			{"rename, bad name", cmd("token", "rename", id, strings.Repeat("x", 200)), "", 1, "", "at most"},
			{"rename, unknown token", cmd("token", "rename", "tw_aaaaaaaaaaaaaaaa", "x"), "", 1, "", "no such API token"},
			{"bad permission", cmd("user", "create", "x@example.com", "--permission", "root"), "", 2, "",
				`unknown permission "root"; valid permissions: log_management, dashboard_management,`},
			{"bad output", cmd("account", "list", "--output", "yaml"), "", 2, "", "want table or json"},
			{"bad type", cmd("account", "list", "--type", "robot"), "", 2, "", "--type must be user or service"},
			{"unknown flag", cmd("token", "list", "--nmae", "x"), "", 2, "", "unknown flag: --nmae"},
			{"missing argument", cmd("token", "revoke"), "", 2, "", "token revoke needs TOKEN"},
			{"unknown command", []string{"tokn"}, "", 2, "", `unknown command "tokn" for "tokenward"; did you mean token?`},
			{"group without subcommand", []string{"account"}, "", 2, "Usage", "tokenward: account needs a subcommand: activate, deactivate, delete, list, show"},
			{"no command", []string{}, "", 2, "Usage", "tokenward: missing command; one of: account, backup, policy,"},
			{"deactivate a user", cmd("account", "deactivate", "jane@example.com"), "", 1, "", "user accounts are always active"},
			{"set-password without a terminal", cmd("user", "set-password", "jane@example.com"), "", 2, "", "--password-stdin"},
			{"set-password from stdin", cmd("user", "set-password", "jane@example.com", "--password-stdin"), "a long enough password\n", 0, "password set", ""},
			{"delete the last administrator", cmd("account", "delete", "admin@example.com"), "", 1, "", "administrator"},
			{"help", []string{"user", "create", "--help"}, "", 0, "token_management is the console's \"API Tokens\"", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				out, errOut, code := runCLI(t, tc.stdin, tc.args...)
				if code != tc.wantCode || !strings.Contains(out+errOut, tc.wantStdout) && tc.wantStdout != "-" {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tc.wantCode, tc.wantStdout)
				}
				if tc.wantStderr == "" && errOut != "" || !strings.Contains(errOut, tc.wantStderr) {
					t.Errorf("stderr %q, want %q", errOut, tc.wantStderr)
				}
				// Errors once: one message; the usage only for a command that needs a subcommand.
				if n := strings.Count(errOut, "tokenward: "); code != 0 && n != 1 || strings.Contains(errOut, "tokenward: tokenward") {
					t.Errorf("stderr holds %d error messages, want 1: %q", n, errOut)
				}
				if code == 1 && (strings.Contains(errOut, "Usage") || strings.Contains(errOut, "--help")) {
					t.Errorf("a failed command printed usage: %q", errOut)
				}
				if code == 2 && !strings.Contains(errOut, "--help\" for usage") {
					t.Errorf("a usage error does not point to --help: %q", errOut)
				}
			})
		}

		// token list --output json: an array of tokens, with their fields and no secret.
		var tokens []map[string]any
		decode(t, mustRun(t, cmd("token", "list", "sa::bot", "--output", "json")...), &tokens)
		if len(tokens) != 2 {
			t.Fatalf("token list sa::bot: %d tokens, want 2", len(tokens))
		}
		for _, tok := range tokens {
			checkFields(t, "token list --output json", tok, tokenFields)
		}
		if tokens[0]["id"] != id || tokens[0]["name"] != "deploy-3" {
			t.Errorf("token list sa::bot: first %v, want %s named deploy-3", tokens[0], id)
		}

		// Revoke by id: the token leaves the list and cannot be revoked twice.
		if out := mustRun(t, cmd("token", "revoke", id)...); !strings.Contains(out, "revoked token "+id) {
			t.Errorf("token revoke: %q", out)
		}
		decode(t, mustRun(t, cmd("token", "list", "sa::bot", "--output", "json")...), &tokens)
		if len(tokens) != 1 || tokens[0]["id"] == id {
			t.Errorf("after revoke: %v, want the other token only", tokens)
		}
		if _, errOut, code := runCLI(t, "", cmd("token", "revoke", id)...); code != 1 || !strings.Contains(errOut, "no such API token") {
			t.Errorf("revoke twice: exit %d, %q", code, errOut)
		}
		// Revoke by secret, read from stdin: the admin's token stops authenticating.
		var revoked map[string]any
		out, errOut, code := runCLI(t, adminSecret+"\n", cmd("token", "revoke", "-", "--output", "json")...)
		if code != 0 {
			t.Fatalf("token revoke - : exit %d, %q", code, errOut)
		}
		decode(t, out, &revoked)
		checkFields(t, "token revoke --output json", revoked, append(slices.Clone(tokenFields), "revoked"))
		service, storeDB, err := openService(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer storeDB.Close()
		if _, err := service.Authenticate(context.Background(), adminSecret); tokenward.ErrorCode(err) != tokenward.EUnauthorized {
			t.Errorf("the revoked token authenticates: %v", err)
		}

		// Rotate by id: the same token answers to a new secret, at once; without a grace
		// period the old secret stops. The table output is the new secret alone.
		oldSecret := strings.TrimSpace(mustRun(t, cmd("token", "create", "sa::bot", "--name", "rotate-me")...))
		var fresh []map[string]any
		decode(t, mustRun(t, cmd("token", "list", "sa::bot", "--output", "json")...), &fresh)
		rotatedID, _ := fresh[len(fresh)-1]["id"].(string)
		newSecret := strings.TrimSpace(mustRun(t, cmd("token", "rotate", rotatedID, "--grace", "0")...))
		if _, ok := tokenward.ParseSecret(newSecret); !ok || newSecret == oldSecret {
			t.Errorf("token rotate printed %q, want a new secret", newSecret)
		}
		if p, err := service.Authenticate(context.Background(), newSecret); err != nil || p.Account != "sa::bot" {
			t.Errorf("the rotated token's new secret: %+v, %v", p, err)
		}
		if _, err := service.Authenticate(context.Background(), oldSecret); tokenward.ErrorCode(err) != tokenward.EUnauthorized {
			t.Errorf("the old secret after a rotation without grace authenticates: %v", err)
		}
		decode(t, mustRun(t, cmd("token", "list", "sa::bot", "--output", "json")...), &fresh)
		if fresh[len(fresh)-1]["id"] != rotatedID || fresh[len(fresh)-1]["name"] != "rotate-me" {
			t.Errorf("after rotate: %v, want %s named rotate-me", fresh, rotatedID)
		}
		if _, errOut, code := runCLI(t, "", cmd("token", "rotate", rotatedID, "--grace", "25h")...); code != 1 || !strings.Contains(errOut, "gracePeriodSeconds") {
			t.Errorf("rotate with a grace over 24h: exit %d, %q", code, errOut)
		}

		// The lifetime policy: a dry run counts and changes nothing; set applies a maximum
		// to the existing service-account tokens and refuses a token that never expires.
		if out := mustRun(t, cmd("policy", "set", "--service-max", "1h", "--dry-run")...); !strings.Contains(out, "existing tokens would expire sooner") {
			t.Errorf("policy set --dry-run: %q", out)
		}
		var policy map[string]any
		decode(t, mustRun(t, cmd("policy", "show", "--output", "json")...), &policy)
		if policy["service_account_max"] != nil {
			t.Errorf("the dry run set the policy: %v", policy)
		}
		if out := mustRun(t, cmd("policy", "set", "--user-idle", "720h", "--dry-run")...); !strings.Contains(out, "0 idle tokens would be disabled") {
			t.Errorf("policy set --user-idle --dry-run: %q", out)
		}
		if _, errOut, code := runCLI(t, "", cmd("policy", "set", "--user-idle", "30m")...); code != 1 || !strings.Contains(errOut, "idle timeout") {
			t.Errorf("policy set --user-idle 30m: exit %d, %q; want 1 naming the idle timeout", code, errOut)
		}
		mustRun(t, cmd("policy", "set", "--service-max", "1h", "--user-idle", "720h")...)
		decode(t, mustRun(t, cmd("policy", "show", "--output", "json")...), &policy)
		if policy["service_account_max"] != "1h0m0s" || policy["user_max"] != nil || policy["user_idle"] != "720h0m0s" {
			t.Errorf("policy show after set: %v", policy)
		}
		decode(t, mustRun(t, cmd("token", "list", "sa::bot", "--output", "json")...), &fresh)
		for _, tok := range fresh {
			if tok["expires_at"] == nil {
				t.Errorf("a service-account token outlives the new maximum: %v", tok)
			}
		}
		if _, errOut, code := runCLI(t, "", cmd("token", "create", "sa::bot", "--never-expires")...); code != 1 || !strings.Contains(errOut, "never expires is not allowed") {
			t.Errorf("token create --never-expires under a maximum: exit %d, %q", code, errOut)
		}
		// The token format: prefixed secrets once set, shown by policy show; a bad one refused.
		mustRun(t, cmd("policy", "set", "--token-format", "prefixed")...)
		decode(t, mustRun(t, cmd("policy", "show", "--output", "json")...), &policy)
		if policy["token_format"] != "prefixed" {
			t.Errorf("policy show after --token-format prefixed: %v", policy)
		}
		if s := strings.TrimSpace(mustRun(t, cmd("token", "create", "sa::bot")...)); !regexp.MustCompile(`^` + tokenward.SecretPattern + `$`).MatchString(s) {
			t.Errorf("token create under tokenFormat prefixed: %d characters, want a prefixed secret", len(s))
		}
		if _, _, code := runCLI(t, "", cmd("policy", "set", "--token-format", "hex")...); code != 1 {
			t.Errorf("policy set --token-format hex: exit %d, want 1", code)
		}
		mustRun(t, cmd("policy", "set")...)

		// Deactivate, activate, delete a service account; show and list say so.
		var account map[string]any
		decode(t, mustRun(t, cmd("account", "deactivate", "sa::bot", "--output", "json")...), &account)
		checkFields(t, "account deactivate --output json", account, accountFields)
		if account["active"] != false || account["type"] != "INACTIVE_SERVICE_ACCOUNT" {
			t.Errorf("after deactivate: %v", account)
		}
		decode(t, mustRun(t, cmd("account", "activate", "sa::bot", "--output", "json")...), &account)
		if account["active"] != true {
			t.Errorf("after activate: %v", account)
		}
		decode(t, mustRun(t, cmd("account", "show", "sa::bot", "--output", "json")...), &account)
		checkFields(t, "account show --output json", account, accountFields)
		var accounts []map[string]any
		decode(t, mustRun(t, cmd("account", "list", "--type", "service", "--output", "json")...), &accounts)
		if len(accounts) != 1 || accounts[0]["identifier"] != "sa::bot" {
			t.Errorf("account list --type service: %v", accounts)
		}
		mustRun(t, cmd("account", "delete", "sa::bot")...)
		if _, errOut, code := runCLI(t, "", cmd("account", "show", "sa::bot")...); code != 1 || !strings.Contains(errOut, "does not exist") {
			t.Errorf("show after delete: exit %d, %q", code, errOut)
		}
		decode(t, mustRun(t, cmd("token", "list", "--output", "json")...), &tokens)
		for _, tok := range tokens {
			if tok["account"] == "sa::bot" {
				t.Errorf("a token of the deleted account is still live: %v", tok)
			}
		}
		decode(t, mustRun(t, cmd("user", "list", "--output", "json")...), &accounts)
		if len(accounts) != 2 {
			t.Errorf("user list: %d accounts, want 2 (admin and jane)", len(accounts))
		}
	})
}

// TestRestoreRefusedWhileServing runs `serve` in-process and checks that restore refuses to
// replace its database until it stops, and that serve prints the console's address.
func TestRestoreRefusedWhileServing(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	backup := filepath.Join(dir, "backup.db")
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	stdout, stderr := &testkit.Buffer{}, &testkit.Buffer{}
	served := make(chan int, 1)
	go func() {
		served <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--db", dsn}, strings.NewReader(""), stdout, stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "console: http://127.0.0.1:") {
		select {
		case code := <-served:
			t.Fatalf("serve exited with %d before listening: %s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no console address: %q", stdout.String())
		}
	}
	if !strings.Contains(stdout.String(), "/console/\n") {
		t.Errorf("console line: %q", stdout.String())
	}
	mustRun(t, "backup", backup, "--db", dsn)

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"while serving", []string{"restore", backup, "--db", dsn}, 1, "a tokenward server is running on " + dsn},
		{"sqlite: prefix", []string{"restore", backup, "--db", "sqlite:" + dsn}, 1, "stop every server on the database, then restore"},
		{"postgres", []string{"restore", backup, "--db", "postgres://127.0.0.1:1/x"}, 1, "pg_restore"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, "", tc.args...)
			if code != tc.wantCode || !strings.Contains(errOut, tc.wantStderr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.wantCode, tc.wantStderr)
			}
		})
	}
	stop()
	if code := <-served; code != 0 {
		t.Fatalf("serve: exit %d: %s", code, stderr.String())
	}
	if out := mustRun(t, "restore", backup, "--db", dsn); !strings.Contains(out, "restored") {
		t.Errorf("restore after the server stopped: %q", out)
	}
}
