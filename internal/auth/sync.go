package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/tokenward/tokenward"
)

// Load builds the index from the database. It notes the newest change first and applies
// every change after it once the tokens are loaded, so that a write committed during the
// load is not missed (applying a change twice is harmless).
func (v *Verifier) Load(ctx context.Context) error {
	v.syncMu.Lock()
	defer v.syncMu.Unlock()
	start, err := v.src.LatestChange(ctx)
	if err != nil {
		return err
	}
	n, err := v.src.CountLiveTokens(ctx)
	if err != nil {
		return err
	}
	var shards [shardCount]*shard
	for i := range shards {
		shards[i] = &shard{tokens: make(map[tokenward.Digest]*entry, n/shardCount+n/shardCount/8+1)}
	}
	accounts := map[int64]*account{}
	if err := v.src.EachVerificationState(ctx, func(s VerificationState) {
		a := &account{}
		a.state.Store(newAccountState(s))
		accounts[s.AccountID] = a
	}); err != nil {
		return err
	}
	size := 0
	if err := v.src.EachLiveToken(ctx, func(t LiveToken) {
		if a := accounts[t.AccountID]; a != nil {
			shards[shardOf(t.Digest)].tokens[t.Digest] = &entry{seq: t.Seq, expires: t.Expires, replaced: t.Replaced, account: a, limits: limitsOf(t)}
			a.tokens = append(a.tokens, t.Digest)
			size++
		}
	}); err != nil {
		return err
	}
	v.writeMu.Lock()
	for i, s := range shards {
		v.shards[i].Store(s)
	}
	v.size.Store(int64(size))
	v.accounts = accounts
	v.writeMu.Unlock()
	v.seen = start
	if err := v.catchUpLocked(ctx); err != nil {
		return err
	}
	v.built.Store(true)
	return nil
}

// reloadAccounts re-reads the state of every live account (permissions and whether its
// tokens verify), leaving the tokens of the index as they are. The caller holds writeMu.
func (v *Verifier) reloadAccounts(ctx context.Context) error {
	var states []VerificationState
	if err := v.src.EachVerificationState(ctx, func(s VerificationState) { states = append(states, s) }); err != nil {
		return err
	}
	for _, s := range states {
		a := v.accounts[s.AccountID]
		if a == nil {
			a = &account{}
			v.accounts[s.AccountID] = a
		}
		a.state.Store(newAccountState(s))
	}
	return nil
}

// clockTick is the resolution of recorded last-use times while Run runs.
const clockTick = 100 * time.Millisecond

// changeBatch is how many changes one query reads.
const changeBatch = 1000

// CatchUp applies every change committed so far.
func (v *Verifier) CatchUp(ctx context.Context) error {
	v.syncMu.Lock()
	defer v.syncMu.Unlock()
	return v.catchUpLocked(ctx)
}

// catchUpLocked reads the change log from the newest change applied and applies each batch
// of changes as one edit. The caller holds syncMu. Every catch-up is numbered before its
// first read of the log, so that a miss knows whether a catch-up saw what was committed
// before it (current.go).
func (v *Verifier) catchUpLocked(ctx context.Context) (err error) {
	n := v.catchUps.begin()
	defer func() { v.catchUps.end(n, err) }()
	for {
		changes, err := v.src.ChangesSince(ctx, v.seen, changeBatch)
		if err != nil {
			return err
		}
		if err := v.applyChanges(ctx, changes); err != nil {
			return err
		}
		if len(changes) < changeBatch {
			v.lastSync.Store(v.now().UnixNano())
			return nil
		}
	}
}

// applyChanges applies one batch of changes, publishing the shards it touched at the end
// (or at the failure: what was read so far is applied, and v.seen says where to resume).
func (v *Verifier) applyChanges(ctx context.Context, changes []Change) error {
	v.writeMu.Lock()
	defer v.writeMu.Unlock()
	e := v.newEdit()
	defer e.publish()
	applied := map[int64]bool{}
	for _, c := range changes {
		if c.AccountID == EveryAccount && !applied[c.AccountID] {
			// A role or group changed: any account's permissions may have; one query
			// re-reads them all, and the tokens stay as they are.
			if err := v.reloadAccounts(ctx); err != nil {
				return err
			}
			applied[c.AccountID] = true
		} else if !applied[c.AccountID] {
			state, live, err := v.src.AccountVerificationState(ctx, c.AccountID)
			if err != nil {
				return err
			}
			state.AccountID = c.AccountID
			e.apply(state, live)
			applied[c.AccountID] = true
		}
		v.propagationLag.Observe(max(0, v.now().Sub(c.At).Seconds()))
		v.seen = c.Seq
	}
	return nil
}

// Run keeps the index current until ctx ends: it catches up when listen reports a
// notification and at least every interval regardless, so that a lost notification or a
// broken connection never leaves a revoked token working for longer than the interval
// plus one catch-up.
func (v *Verifier) Run(ctx context.Context, listen func(ctx context.Context, wake func())) {
	wake := make(chan struct{}, 1)
	go listen(ctx, func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	tick := time.NewTicker(v.interval)
	defer tick.Stop()
	clock := time.NewTicker(clockTick)
	defer clock.Stop()
	v.coarseMillis.Store(v.now().UnixMilli())
	defer v.coarseMillis.Store(0)
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-clock.C:
			v.coarseMillis.Store(v.now().UnixMilli())
			continue
		case <-wake:
		case <-tick.C:
		}
		err := v.CatchUp(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			v.logger.Warn("cannot read changes; answering from the index as it is", "err", err)
			failing = true
		case err == nil && failing:
			v.logger.Info("reading changes again; index caught up")
			failing = false
		}
	}
}

// Ready reports whether the index is built and caught up recently: within three poll
// intervals, so one slow query does not flap readiness.
func (v *Verifier) Ready() error {
	if !v.built.Load() {
		return fmt.Errorf("the verification index is not built yet")
	}
	if age := v.now().Sub(time.Unix(0, v.lastSync.Load())); age > 3*v.interval+time.Second {
		return fmt.Errorf("the verification index has not caught up with the database for %s", age.Round(time.Millisecond))
	}
	return nil
}
