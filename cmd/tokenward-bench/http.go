package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The http mode measures forward auth as users run it: the real tokenward binary with its
// default flags and logging, against a bare Go net/http server answering 200, both driven
// by the same external load generator (wrk) in interleaved rounds, for a valid, an unknown
// and a revoked token. It prints each one's requests/s, p50 and p99 latency and the server
// CPU per request, and the median ratio of tokenward's requests/s to the bare server's:
//
//	go run ./cmd/tokenward-bench http [--rounds 3] [--duration 5s] [--connections 16]

// httpOptions are the http mode's flags.
type httpOptions struct {
	rounds      int
	duration    time.Duration
	connections int
}

// runHTTP is the http mode; "bare" as the first argument runs the bare server instead.
func runHTTP(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "bare" {
		return bareServer(stdout)
	}
	fs := flag.NewFlagSet("tokenward-bench http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o httpOptions
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds of every case on both servers")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long wrk drives each server in each round")
	fs.IntVar(&o.connections, "connections", 16, "wrk's keep-alive connections")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := benchHTTP(ctx, o, stdout); err != nil {
		fmt.Fprintln(stderr, "tokenward-bench http:", err)
		return 1
	}
	return 0
}

// bareServer answers 200 to everything on a free loopback port, which it prints.
func bareServer(stdout io.Writer) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 1
	}
	fmt.Fprintf(stdout, "listening http://%s\n", ln.Addr())
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	return 0
}

// server is a process under load: its base URL and its process, for its CPU time.
type server struct {
	name string
	url  string
	cmd  *exec.Cmd
}

// start runs cmd and waits for the line matching pattern on its stdout, whose first group
// is the server's base URL.
func start(name string, cmd *exec.Cmd, pattern *regexp.Regexp) (*server, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if m := pattern.FindStringSubmatch(lines.Text()); m != nil {
			go io.Copy(io.Discard, out)
			return &server{name: name, url: m[1], cmd: cmd}, nil
		}
	}
	cmd.Process.Kill()
	return nil, fmt.Errorf("%s exited before it listened", name)
}

// cpu returns the process's user and system CPU time so far, from /proc.
func (s *server) cpu() (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// load is one wrk run's figures.
type load struct {
	rps, p50, p99 float64 // requests/s, milliseconds
	cpuPerRequest time.Duration
}

var (
	wrkRPS     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)`)
)

// drive runs wrk against url with the token for d and returns its figures.
func drive(ctx context.Context, s *server, path, token string, o httpOptions) (load, error) {
	before, err := s.cpu()
	if err != nil {
		return load{}, err
	}
	out, err := exec.CommandContext(ctx, "wrk", "-t2", fmt.Sprintf("-c%d", o.connections), fmt.Sprintf("-d%s", o.duration),
		"--latency", "-H", "Authorization: Bearer "+token, s.url+path).CombinedOutput()
	if err != nil {
		return load{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	after, err := s.cpu()
	if err != nil {
		return load{}, err
	}
	var l load
	m := wrkRPS.FindSubmatch(out)
	if m == nil {
		return l, fmt.Errorf("wrk printed no requests/s: %s", out)
	}
	l.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, lat := range wrkLatency.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(lat[2]), 64)
		v *= map[string]float64{"us": 0.001, "ms": 1, "s": 1000}[string(lat[3])]
		if string(lat[1]) == "50" {
			l.p50 = v
		} else {
			l.p99 = v
		}
	}
	if n := l.rps * o.duration.Seconds(); n > 0 {
		l.cpuPerRequest = time.Duration(float64(after-before) / n)
	}
	return l, nil
}

// benchHTTP builds and starts tokenward and the bare server, makes the tokens, and drives
// every case on both in interleaved rounds.
func benchHTTP(ctx context.Context, o httpOptions, stdout io.Writer) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk is needed (apt-get install wrk): %w", err)
	}
	dir, err := os.MkdirTemp("", "tokenward-bench-http-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "tokenward")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tokenward").CombinedOutput(); err != nil {
		return fmt.Errorf("build tokenward (run from the repository's root): %v: %s", err, out)
	}
	db := filepath.Join(dir, "tokenward.db")
	tw, err := start("tokenward", exec.CommandContext(ctx, bin, "serve", "--db", db, "--listen", "127.0.0.1:0"),
		regexp.MustCompile(`console: (http://[^/]+)/console/`))
	if err != nil {
		return err
	}
	defer tw.cmd.Process.Kill()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bare, err := start("bare", exec.CommandContext(ctx, self, "http", "bare"), regexp.MustCompile(`listening (http://\S+)`))
	if err != nil {
		return err
	}
	defer bare.cmd.Process.Kill()
	cli := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, bin, append(args, "--db", db)...).Output()
		return strings.TrimSpace(string(out)), err
	}
	valid, err := cli("token", "create", "admin@localhost", "--name", "bench")
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	revoked, err := cli("token", "create", "admin@localhost", "--name", "revoked")
	if err == nil {
		_, err = cli("token", "revoke", revoked)
	}
	if err != nil {
		return fmt.Errorf("a revoked token: %w", err)
	}
	cases := []struct{ name, token string }{
		{"valid token", valid}, {"unknown token", "00000000-0000-4000-8000-00000000beef"}, {"revoked token", revoked}}
	results := map[string][]load{}
	for round := range o.rounds {
		for _, c := range cases {
			for _, s := range []*server{bare, tw} {
				l, err := drive(ctx, s, "/auth/verify", c.token, o)
				if err != nil {
					return err
				}
				results[c.name+"/"+s.name] = append(results[c.name+"/"+s.name], l)
				fmt.Fprintf(stdout, "round %d %-14s %-9s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  CPU %5.1f µs/req\n",
					round+1, c.name, s.name, l.rps, l.p50, l.p99, float64(l.cpuPerRequest.Nanoseconds())/1000)
			}
		}
	}
	fmt.Fprintf(stdout, "\n%-14s %12s %12s %8s %18s %18s\n", "case", "bare req/s", "tokenward", "ratio", "CPU µs/req (bare)", "CPU µs/req (tw)")
	for _, c := range cases {
		b, t := results[c.name+"/bare"], results[c.name+"/tokenward"]
		var ratios []float64
		for i := range b {
			ratios = append(ratios, t[i].rps/b[i].rps)
		}
		fmt.Fprintf(stdout, "%-14s %12.0f %12.0f %7.2fx %18.1f %18.1f\n", c.name, median(b, func(l load) float64 { return l.rps }),
			median(t, func(l load) float64 { return l.rps }), medianOf(ratios),
			median(b, func(l load) float64 { return float64(l.cpuPerRequest.Nanoseconds()) / 1000 }),
			median(t, func(l load) float64 { return float64(l.cpuPerRequest.Nanoseconds()) / 1000 }))
	}
	fmt.Fprintf(stdout, "(median of %d interleaved rounds; ratio: tokenward's requests/s over the bare server's in the same round)\n", o.rounds)
	return nil
}

func median(ls []load, f func(load) float64) float64 {
	vs := make([]float64, len(ls))
	for i, l := range ls {
		vs[i] = f(l)
	}
	return medianOf(vs)
}

func medianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[len(s)/2]
}
