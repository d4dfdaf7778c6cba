// Package auth verifies tokens from memory. Its Verifier holds every live token's digest
// with its account's identity and permissions, answers without touching the database or
// allocating, follows the changes other instances and the command line commit, and records
// each token's last use in memory for a background flush.
package auth

import (
	"context"
	"log/slog"
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
	RecordUsage(ctx context.Context, used map[int64]int64) error
	Ping(ctx context.Context) error
}

// account is an account as the index keeps it. Its tokens' slots point to it, so a change
// of permissions or active state is one write that every token sees.
type account struct {
	principal tokenward.Principal // TokenSeq left zero
	usable    bool                // live and active
	tokens    []tokenward.Digest  // its live tokens' digests, to remove them on change
}

// slot is a live token in the index: 24 bytes beside its 32-byte key.
type slot struct {
	seq     int64
	expires int64 // epoch milliseconds; 0: never (Authenticate refuses it from then on)
	account *account
}

// Verifier implements tokenward.Verifier over an in-memory index.
type Verifier struct {
	src    Source
	now    func() time.Time
	logger *slog.Logger

	mu       sync.RWMutex
	tokens   map[tokenward.Digest]slot
	accounts map[int64]*account

	usage        usage
	coarseMillis atomic.Int64 // advanced by Run; 0 when Run is not running

	syncMu   sync.Mutex // one catch-up at a time
	seen     int64      // the newest change applied; guarded by syncMu
	built    atomic.Bool
	lastSync atomic.Int64 // unix nanoseconds of the last successful catch-up
	interval time.Duration

	propagationLag prometheus.Histogram
}

// New returns an empty Verifier over src; Load fills it. interval is the poll period of Run.
func New(src Source, now func() time.Time, logger *slog.Logger, interval time.Duration) *Verifier {
	return &Verifier{
		src: src, now: now, logger: logger, interval: interval,
		tokens:   map[tokenward.Digest]slot{},
		accounts: map[int64]*account{},
		usage:    usage{pending: map[int64]int64{}},
		propagationLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tokenward_propagation_lag_seconds",
			Help:    "Time from a change's commit (as its writer's clock saw it) to its application to this instance's index.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
}

var _ tokenward.Verifier = (*Verifier)(nil)

// Verify returns the principal of the live token whose secret has digest d, and notes its
// use. It takes a read lock and one map lookup: no database, no allocation.
func (v *Verifier) Verify(d tokenward.Digest) (tokenward.Principal, bool) {
	v.mu.RLock()
	s, ok := v.tokens[d]
	var p tokenward.Principal
	if ok && s.account.usable {
		p = s.account.principal
		p.TokenSeq = s.seq
		if s.expires != 0 {
			p.TokenExpires = time.UnixMilli(s.expires).UTC()
		}
	} else {
		ok = false
	}
	v.mu.RUnlock()
	if ok {
		v.usage.record(s.seq, v.nowMillis())
	}
	return p, ok
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
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, id := range accountIDs {
		if a := v.accounts[id]; a != nil {
			a.usable = false
		}
	}
	v.logger.Warn("a write could not be read back; its accounts' tokens fail on this instance until the database answers", "accounts", len(accountIDs))
}

// Size returns the number of live tokens in the index.
func (v *Verifier) Size() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.tokens)
}

// apply replaces what the index knows of one account and its live tokens. A state with no
// identifier is a deleted account: it and its tokens leave the index.
func (v *Verifier) apply(state VerificationState, live []LiveToken) {
	v.mu.Lock()
	defer v.mu.Unlock()
	a := v.accounts[state.AccountID]
	if a != nil {
		for _, d := range a.tokens {
			delete(v.tokens, d)
		}
		a.tokens = a.tokens[:0]
	}
	if state.Identifier == "" {
		delete(v.accounts, state.AccountID)
		return
	}
	if a == nil {
		a = &account{}
		v.accounts[state.AccountID] = a
	}
	setAccount(a, state)
	for _, t := range live {
		v.tokens[t.Digest] = slot{seq: t.Seq, expires: t.Expires, account: a}
		a.tokens = append(a.tokens, t.Digest)
	}
}

func setAccount(a *account, s VerificationState) {
	a.principal = tokenward.Principal{AccountID: s.AccountID, Account: s.Identifier, Kind: s.Kind, Permissions: s.Permissions}
	a.usable = s.Usable
}

// Register adds the verifier's metrics to reg: index size, propagation lag, flush lag.
func (v *Verifier) Register(reg prometheus.Registerer) {
	reg.MustRegister(v.propagationLag,
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
