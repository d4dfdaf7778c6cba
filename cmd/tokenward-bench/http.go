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
//	go run ./cmd/tokenward-bench http [--rounds 3] [--duration 5s] [--slice 1s] [--connections 16]
//
// Within a round each server gets --duration of load in slices of --slice, alternating
// (bare then tokenward, then tokenward then bare, ...): on a shared machine whose other
// tenants take the CPU for seconds at a time, two 5 s runs one after the other saw
// different machines (single rounds ranged from 0.58x to 0.96x in one run); slices of a
// second alternating in both orders see the same one.

// httpOptions are the http mode's flags.
type httpOptions struct {
	rounds      int
	duration    time.Duration
	slice       time.Duration
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
	fs.DurationVar(&o.slice, "slice", time.Second, "the servers alternate every slice within a round")
	fs.IntVar(&o.connections, "connections", 16, "wrk's keep-alive connections")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.rounds < 1 || o.connections < 1 || o.slice < time.Second || o.slice%time.Second != 0 || o.duration < o.slice {
		fmt.Fprintln(stderr, "tokenward-bench http: --rounds and --connections must be positive, --slice whole seconds (wrk's unit) and --duration at least --slice")
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

// load is the figures of a server under load: one wrk run's, or a round's slices summed.
type load struct {
	rps, p50, p99 float64 // requests/s, milliseconds
	cpuPerRequest time.Duration
	requests      float64
	seconds       float64
	cpu           time.Duration
}

// add sums a slice into a round: requests, time and CPU add up; p50 is the slices' largest
// p50 and p99 their largest p99 (wrk prints percentiles, which do not add up).
func (l *load) add(s load) {
	l.requests += s.requests
	l.seconds += s.seconds
	l.cpu += s.cpu
	l.p50, l.p99 = max(l.p50, s.p50), max(l.p99, s.p99)
	l.rps = l.requests / l.seconds
	l.cpuPerRequest = time.Duration(float64(l.cpu) / l.requests)
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in ([0-9.]+)(us|ms|s|m)`)
	wrkLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)`)
	units       = map[string]float64{"us": 0.001, "ms": 1, "s": 1000, "m": 60_000} // in ms
)

// drive runs wrk against s with the token for d and returns its figures.
func drive(ctx context.Context, s *server, path, token string, d time.Duration, connections int) (load, error) {
	before, err := s.cpu()
	if err != nil {
		return load{}, err
	}
	out, err := exec.CommandContext(ctx, "wrk", "-t2", fmt.Sprintf("-c%d", connections), fmt.Sprintf("-d%ds", int(d.Seconds())),
		"--latency", "-H", "Authorization: Bearer "+token, s.url+path).CombinedOutput()
	if err != nil {
		return load{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	after, err := s.cpu()
	if err != nil {
		return load{}, err
	}
	m := wrkRequests.FindSubmatch(out)
	if m == nil {
		return load{}, fmt.Errorf("wrk printed no request count: %s", out)
	}
	var l load
	l.requests, _ = strconv.ParseFloat(string(m[1]), 64)
	took, _ := strconv.ParseFloat(string(m[2]), 64)
	l.seconds = took * units[string(m[3])] / 1000
	if l.requests == 0 || l.seconds == 0 {
		return load{}, fmt.Errorf("wrk made no request: %s", out)
	}
	for _, lat := range wrkLatency.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(lat[2]), 64)
		v *= units[string(lat[3])]
		if string(lat[1]) == "50" {
			l.p50 = v
		} else {
			l.p99 = v
		}
	}
	l.cpu = after - before
	l.rps, l.cpuPerRequest = l.requests/l.seconds, time.Duration(float64(l.cpu)/l.requests)
	return l, nil
}

// driveRound gives each server o.duration of load with the token, in alternating slices.
func driveRound(ctx context.Context, servers [2]*server, token string, o httpOptions) ([2]load, error) {
	var round [2]load
	for i := range int(o.duration / o.slice) {
		for k := range 2 {
			j := k ^ (i % 2) // bare first in even slices, tokenward first in odd ones
			l, err := drive(ctx, servers[j], "/auth/verify", token, o.slice, o.connections)
			if err != nil {
				return round, err
			}
			round[j].add(l)
		}
	}
	return round, nil
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
	servers := [2]*server{bare, tw}
	for round := range o.rounds {
		for _, c := range cases {
			loads, err := driveRound(ctx, servers, c.token, o)
			if err != nil {
				return err
			}
			for i, s := range servers {
				l := loads[i]
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
	fmt.Fprintf(stdout, "(median of %d interleaved rounds of %s a server, alternating every %s; ratio: tokenward's requests/s over the bare server's in the same round; a round's p50 and p99 are its slices' largest)\n",
		o.rounds, o.duration, o.slice)
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
