// Package e2e tests the tokenward binary as users run it: real processes, real HTTP, on
// SQLite and on PostgreSQL, several instances at once.
package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/testkit"
)

// binary is the tokenward binary built once for the whole package.
var binary testkit.Binary

func TestMain(m *testing.M) {
	var remove func()
	var err error
	binary, remove, err = testkit.BuildBinary("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	remove()
	os.Exit(code)
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
