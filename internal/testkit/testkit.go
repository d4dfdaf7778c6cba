// Package testkit holds what tests of several packages share: a settable clock, a cookie
// jar that expires cookies by that clock, a buffer that goroutines may write to, the
// tokenward binary built and started as a server (server.go), and the fixtures that fuzz
// targets name with placeholders (fuzz.go).
//
// The rule it serves: a test never mixes a fake clock with something that reads the real
// one. A fake clock starts at a fixed instant (Start), so that a test reads the same on
// any day; anything in the test that judges time (cookie expiry above all) must take the
// same clock. TOKENWARD_TEST_CLOCK_START moves every fake clock's start, so that running
// the suite with, say, TOKENWARD_TEST_CLOCK_START=2027-12-01T09:00:00Z proves that no test
// depends on today's date.
package testkit

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// DefaultStart is where fake clocks start unless TOKENWARD_TEST_CLOCK_START says otherwise.
var defaultStart = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)

// Start returns the instant fake clocks start at: TOKENWARD_TEST_CLOCK_START (RFC 3339) when
// set, a fixed day otherwise. It panics on a malformed value, which is a mistake in the
// command that ran the tests, not something a test could recover from.
func Start() time.Time {
	v := os.Getenv("TOKENWARD_TEST_CLOCK_START")
	if v == "" {
		return defaultStart
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		panic("testkit: TOKENWARD_TEST_CLOCK_START must be an RFC 3339 time: " + err.Error())
	}
	return t.UTC()
}

// Clock is a settable clock for tests. It starts at Start() and moves only when told to.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at Start().
func NewClock() *Clock { return &Clock{now: Start()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Jar is an http.CookieJar for tests against one server that expires cookies by a test
// clock, where net/http/cookiejar would use the real one. It keeps cookies by name and
// path, ignores domains (a test talks to one host) and honours Max-Age and Expires as a
// browser would, judged at now().
type Jar struct {
	now     func() time.Time
	mu      sync.Mutex
	cookies map[string]jarCookie // by name + "\x00" + path
}

type jarCookie struct {
	cookie  http.Cookie
	expires time.Time // zero: a session cookie
}

// NewJar returns an empty jar that judges expiry at now().
func NewJar(now func() time.Time) *Jar {
	return &Jar{now: now, cookies: map[string]jarCookie{}}
}

// SetCookies stores the cookies a response set, dropping those already expired.
func (j *Jar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	for _, c := range cookies {
		path := c.Path
		if path == "" {
			path = "/"
		}
		key := c.Name + "\x00" + path
		var expires time.Time
		switch {
		case c.MaxAge < 0:
			delete(j.cookies, key)
			continue
		case c.MaxAge > 0:
			expires = now.Add(time.Duration(c.MaxAge) * time.Second)
		case !c.Expires.IsZero():
			expires = c.Expires
		}
		if !expires.IsZero() && !expires.After(now) {
			delete(j.cookies, key)
			continue
		}
		j.cookies[key] = jarCookie{cookie: http.Cookie{Name: c.Name, Value: c.Value, Path: path, Secure: c.Secure}, expires: expires}
	}
}

// Cookies returns the live cookies whose path covers u's path; Secure ones only over https.
func (j *Jar) Cookies(u *url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	var out []*http.Cookie
	for key, c := range j.cookies {
		if !c.expires.IsZero() && !c.expires.After(now) {
			delete(j.cookies, key)
			continue
		}
		if c.cookie.Secure && u.Scheme != "https" {
			continue
		}
		p := u.Path
		if p == "" {
			p = "/"
		}
		if p != c.cookie.Path && !strings.HasPrefix(p, strings.TrimSuffix(c.cookie.Path, "/")+"/") {
			continue
		}
		cookie := c.cookie
		out = append(out, &cookie)
	}
	return out
}

// Buffer is a bytes.Buffer that several goroutines may write to, for capturing a server's
// log or a process's output.
type Buffer struct {
	// Limit, when not zero, is where the buffer stops keeping what is written (a write that
	// starts below it is kept whole), so that a long fuzz run does not pile up its log.
	Limit int

	mu  sync.Mutex
	buf bytes.Buffer
}

// Write keeps p (unless the buffer is past its Limit) and never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Limit > 0 && b.buf.Len() >= b.Limit {
		return len(p), nil
	}
	return b.buf.Write(p)
}

// Reset forgets everything written so far.
func (b *Buffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
