package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeWalkthrough returns the shell blocks of README.md from its Quick start heading to
// its Console heading, in order: the walkthrough a new user pastes.
func readmeWalkthrough(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	start, end := strings.Index(text, "\n## Quick start\n"), strings.Index(text, "\n## Console\n")
	if start < 0 || end < start {
		t.Fatal("README.md has no Quick start section followed by a Console section")
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)\n```sh\n(.*?)\n```\n").FindAllStringSubmatch(text[start:end], -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) < 4 {
		t.Fatalf("found %d shell blocks in the Quick start, want the whole walkthrough", len(blocks))
	}
	checkWalkthroughShape(t, text[:start], blocks)
	return blocks
}

// checkWalkthroughShape checks what running the walkthrough cannot: one way to start
// (nothing above the Quick start starts a server, so that pasting from the top does not
// collide on the port, and the walkthrough starts one server), commands without
// placeholders to fill in (tw_..., <ID>), and a first build that says it takes a while
// (go prints nothing as it compiles on a cold cache).
func checkWalkthroughShape(t *testing.T, intro string, blocks []string) {
	t.Helper()
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)\n```").FindAllStringSubmatch(intro, -1) {
		if strings.Contains(m[1], "serve") {
			t.Errorf("a shell block above the Quick start starts a server, a second way to start:\n%s", m[1])
		}
	}
	serves := 0
	placeholder := regexp.MustCompile(`tw_\.\.\.|\.\.\.|<[A-Z_]+>|\bTOKEN\b|\bSECRET\b`)
	for _, block := range blocks {
		for _, line := range strings.Split(block, "\n") {
			command, _, _ := strings.Cut(line, "  #") // a trailing comment
			if strings.HasPrefix(strings.TrimSpace(command), "#") {
				continue
			}
			if strings.Contains(command, "tokenward serve") {
				serves++
			}
			if placeholder.MatchString(command) {
				t.Errorf("the walkthrough's command %q holds a placeholder to fill in", strings.TrimSpace(command))
			}
		}
	}
	if serves != 1 {
		t.Errorf("the walkthrough starts %d servers, want one", serves)
	}
	if first := blocks[0]; !strings.Contains(first, "go build") || !regexp.MustCompile(`go build[^\n]*#[^\n]*(minute|while)`).MatchString(first) {
		t.Errorf("the walkthrough's first block does not build with a word on how long the first build takes:\n%s", first)
	}
}

// TestReadmeRunsTopToBottom runs the README's walkthrough as a new user would paste it, in
// one shell, in an empty directory, against the server its first block starts. Each curl
// must succeed (a failing one stops the run with its answer). Two things are rewritten: the
// build writes its binary into that directory, and the server listens on a free port
// instead of 8080, so that the test runs beside anything else.
func TestReadmeRunsTopToBottom(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the README needs %s: %v", tool, err)
			}
			t.Skipf("the README needs %s: %v", tool, err)
		}
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	script := strings.Join(readmeWalkthrough(t), "\n")
	for old, replacement := range map[string]string{
		"go build -o tokenward ./cmd/tokenward": `go build -C ` + strconv.Quote(repo) + ` -o "$PWD/tokenward" ./cmd/tokenward`,
		"./tokenward serve &":                   "./tokenward serve --listen " + addr + " &",
		"127.0.0.1:8080":                        addr,
	} {
		if !strings.Contains(script, old) {
			t.Fatalf("the README's walkthrough no longer holds %q: update this test with it", old)
		}
		script = strings.ReplaceAll(script, old, replacement)
	}
	// Every curl must succeed; the server goes down with the shell whatever happens.
	prelude := `set -euo pipefail
curl() {
  local args=()
  for a in "$@"; do case "$a" in -f) ;; -fs) args+=(-s) ;; *) args+=("$a") ;; esac; done
  command curl -sS --fail-with-body --max-time 30 "${args[@]}" || return
  echo
}
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
`
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", prelude+script+"\necho README-WALKTHROUGH-DONE\n")
	dir := t.TempDir()
	cmd.Dir = dir
	for _, kv := range os.Environ() { // the default database, in that directory
		if !strings.HasPrefix(kv, "TOKENWARD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err != nil || !strings.Contains(out.String(), "README-WALKTHROUGH-DONE") {
		t.Fatalf("the README's walkthrough failed (%v):\n%s", err, out.String())
	}
	for _, want := range []string{"Created the first administrator admin@localhost", "/console/"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve did not print %q:\n%s", want, out.String())
		}
	}
	// It cleaned up: the accounts it created are gone, the policy is back to none.
	list := exec.Command(filepath.Join(dir, "tokenward"), "account", "list", "--output", "json")
	list.Dir, list.Env = dir, cmd.Env
	accounts, err := list.Output()
	if err != nil {
		t.Fatalf("account list after the walkthrough: %v", err)
	}
	var left []struct{ Identifier string }
	if err := json.Unmarshal(accounts, &left); err != nil || len(left) != 1 || left[0].Identifier != "admin@localhost" {
		t.Errorf("accounts left after the walkthrough: %s (%v), want only admin@localhost", accounts, err)
	}
	policy := exec.Command(filepath.Join(dir, "tokenward"), "policy", "show", "--output", "json")
	policy.Dir, policy.Env = dir, cmd.Env
	if shown, err := policy.Output(); err != nil || strings.Count(string(shown), "null") != 6 {
		t.Errorf("the policy after the walkthrough: %s (%v), want no limits, as before it", shown, err)
	}
}
