package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenward/tokenward"
)

// Read-your-writes for tokens made elsewhere. A token created by the command line or by
// another instance is in the database before its secret reaches anybody, but not in this
// instance's index until a catch-up reads it. VerifyCurrent closes that gap: on a miss it
// waits for a catch-up that began after the verification did, then looks again.
//
// What a flood of unknown tokens costs: misses never query the database themselves. They
// share one catch-up at a time (a miss joins the running one when that began after the
// miss's verification, else the next one), and catch-ups caused by misses start at least
// MissCatchUpGap apart. So a flood costs at most 1s/MissCatchUpGap = 100 change-log
// queries per second per instance, on top of Run's poll; a change found costs the reads
// it would cost the poll anyway. A secret that was no token's after such a catch-up is
// remembered (absent): repeating it is answered from memory.

// MissCatchUpGap is the least time between the starts of two catch-ups caused by index
// misses: the bound on what a flood of unknown tokens costs the database, and the most a
// miss waits for its catch-up to start.
const MissCatchUpGap = 10 * time.Millisecond

// missCatchUpTimeout bounds one catch-up run for misses: waiting misses get their answer
// from the index as it is when the database does not answer.
const missCatchUpTimeout = 5 * time.Second

// catchUps numbers catch-ups and lets misses wait for one.
type catchUps struct {
	begun atomic.Uint64 // catch-ups that have begun reading the change log

	mu      sync.Mutex
	ended   uint64        // the newest catch-up that ended (they run one at a time, in order)
	failed  bool          // whether it failed
	endedCh chan struct{} // closed when the next catch-up ends
	pending bool          // a miss asked for a catch-up the driver has not begun
	driving bool          // the driver goroutine runs
}

func (c *catchUps) init() { c.endedCh = make(chan struct{}) }

// begin numbers a catch-up about to read the change log. The caller holds syncMu.
func (c *catchUps) begin() uint64 { return c.begun.Add(1) }

// end notes that catch-up n ended, and wakes every miss waiting for it.
func (c *catchUps) end(n uint64, err error) {
	c.mu.Lock()
	c.ended, c.failed = n, err != nil
	close(c.endedCh)
	c.endedCh = make(chan struct{})
	c.mu.Unlock()
}

// VerifyCurrent is Verify as of the moment it is called: a token whose creation committed
// before the call verifies even when this instance has not caught up with it yet. On a
// miss it waits for a catch-up that began after the call (shared with every other miss,
// see MissCatchUpGap) and looks again; a secret known to be no token's is refused at once.
// It returns false when ctx ends first or the catch-up fails (the index answers as it is).
func (v *Verifier) VerifyCurrent(ctx context.Context, d tokenward.Digest, c tokenward.Caller) (tokenward.Principal, bool) {
	asOf := v.catchUps.begun.Load()
	if p, ok := v.Verify(d, c); ok {
		return p, true
	}
	if v.absent.has(d) {
		return tokenward.Principal{}, false
	}
	if !v.awaitCatchUpAfter(ctx, asOf) {
		return tokenward.Principal{}, false
	}
	if p, ok := v.Verify(d, c); ok {
		return p, true
	}
	if !v.indexed(d) {
		v.absent.add(d)
	}
	return tokenward.Principal{}, false
}

// awaitCatchUpAfter waits until a catch-up numbered after asOf has ended, asking the
// driver for one when none has begun. It returns whether that catch-up succeeded.
func (v *Verifier) awaitCatchUpAfter(ctx context.Context, asOf uint64) bool {
	c := &v.catchUps
	c.mu.Lock()
	for c.ended <= asOf {
		if c.begun.Load() <= asOf {
			c.pending = true
			if !c.driving {
				c.driving = true
				go v.driveMissCatchUps()
			}
		}
		ch := c.endedCh
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
		c.mu.Lock()
	}
	ok := !c.failed
	c.mu.Unlock()
	return ok
}

// driveMissCatchUps runs the catch-ups misses ask for, one at a time and MissCatchUpGap
// apart, and returns when none is asked for after a gap.
func (v *Verifier) driveMissCatchUps() {
	c := &v.catchUps
	for {
		c.mu.Lock()
		if !c.pending {
			c.driving = false
			c.mu.Unlock()
			return
		}
		c.pending = false
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), missCatchUpTimeout)
		v.missCatchUps.Inc()
		v.CatchUp(ctx) // a failure is Run's to report; the waiting misses get the index's answer
		cancel()
		time.Sleep(MissCatchUpGap)
	}
}

// absent remembers secrets' digests that were no token's after a catch-up that began after
// they were presented. Tokens' secrets are random and reach their holder only after the
// token is committed, so such a digest can only become a token's by chance; adding a token
// to the index forgets its digest all the same. It is a fixed-size table that a newer
// digest overwrites: memory stays bounded under a flood, and the common case (one client
// repeating a revoked or mistyped token) is answered without waiting.
type absent struct {
	slots [absentSlots]atomic.Pointer[tokenward.Digest]
}

const absentSlots = 1 << 14

func absentSlot(d tokenward.Digest) int {
	return (int(d[4])<<8 | int(d[5])) % absentSlots
}

func (a *absent) has(d tokenward.Digest) bool {
	p := a.slots[absentSlot(d)].Load()
	return p != nil && *p == d
}

func (a *absent) add(d tokenward.Digest) {
	a.slots[absentSlot(d)].Store(&d)
}

// forget removes d; the caller holds writeMu (one forgetter at a time).
func (a *absent) forget(d tokenward.Digest) {
	s := &a.slots[absentSlot(d)]
	if p := s.Load(); p != nil && *p == d {
		s.CompareAndSwap(p, nil)
	}
}
