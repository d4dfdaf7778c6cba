package testkit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Binary is the path of a tokenward binary built for a test package's run.
type Binary string

// BuildBinary builds ./cmd/tokenward of the module at root (a path from the test's
// directory) into a new temporary directory, for a TestMain. It returns the binary and a
// function that removes it, or an error (with the compiler's output already on stderr)
// when the build fails.
func BuildBinary(root string) (Binary, func(), error) {
	dir, err := os.MkdirTemp("", "tokenward-test")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "tokenward")
	build := exec.Command("go", "build", "-o", path, "./cmd/tokenward")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build tokenward: %w", err)
	}
	return Binary(path), func() { os.RemoveAll(dir) }, nil
}

// Server is a running `tokenward serve`.
type Server struct {
	Cmd            *exec.Cmd
	URL            string // http:// and the address it listens on
	Stdout, Stderr *Buffer
	// Done receives the process's exit (Cmd.Wait's error) once.
	Done chan error
}

// Start runs `tokenward serve` in dir on database dsn, with extra flags, on a free loopback
// port with JSON logs, and waits until it listens. It fails the test when the server exits
// first or does not listen within a minute, and stops the server when the test ends.
func (b Binary) Start(t testing.TB, dir, dsn string, extra ...string) *Server {
	t.Helper()
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--db", dsn}, extra...)
	cmd := exec.Command(string(b), args...)
	cmd.Dir = dir
	s := &Server{Cmd: cmd, Stdout: &Buffer{}, Stderr: &Buffer{}, Done: make(chan error, 1)}
	cmd.Stdout = s.Stdout
	pr, pw := io.Pipe()
	cmd.Stderr = io.MultiWriter(s.Stderr, pw)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.Done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() { s.Stop(t) })

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
		s.URL = "http://" + a
	case err := <-s.Done:
		t.Fatalf("tokenward serve exited before listening (%v); stderr:\n%s", err, s.Stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("tokenward serve did not start listening; stderr:\n%s", s.Stderr.String())
	}
	// Standard output is copied from its own pipe: wait for serve's last start-up line
	// there too, so that what it printed before (the first administrator's password) is in
	// s.Stdout when Start returns.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(s.Stdout.String(), "console: "); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("tokenward serve listens but printed no console address; stdout:\n%s", s.Stdout.String())
		}
	}
	return s
}

// Stop sends SIGTERM and waits for a graceful exit, failing the test on any other exit. It
// does nothing when the process has already exited.
func (s *Server) Stop(t testing.TB) {
	if s.Cmd.ProcessState != nil {
		return
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.Done:
		if err != nil {
			t.Errorf("tokenward serve exited with %v after SIGTERM; stderr:\n%s", err, s.Stderr.String())
		}
	case <-time.After(20 * time.Second):
		s.Cmd.Process.Kill()
		t.Errorf("tokenward serve did not stop within 20s of SIGTERM")
	}
}

// Run runs a tokenward command in dir to completion, with stdin as its input, and returns
// its stdout, stderr and exit code. It fails the test when the command cannot run or takes
// over a minute.
func (b Binary) Run(t testing.TB, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, string(b), args...)
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

// RunOn runs a tokenward command in dir on database dsn (it adds --db), failing the test
// unless it exits 0, and returns its standard output without surrounding space: for the
// setup steps of a test, whose failure ends it.
func (b Binary) RunOn(t testing.TB, dir, dsn string, args ...string) string {
	t.Helper()
	out, errOut, code := b.Run(t, dir, "", append(args, "--db", dsn)...)
	if code != 0 {
		t.Fatalf("tokenward %v: exit %d, stderr %q", args, code, errOut)
	}
	return strings.TrimSpace(out)
}

// ResponseList returns the objects of the list in an OK response container, failing the
// test when the response is not a list of objects.
func ResponseList(t testing.TB, c map[string]any) []map[string]any {
	t.Helper()
	items, ok := c["response"].([]any)
	if !ok {
		t.Fatalf("response %v is not a list", c)
	}
	out := make([]map[string]any, len(items))
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			t.Fatalf("response item %v is not an object", it)
		}
		out[i] = m
	}
	return out
}
