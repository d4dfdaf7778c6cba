package auth

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/loop"
)

// usage collects last-used times and recent clients in memory; a flush writes them in one
// transaction.
//
// Each token's entry holds its newest use, written only when the noted time moves forward
// (once per clockTick while Run runs), so verifications of one token by many cores share a
// cache line they only read. The first use since a flush also puts the entry in one of
// usageQueues queues (chosen by the token, each with its own mutex): once per token per
// flush, never per request.
//
// Each entry's recent clients (seenClients) work the same way: a repeated client, the
// common case, finds its record among at most tokenward.MaxRecentClients and moves its
// time forward once per clockTick, with no allocation and no lock; only a client new to the
// token allocates a record and publishes a new set.
type usage struct {
	queues       [usageQueues]usageQueue
	flushMu      sync.Mutex      // one flush at a time
	retry        map[int64]int64 // token seq → epoch milliseconds, from a flush that failed; guarded by flushMu
	retryClients []clientFlush   // the clients of a flush that failed; guarded by flushMu
	lastFlush    atomic.Int64    // unix nanoseconds of the last successful flush
}

// seenClient is one client of a token as usage notes it; only lastSeen changes once it is
// published.
type seenClient struct {
	address   netip.Addr // tokenward.ClientAddressOf
	userAgent string     // tokenward.CapUserAgent, cleaned for the database at the flush
	lastSeen  atomic.Int64
	flushed   int64 // lastSeen as last written; guarded by usage.flushMu
}

// seenClients is a token's recent clients, immutable once published: a new client
// publishes a copy with it in the place of the one seen longest ago.
type seenClients [tokenward.MaxRecentClients]*seenClient

// clientFlush is a client's time as a flush writes it, and the record to mark written.
type clientFlush struct {
	client *seenClient
	at     int64
	seq    int64
}

const usageQueues = 64

type usageQueue struct {
	mu      sync.Mutex
	entries []*entry
	_       [64 - 8 - 24]byte // one cache line per queue
}

func (u *usage) init() { u.retry = map[int64]int64{} }

// record notes a use of e at epoch milliseconds at by c (no client when c has no address).
func (u *usage) record(e *entry, at int64, c tokenward.Caller) {
	moved := advance(&e.lastUsed, at)
	if c.Address.IsValid() && noteClient(e, at, c) {
		moved = true
	}
	if !moved {
		return
	}
	// The flush clears queued before it reads lastUsed and the clients' times: a use it
	// misses finds queued false and queues the entry again.
	if !e.queued.Load() && e.queued.CompareAndSwap(false, true) {
		q := &u.queues[uint64(e.seq)%usageQueues]
		q.mu.Lock()
		q.entries = append(q.entries, e)
		q.mu.Unlock()
	}
}

// advance moves x forward to at; false when it was there already (nothing written).
func advance(x *atomic.Int64, at int64) bool {
	for {
		last := x.Load()
		if last >= at {
			return false
		}
		if x.CompareAndSwap(last, at) {
			return true
		}
	}
}

// noteClient notes that c used e at at; false when nothing changed (a repeated client
// within one tick of the clock).
func noteClient(e *entry, at int64, c tokenward.Caller) bool {
	address, agent := tokenward.ClientAddressOf(c.Address), tokenward.CapUserAgent(c.UserAgent)
	for {
		seen := e.clients.Load()
		if seen != nil {
			for _, k := range seen {
				if k == nil {
					break
				}
				if k.address == address && k.userAgent == agent {
					return advance(&k.lastSeen, at)
				}
			}
		}
		if e.clients.CompareAndSwap(seen, withClient(seen, address, agent, at)) {
			return true
		}
	}
}

// withClient returns a copy of seen with a new client in a free place, or in the place of
// the one seen longest ago: kept in memory, it would not be among the newest anyway.
func withClient(seen *seenClients, address netip.Addr, agent string, at int64) *seenClients {
	next := &seenClients{}
	if seen != nil {
		*next = *seen
	}
	k := &seenClient{address: address, userAgent: strings.Clone(agent)} // not the rest of a long header
	k.lastSeen.Store(at)
	oldest := 0
	for i, x := range next {
		if x == nil {
			oldest = i
			break
		}
		if x.lastSeen.Load() < next[oldest].lastSeen.Load() {
			oldest = i
		}
	}
	next[oldest] = k
	return next
}

// FlushUsage writes the last-used times and clients noted since the previous flush. On
// failure they are kept for the next one.
func (v *Verifier) FlushUsage(ctx context.Context) error {
	u := &v.usage
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	batch, clients := u.retry, u.retryClients
	u.retry, u.retryClients = map[int64]int64{}, nil
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
			clients = appendUnwritten(clients, e)
		}
	}
	clients = newestOfEach(clients)
	uses := make([]ClientUse, len(clients))
	for i, c := range clients {
		uses[i] = ClientUse{TokenSeq: c.seq, Address: c.client.address, UserAgent: tokenward.CleanUserAgent(c.client.userAgent), LastSeen: c.at}
	}
	if err := v.src.RecordUsage(ctx, batch, uses); err != nil {
		u.retry, u.retryClients = batch, clients
		return err
	}
	for _, c := range clients {
		c.client.flushed = max(c.client.flushed, c.at)
	}
	u.lastFlush.Store(v.now().UnixNano())
	return nil
}

// newestOfEach keeps one element per client, the newest: a client of a failed flush seen
// again is in a batch twice, and a database away for long must not grow it with each try.
func newestOfEach(clients []clientFlush) []clientFlush {
	at := make(map[*seenClient]int, len(clients))
	out := clients[:0]
	for _, c := range clients {
		if i, ok := at[c.client]; ok {
			out[i].at = max(out[i].at, c.at)
			continue
		}
		at[c.client] = len(out)
		out = append(out, c)
	}
	return out
}

// appendUnwritten appends e's clients seen since they were last written. The caller holds
// flushMu.
func appendUnwritten(clients []clientFlush, e *entry) []clientFlush {
	seen := e.clients.Load()
	if seen == nil {
		return clients
	}
	for _, k := range seen {
		if k == nil {
			break
		}
		if at := k.lastSeen.Load(); at > k.flushed {
			clients = append(clients, clientFlush{client: k, at: at, seq: e.seq})
		}
	}
	return clients
}

// RunUsageFlusher flushes usage every interval until ctx ends. The caller flushes once more
// after the server has drained its requests.
func (v *Verifier) RunUsageFlusher(ctx context.Context, interval time.Duration) {
	loop.Every(ctx, interval, func(ctx context.Context) {
		if err := v.FlushUsage(ctx); err != nil && ctx.Err() == nil {
			v.logger.Warn("cannot record token usage; will retry", "err", err)
		}
	})
}

// FlushLag returns how long ago usage was last written.
func (v *Verifier) FlushLag() time.Duration {
	last := v.usage.lastFlush.Load()
	if last == 0 {
		return 0
	}
	return v.now().Sub(time.Unix(0, last))
}
