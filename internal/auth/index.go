// Package auth verifies tokens from memory. Its Verifier holds every live token's digest
// with its account's identity and permissions, answers without touching the database,
// allocating or taking a lock, follows the changes other instances and the command line
// commit, and records each token's last use in memory for a background flush.
package auth

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenward/tokenward"
)

// Source is the database as the Verifier reads it; *store.DB implements it.
type Source interface {
	LatestChange(ctx context.Context) (int64, error)
	ChangesSince(ctx context.Context, seq int64, limit int) ([]Change, error)
	CountLiveTokens(ctx context.Context) (int, error)
	EachVerificationState(ctx context.Context, fn func(VerificationState)) error
	EachLiveToken(ctx context.Context, fn func(LiveToken)) error
	AccountVerificationState(ctx context.Context, accountID int64) (VerificationState, []LiveToken, error)
	// RecordUsage writes last-used times (token seq → epoch ms) and clients seen, in one
	// transaction, moving no time backwards and keeping tokenward.MaxRecentClients clients
	// per token.
	RecordUsage(ctx context.Context, used map[int64]int64, clients []ClientUse) error
	Ping(ctx context.Context) error
}

// account is an account as the index keeps it. Its tokens' entries point to it, so a
// change of permissions or active state is one atomic store that every token sees.
type account struct {
	state  atomic.Pointer[accountState]
	tokens []tokenward.Digest // its live tokens' digests, to remove them on change; writers only
}

// accountState is immutable once published: a change stores a new one.
type accountState struct {
	principal tokenward.Principal // TokenSeq left zero
	usable    bool                // live and active
}

// entry is a live token in the index. Readers only read seq, expires, replaced, account
// and limits; lastUsed, clients and queued belong to usage recording (usage.go). The field
// order keeps it at 56 bytes (the 64-byte size class; 48 before recent clients).
type entry struct {
	seq      int64
	expires  int64 // epoch milliseconds; 0: never (Authenticate refuses it from then on)
	account  *account
	limits   *limits                     // nil: the token restricts nothing
	lastUsed atomic.Int64                // epoch milliseconds of the newest use noted
	clients  atomic.Pointer[seenClients] // the recent clients noted; nil: none yet
	queued   atomic.Bool                 // in a usage queue, waiting for the next flush
	replaced bool                        // the secret a rotation replaced: it works until expires, its grace end
}

// limits are a restricted token's restrictions, immutable once published: the principal
// carries the networks slice as it is (no copy), and the permissions are one AND with the
// account's current ones, so that what the account loses the token loses at once.
type limits struct {
	networks    []netip.Prefix // nil: anywhere
	permissions tokenward.PermissionSet
	scoped      bool // permissions is a subset; false: all of the account's
}

// limitsOf returns t's restrictions for its entry; nil when it has none.
func limitsOf(t LiveToken) *limits {
	if t.Networks == nil && t.Permissions == nil {
		return nil
	}
	l := &limits{networks: t.Networks, permissions: ^tokenward.PermissionSet(0)}
	if t.Permissions != nil {
		l.permissions, l.scoped = *t.Permissions, true
	}
	return l
}

// same reports whether l and m restrict alike (both nil included).
func (l *limits) same(m *limits) bool {
	if l == nil || m == nil {
		return l == m
	}
	return l.permissions == m.permissions && l.scoped == m.scoped && slices.Equal(l.networks, m.networks) &&
		(l.networks == nil) == (m.networks == nil)
}

// Verifier implements tokenward.Verifier over an in-memory index.
//
// The index is split into shards by the digest's first bits; each shard is an immutable
// map behind an atomic pointer, so Verify takes no lock and writes no shared memory. The
// one writer at a time (Load, a catch-up, Suspend: writeMu) copies the shards a batch of
// changes touches and publishes them when the batch is applied.
type Verifier struct {
	src    Source
	now    func() time.Time
	logger *slog.Logger

	shards [shardCount]atomic.Pointer[shard]
	size   atomic.Int64 // live tokens in the index

	writeMu  sync.Mutex         // one writer of shards and accounts at a time
	accounts map[int64]*account // guarded by writeMu

	usage        usage
	coarseMillis atomic.Int64 // advanced by Run; 0 when Run is not running

	syncMu   sync.Mutex // one catch-up at a time
	seen     int64      // the newest change applied; guarded by syncMu
	built    atomic.Bool
	lastSync atomic.Int64 // unix nanoseconds of the last successful catch-up
	interval time.Duration

	catchUps catchUps // what a miss waits for (current.go)
	absent   absent   // digests known to be no token's (current.go)

	propagationLag prometheus.Histogram
	missCatchUps   prometheus.Counter
}

// shardBits is how many of a digest's bits choose its shard: 4,096 shards keep the copy a
// change makes small (a few hundred entries at a million tokens).
const (
	shardBits  = 12
	shardCount = 1 << shardBits
)

// shard is one immutable part of the index.
type shard struct {
	tokens map[tokenward.Digest]*entry
}

func shardOf(d tokenward.Digest) int {
	return int(d[0])<<(shardBits-8) | int(d[1])>>(16-shardBits)
}

// New returns an empty Verifier over src; Load fills it. interval is the poll period of Run.
func New(src Source, now func() time.Time, logger *slog.Logger, interval time.Duration) *Verifier {
	v := &Verifier{
		src: src, now: now, logger: logger, interval: interval,
		accounts: map[int64]*account{},
		propagationLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tokenward_propagation_lag_seconds",
			Help:    "Time from a change's commit (as its writer's clock saw it) to its application to this instance's index.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		missCatchUps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tokenward_index_miss_catchups_total",
			Help: "Catch-ups run because a token was not in the index (at most one per MissCatchUpGap).",
		}),
	}
	empty := &shard{tokens: map[tokenward.Digest]*entry{}}
	for i := range v.shards {
		v.shards[i].Store(empty)
	}
	v.usage.init()
	v.catchUps.init()
	return v
}

var _ tokenward.Verifier = (*Verifier)(nil)

// Verify returns the principal of the live token whose secret has digest d, and notes its
// use by c (its recent clients). It is two atomic loads and one map lookup: no lock, no
// database, no allocation (but for a client new to the token).
func (v *Verifier) Verify(d tokenward.Digest, c tokenward.Caller) (tokenward.Principal, bool) {
	e := v.shards[shardOf(d)].Load().tokens[d]
	if e == nil {
		return tokenward.Principal{}, false
	}
	st := e.account.state.Load()
	if !st.usable {
		return tokenward.Principal{}, false
	}
	p := st.principal
	p.TokenSeq = e.seq
	if l := e.limits; l != nil {
		p.Permissions &= l.permissions
		p.Scoped, p.AllowedNetworks = l.scoped, l.networks
	}
	if e.expires != 0 {
		p.TokenExpires = time.UnixMilli(e.expires).UTC()
		p.ReplacedSecret = e.replaced
	}
	// A use the service refuses (the token has expired, or the caller is outside its
	// networks) is no use: it neither keeps an idle token alive nor lists the caller among
	// the token's clients (a use from outside is announced as an event instead). The coarse
	// clock can let one use within a tick of the expiry through; the refusal itself is the
	// service's, by its exact clock.
	at := v.nowMillis()
	if (e.expires == 0 || at < e.expires) && (e.limits == nil || tokenward.AllowedFrom(e.limits.networks, c.Address)) {
		v.usage.record(e, at, c)
	}
	return p, true
}

// indexed reports whether d is in the index, usable or not.
func (v *Verifier) indexed(d tokenward.Digest) bool {
	return v.shards[shardOf(d)].Load().tokens[d] != nil
}

// nowMillis is the time noted as a token's last use: the coarse clock that Run advances
// every clockTick (reading the real clock costs a fifth of a verification), or the real
// clock when Run is not running.
func (v *Verifier) nowMillis() int64 {
	if ms := v.coarseMillis.Load(); ms != 0 {
		return ms
	}
	return v.now().UnixMilli()
}

// Suspend makes the accounts' tokens fail until apply next sets their state from the
// database (the change that caused the suspension is in the changes table, so the next
// successful catch-up reads it).
func (v *Verifier) Suspend(accountIDs ...int64) {
	v.writeMu.Lock()
	defer v.writeMu.Unlock()
	for _, id := range accountIDs {
		if a := v.accounts[id]; a != nil {
			a.state.Store(&accountState{principal: a.state.Load().principal, usable: false})
		}
	}
	v.logger.Warn("a write could not be read back; its accounts' tokens fail on this instance until the database answers", "accounts", len(accountIDs))
}

// Size returns the number of live tokens in the index.
func (v *Verifier) Size() int {
	return int(v.size.Load())
}

// Register adds the verifier's metrics to reg: index size, propagation lag, flush lag,
// catch-ups caused by unknown tokens.
func (v *Verifier) Register(reg prometheus.Registerer) {
	reg.MustRegister(v.propagationLag, v.missCatchUps,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenward_index_tokens", Help: "Live tokens in this instance's verification index.",
		}, func() float64 { return float64(v.Size()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenward_usage_flush_lag_seconds", Help: "Time since token usage was last written to the database.",
		}, func() float64 { return v.FlushLag().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenward_index_sync_age_seconds", Help: "Time since this instance last caught up with the database's changes.",
		}, func() float64 { return v.now().Sub(time.Unix(0, v.lastSync.Load())).Seconds() }),
	)
}
