package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// usage collects last-used times in memory; a flush writes them in one transaction. The
// verification path only takes a mutex and updates a map entry.
type usage struct {
	mu        sync.Mutex
	pending   map[int64]int64 // token seq → epoch milliseconds
	lastFlush atomic.Int64    // unix nanoseconds of the last successful flush
}

func (u *usage) record(seq, at int64) {
	u.mu.Lock()
	if u.pending[seq] < at {
		u.pending[seq] = at
	}
	u.mu.Unlock()
}

// FlushUsage writes the last-used times noted since the previous flush. On failure they
// are kept for the next one.
func (v *Verifier) FlushUsage(ctx context.Context) error {
	u := &v.usage
	u.mu.Lock()
	batch := u.pending
	u.pending = make(map[int64]int64, len(batch))
	u.mu.Unlock()
	if err := v.src.RecordUsage(ctx, batch); err != nil {
		u.mu.Lock()
		for seq, at := range batch {
			if u.pending[seq] < at {
				u.pending[seq] = at
			}
		}
		u.mu.Unlock()
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
