package limit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tokenward/tokenward/internal/limit"
	"github.com/tokenward/tokenward/internal/testkit"
)

func TestLimiter(t *testing.T) {
	c := testkit.NewClock()
	l := limit.New(limit.Rule{Burst: 3, Per: time.Minute}, c.Now)
	for i := range 3 {
		if over, _ := l.Fail("a"); over {
			t.Fatalf("failure %d of 3 was over the budget", i+1)
		}
	}
	if blocked, _ := l.Blocked("a"); !blocked {
		t.Fatal("after 3 failures of 3, a is not blocked")
	}
	over, wait := l.Fail("a")
	if !over || wait <= 0 || wait > 20*time.Second {
		t.Errorf("4th failure: over %v, retry after %v; want over, within the 20s refill of one", over, wait)
	}
	if blocked, _ := l.Blocked("b"); blocked {
		t.Error("another key is blocked by a's failures")
	}
	c.Advance(20 * time.Second)
	if blocked, _ := l.Blocked("a"); blocked {
		t.Error("a still blocked after one refill interval")
	}
	c.Advance(2 * time.Minute)
	l.Fail("c") // sweeps idle keys
	if n := l.Len(); n != 1 {
		t.Errorf("tracked keys after they went idle: %d, want 1 (c)", n)
	}
}

func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{{"5/15m", "5/15m0s", false}, {"off", "off", false}, {"0/1m", "", true}, {"5", "", true}, {"x/1m", "", true}, {"5/-1s", "", true}} {
		r, err := limit.ParseRule(tc.in)
		if (err != nil) != tc.err || (err == nil && fmt.Sprint(r) != tc.want) {
			t.Errorf("ParseRule(%q) = %v, %v; want %q, error %v", tc.in, r, err, tc.want, tc.err)
		}
	}
}

func TestZeroRuleNeverLimits(t *testing.T) {
	l := limit.New(limit.Rule{}, time.Now)
	for range 1000 {
		if over, _ := l.Fail("a"); over {
			t.Fatal("a disabled limit limited")
		}
	}
}
