package auth

import (
	"maps"

	"github.com/tokenward/tokenward"
)

// edit is one batch of changes to the index. It copies each shard it touches once, and
// publish makes the copies current; until then readers see the shards as they were. The
// caller holds writeMu from the first change to publish.
type edit struct {
	v      *Verifier
	copies map[int]*shard // shard index → its copy, changed in place until published
}

func (v *Verifier) newEdit() *edit {
	return &edit{v: v, copies: map[int]*shard{}}
}

// shard returns the copy of the shard that holds d, copying it on first use.
func (e *edit) shard(d tokenward.Digest) *shard {
	i := shardOf(d)
	if s := e.copies[i]; s != nil {
		return s
	}
	s := &shard{tokens: maps.Clone(e.v.shards[i].Load().tokens)}
	e.copies[i] = s
	return s
}

// publish makes every copied shard current and counts the tokens it added or removed.
func (e *edit) publish() {
	var added int64
	for i, s := range e.copies {
		added += int64(len(s.tokens) - len(e.v.shards[i].Load().tokens))
		e.v.shards[i].Store(s)
	}
	e.v.size.Add(added)
	clear(e.copies)
}

// apply replaces what the index knows of one account and its live tokens. A state with no
// identifier is a deleted account: it and its tokens leave the index. A token that stays
// keeps its entry (and the use noted on it) unless its expiry or restrictions changed. The account's new state is visible at once;
// its tokens' arrivals and departures when the edit is published.
func (e *edit) apply(state VerificationState, live []LiveToken) {
	v := e.v
	a := v.accounts[state.AccountID]
	if state.Identifier == "" {
		if a != nil {
			a.state.Store(&accountState{principal: a.state.Load().principal, usable: false})
			for _, d := range a.tokens {
				delete(e.shard(d).tokens, d)
			}
			delete(v.accounts, state.AccountID)
		}
		return
	}
	if a == nil {
		a = &account{}
		v.accounts[state.AccountID] = a
	}
	a.state.Store(newAccountState(state))
	kept := make(map[tokenward.Digest]bool, len(live))
	for _, t := range live {
		kept[t.Digest] = true
	}
	for _, d := range a.tokens {
		if !kept[d] {
			delete(e.shard(d).tokens, d)
		}
	}
	a.tokens = a.tokens[:0]
	for _, t := range live {
		s := e.shard(t.Digest)
		l := limitsOf(t)
		if old := s.tokens[t.Digest]; old == nil || old.seq != t.Seq || old.account != a || old.expires != t.Expires ||
			old.replaced != t.Replaced || !old.limits.same(l) {
			// Entries are read without locks, so a changed expiry (a new policy maximum) or
			// restriction is a new entry, carrying over the use noted on the old one.
			ne := &entry{seq: t.Seq, expires: t.Expires, replaced: t.Replaced, account: a, limits: l}
			if old != nil && old.seq == t.Seq {
				ne.lastUsed.Store(old.lastUsed.Load())
				ne.clients.Store(old.clients.Load()) // the recent clients noted, not yet flushed
			}
			s.tokens[t.Digest] = ne
			v.absent.forget(t.Digest)
		}
		a.tokens = append(a.tokens, t.Digest)
	}
}

func newAccountState(s VerificationState) *accountState {
	return &accountState{
		principal: tokenward.Principal{AccountID: s.AccountID, Account: s.Identifier, Kind: s.Kind, Permissions: s.Permissions},
		usable:    s.Usable,
	}
}
