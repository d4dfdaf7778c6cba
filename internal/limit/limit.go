// Package limit slows down guessing: it keeps a token bucket per key (a source address,
// an account) for failed attempts only, so that legitimate traffic is never counted.
package limit

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rule is a budget of failures: Burst at once, refilled at Burst per Per.
type Rule struct {
	Burst int
	Per   time.Duration
}

// ParseRule reads "N/DURATION" such as "5/15m"; "off" disables the limit (zero Rule).
func ParseRule(s string) (Rule, error) {
	if s == "off" || s == "" {
		return Rule{}, nil
	}
	n, d, ok := strings.Cut(s, "/")
	burst, err1 := strconv.Atoi(n)
	per, err2 := time.ParseDuration(d)
	if !ok || err1 != nil || err2 != nil || burst <= 0 || per <= 0 {
		return Rule{}, fmt.Errorf("%q is not a limit: write N/DURATION such as 5/15m, or off", s)
	}
	return Rule{Burst: burst, Per: per}, nil
}

func (r Rule) String() string {
	if r.Burst == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/%s", r.Burst, r.Per)
}

// Limiter counts failures per key. Keys idle for longer than it takes to refill are
// forgotten, so memory stays bounded by the keys failing recently.
type Limiter struct {
	rule    Rule
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// New returns a limiter for rule; a zero rule never limits.
func New(rule Rule, now func() time.Time) *Limiter {
	return &Limiter{rule: rule, now: now, buckets: map[string]*bucket{}, swept: now()}
}

// Blocked reports whether key has no failures left, and when it will have one again.
func (l *Limiter) Blocked(key string) (bool, time.Duration) {
	if l.rule.Burst == 0 {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return false, 0
	}
	now := l.now()
	if b.lim.TokensAt(now) >= 1 {
		return false, 0
	}
	r := b.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return true, wait
}

// Fail records a failure of key and reports whether it was over the budget (and for how
// long the key stays blocked).
func (l *Limiter) Fail(key string) (bool, time.Duration) {
	if l.rule.Burst == 0 {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b := l.buckets[key]
	if b == nil {
		every := rate.Every(l.rule.Per / time.Duration(l.rule.Burst))
		b = &bucket{lim: rate.NewLimiter(every, l.rule.Burst)}
		l.buckets[key] = b
	}
	b.last = now
	if b.lim.AllowN(now, 1) {
		return false, 0
	}
	r := b.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return true, wait
}

// sweep forgets buckets that have refilled, at most once per rule period.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < l.rule.Per {
		return
	}
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.rule.Per {
			delete(l.buckets, k)
		}
	}
	l.swept = now
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
