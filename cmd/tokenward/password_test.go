package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/testkit"
)

// openPTY opens a pseudo-terminal and returns its two ends: what the user types into
// and reads from (the master), and the terminal the command gets as standard input.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// TestPasswordPromptWithoutEcho: on a terminal, user set-password and user create
// --password-prompt ask twice and echo nothing of what is typed (a terminal echoes by
// default: the control line shows it does), and the password typed is the one set.
func TestPasswordPromptWithoutEcho(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "tokenward.db")
	const typed = "typed on the terminal 42"
	for _, args := range [][]string{
		{"user", "create", "ops@example.com", "--password-prompt", "--db", dsn},
		{"user", "set-password", "ops@example.com", "--db", dsn},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			master, tty := openPTY(t)
			var mu sync.Mutex
			var screen bytes.Buffer // what the terminal shows: the echo of what is typed
			go func() {
				buf := make([]byte, 1024)
				for {
					n, err := master.Read(buf)
					mu.Lock()
					screen.Write(buf[:n])
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
			shown := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }
			// Control: before the command turns echo off, the terminal echoes a line.
			fmt.Fprintf(master, "echo control\n")
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(shown(), "echo control") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if !strings.Contains(shown(), "echo control") {
				t.Fatalf("the terminal echoes nothing even with echo on: %q", shown())
			}
			if line, err := readLine(tty); err != nil || line != "echo control" {
				t.Fatalf("read the control line: %q, %v", line, err)
			}

			stdout, stderr := &testkit.Buffer{}, &testkit.Buffer{}
			done := make(chan int, 1)
			go func() { done <- run(context.Background(), args, tty, stdout, stderr) }()
			for _, prompt := range []string{"Password for ops@example.com: ", "Again, to confirm: "} {
				for !strings.Contains(stderr.String(), prompt) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if !strings.Contains(stderr.String(), prompt) {
					t.Fatalf("no prompt %q: stderr %q", prompt, stderr.String())
				}
				fmt.Fprintf(master, "%s\n", typed)
			}
			if code := <-done; code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			time.Sleep(50 * time.Millisecond) // anything echoed has reached the master
			if strings.Contains(shown(), typed) {
				t.Errorf("the terminal echoed the password: %q", shown())
			}
			service, db, err := openService(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := service.SignIn(context.Background(), tokenward.SignInAttempt{Email: "ops@example.com", Password: typed, Address: "127.0.0.1"}); err != nil {
				t.Errorf("sign in with the password typed: %v", err)
			}
		})
	}
}

// readLine reads one line from the terminal, as the shell would.
func readLine(f *os.File) (string, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := f.Read(b); err != nil {
			return string(line), err
		}
		if b[0] == '\n' {
			return strings.TrimRight(string(line), "\r"), nil
		}
		line = append(line, b[0])
	}
}
