// Package e2e tests the tokenward binary as users run it: real processes, real HTTP, on
// SQLite and on PostgreSQL, several instances at once.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the tokenward binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tokenward-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tokenward")
	build := exec.Command("go", "build", "-o", binary, "../cmd/tokenward")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build tokenward:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a running `tokenward serve`.
type server struct {
	cmd            *exec.Cmd
	url            string
	stdout, stderr *lockedBuffer
	done           chan error
}

// startServer runs tokenward serve on a free loopback port and waits until it listens.
func startServer(t *testing.T, dir, dsn string, extra ...string) *server {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--db", dsn}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	s := &server{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout = s.stdout
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(s.stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { s.stop(t) })

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr <- line.Addr
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addr:
		s.url = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("tokenward serve did not start listening; stderr:\n%s", s.stderr.String())
	}
	return s
}

// stop sends SIGTERM and waits for a graceful exit, failing the test on any other exit.
func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("tokenward serve exited with %v after SIGTERM; stderr:\n%s", err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("tokenward serve did not stop within 20s of SIGTERM")
	}
}

// tokenward runs a command to completion and returns its stdout, stderr and exit code.
func tokenward(t *testing.T, dir string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("tokenward %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// call sends an API request with a bearer token and decodes the response container.
func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	var c map[string]any
	if len(raw) > 0 { // forward auth answers 200 with headers only
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v", method, url, err)
		}
	}
	return res.StatusCode, c
}

// tokenList returns the tokens of an OK container.
func tokenList(t *testing.T, c map[string]any) []map[string]any {
	t.Helper()
	items, ok := c["response"].([]any)
	if !ok {
		t.Fatalf("response %v is not a list", c)
	}
	out := make([]map[string]any, len(items))
	for i, it := range items {
		out[i] = it.(map[string]any)
	}
	return out
}

// PropagationBound is the documented bound within which a change made on one instance, or
// by the command line, holds on every instance.
const PropagationBound = time.Second

// awaitStatus repeats a GET until it answers want, for at most PropagationBound, and
// returns the last status: for changes made elsewhere, which hold within the bound.
func awaitStatus(t *testing.T, url, token string, want int) int {
	t.Helper()
	deadline := time.Now().Add(PropagationBound)
	for {
		status, _ := call(t, "GET", url, token, "")
		if status == want || time.Now().After(deadline) {
			return status
		}
		time.Sleep(10 * time.Millisecond)
	}
}
