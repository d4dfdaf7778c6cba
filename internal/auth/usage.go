package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// usage collects last-used times in memory; a flush writes them in one transaction.
//
// Each token's entry holds its newest use, written only when the noted time moves forward
// (once per clockTick while Run runs), so verifications of one token by many cores share a
// cache line they only read. The first use since a flush also puts the entry in one of
// usageQueues queues (chosen by the token, each with its own mutex): once per token per
// flush, never per request.
type usage struct {
	queues    [usageQueues]usageQueue
	flushMu   sync.Mutex      // one flush at a time
	retry     map[int64]int64 // token seq → epoch milliseconds, from a flush that failed; guarded by flushMu
	lastFlush atomic.Int64    // unix nanoseconds of the last successful flush
}

const usageQueues = 64

type usageQueue struct {
	mu      sync.Mutex
	entries []*entry
	_       [64 - 8 - 24]byte // one cache line per queue
}

func (u *usage) init() { u.retry = map[int64]int64{} }

// record notes a use of e at epoch milliseconds at.
func (u *usage) record(e *entry, at int64) {
	for {
		last := e.lastUsed.Load()
		if last >= at {
			return
		}
		if e.lastUsed.CompareAndSwap(last, at) {
			break
		}
	}
	// The flush clears queued before it reads lastUsed: a use it misses finds queued false
	// and queues the entry again.
	if !e.queued.Load() && e.queued.CompareAndSwap(false, true) {
		q := &u.queues[uint64(e.seq)%usageQueues]
		q.mu.Lock()
		q.entries = append(q.entries, e)
		q.mu.Unlock()
	}
}

// FlushUsage writes the last-used times noted since the previous flush. On failure they
// are kept for the next one.
func (v *Verifier) FlushUsage(ctx context.Context) error {
	u := &v.usage
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	batch := u.retry
	u.retry = map[int64]int64{}
	var taken []*entry
	for i := range u.queues {
		q := &u.queues[i]
		clear(taken)
		q.mu.Lock()
		taken, q.entries = q.entries, taken[:0]
		q.mu.Unlock()
		for _, e := range taken {
			e.queued.Store(false)
			if at := e.lastUsed.Load(); batch[e.seq] < at {
				batch[e.seq] = at
			}
		}
	}
	if err := v.src.RecordUsage(ctx, batch); err != nil {
		u.retry = batch
		return err
	}
	u.lastFlush.Store(v.now().UnixNano())
	return nil
}

// RunUsageFlusher flushes usage every interval until ctx ends. The caller flushes once more
// after the server has drained its requests.
func (v *Verifier) RunUsageFlusher(ctx context.Context, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := v.FlushUsage(ctx); err != nil && ctx.Err() == nil {
				v.logger.Warn("cannot record token usage; will retry", "err", err)
			}
		}
	}
}

// FlushLag returns how long ago usage was last written.
func (v *Verifier) FlushLag() time.Duration {
	last := v.usage.lastFlush.Load()
	if last == 0 {
		return 0
	}
	return v.now().Sub(time.Unix(0, last))
}
