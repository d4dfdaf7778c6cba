package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestHTTPMode runs the http mode as its users do, one short round, and checks that it
// measured both servers in every case: requests/s, ratios and CPU per request read from
// wrk and /proc. It needs wrk (Debian's, which .ci/run installs); under CI=true a missing
// wrk fails it.
func TestHTTPMode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tokenward and drives it with wrk")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("wrk is missing (apt-get install wrk)")
		}
		t.Skip("wrk is missing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "tokenward-bench")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v: %s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "http", "--rounds", "1", "--duration", "2s")
	cmd.Dir = "../.." // it builds ./cmd/tokenward from the repository's root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tokenward-bench http: %v: %s", err, out)
	}
	row := regexp.MustCompile(`(?m)^(valid|unknown|revoked) token\s+(\d+)\s+(\d+)\s+([0-9.]+)x\s+([0-9.]+)\s+([0-9.]+)$`)
	rows := row.FindAllStringSubmatch(string(out), -1)
	if len(rows) != 3 {
		t.Fatalf("want a summary row for each of the 3 cases:\n%s", out)
	}
	for _, r := range rows {
		for _, f := range r[2:] {
			if v, err := strconv.ParseFloat(f, 64); err != nil || v <= 0 {
				t.Errorf("%s token: a figure of %q is not positive:\n%s", r[1], f, out)
			}
		}
	}
	t.Logf("\n%s", out)
}
