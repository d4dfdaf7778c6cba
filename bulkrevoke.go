package tokenward

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Bulk revocation (reference §14, ours): an administrator revokes many tokens at once, by
// ids, by account or by search. The request creates a job whose items are the matching
// live tokens as of that moment (a snapshot: the set cannot drift while it runs); a runner
// in every serving instance revokes them in batches, each batch one transaction with its
// revocations, one audit event per token and the changes every instance's verifier
// follows. A job survives restarts and a runner's crash: its lease lapses and another
// runner (on PostgreSQL exactly one, by SKIP LOCKED) carries on where the last batch
// committed, so each token is revoked and audited exactly once.

// Limits of a bulk revocation.
const (
	// MaxRevokeIDs is how many token ids one request may name: a page of the org table.
	MaxRevokeIDs = MaxSearchLimit
	// MaxRevokeJobTokens is how many tokens one job may hold; a larger set is a search to
	// narrow first.
	MaxRevokeJobTokens = 1_000_000
	// DefaultRevokeBatch is how many tokens one transaction revokes: large enough that
	// 100,000 tokens take a hundred transactions, small enough that a batch holds the write
	// lock for a fraction of a second.
	DefaultRevokeBatch = 1000
	// DefaultRevokeLease is how long a runner holds a job without renewing it (each batch
	// renews it) before another instance may take it over.
	DefaultRevokeLease = 15 * time.Second
)

// Audit actions of bulk revocation. Each token a job revokes is audited with TokenRevoked
// (AuditTokenRevoke), as any revocation is, its detail naming the job.
const AuditTokenRevokeBulk = "token.revoke_bulk"

// JobState is where a bulk revocation job stands, as the API reports it.
type JobState string

const (
	JobRunning JobState = "running"
	JobDone    JobState = "done"   // finished, every item revoked (or found revoked already)
	JobFailed  JobState = "failed" // finished, some items could not be revoked (Failed says how many)
)

// RevokeJob is a bulk revocation job and its progress.
type RevokeJob struct {
	ID            string
	Actor, Source string // who asked, from where: the actor and source of its audit events
	Scope         string // what it revokes, in words ("every token of sa::ci")
	Created       time.Time
	Finished      time.Time // zero while it runs
	Total         int       // items snapshotted at creation
	Done          int       // items revoked, by the job or meanwhile by anything else
	Failed        int       // items that could not be revoked
	// Claim and LeaseUntil are the runner holding the job and until when.
	Claim      string
	LeaseUntil time.Time
}

// State is the job's state: running until every item is handled, then done or failed.
func (j RevokeJob) State() JobState {
	switch {
	case j.Finished.IsZero():
		return JobRunning
	case j.Failed > 0:
		return JobFailed
	}
	return JobDone
}

// Percent is how much of the job is handled, 0 to 100, for a progress bar.
func (j RevokeJob) Percent() int {
	if j.Total == 0 {
		return 100
	}
	return (j.Done + j.Failed) * 100 / j.Total
}

// RevokeSelection is what a job snapshots, checked and resolved by the service: exactly
// one of IDs, AccountID and Search.
type RevokeSelection struct {
	IDs       []string       // public token ids
	AccountID int64          // every live token of this account
	Search    *SearchRequest // every live token matching it (normalized; limit and offset unused)
	// Expected, when not nil, is how many tokens the caller was shown: the job is refused
	// (EConflict) when the snapshot holds another number.
	Expected *int
}

// RevokeJobStore is what bulk revocation needs from the database.
type RevokeJobStore interface {
	// CreateRevokeJob inserts j with the live tokens sel names as its items and its audit
	// event, in one transaction, and sets j.Total (and j.Finished when there is no item).
	// EConflict when sel.Expected differs from the number of items, EInvalid past
	// MaxRevokeJobTokens; nothing is written then.
	CreateRevokeJob(ctx context.Context, j *RevokeJob, sel RevokeSelection, by AuditEvent) error
	// RevokeJobByID returns a job, or ENotFound.
	RevokeJobByID(ctx context.Context, id string) (RevokeJob, error)
	// ClaimRevokeJob gives the oldest unfinished job that nobody holds, or whose lease
	// lapsed by now, to claim until leaseUntil and returns it; ENotFound when there is none.
	// Concurrent claims from any number of instances give a job to one of them.
	ClaimRevokeJob(ctx context.Context, claim string, now, leaseUntil time.Time) (RevokeJob, error)
	// RevokeJobBatch revokes the job's next max items at by.At in one transaction (the
	// live ones, each with its TokenRevokedByJob event and a change of its account; the
	// others count as done without an event), renews the lease to leaseUntil and returns
	// the job and the accounts whose tokens it revoked. It finishes the job when no item
	// is left. EConflict when claim no longer holds the job (another runner took it over,
	// or it is finished); EInvalid, with nothing written, when the batch would leave no
	// usable administrator.
	RevokeJobBatch(ctx context.Context, id, claim string, max int, leaseUntil time.Time, by AuditEvent) (RevokeJob, []int64, error)
	// FailRevokeJobItem marks the job's next item as failed for reason and moves past it,
	// renewing the lease. EConflict as RevokeJobBatch.
	FailRevokeJobItem(ctx context.Context, id, claim string, leaseUntil time.Time, reason string) (RevokeJob, error)
	// ReleaseRevokeJob lets go of a job claim holds, so another runner may take it at once
	// (a runner stopping gracefully); nothing when claim does not hold it.
	ReleaseRevokeJob(ctx context.Context, id, claim string) error
	// CountTokens returns the exact number of live tokens matching a request normalized
	// against TokenSearch (its limit and offset unused), up to MaxRevokeJobTokens + 1.
	CountTokens(ctx context.Context, req SearchRequest) (int, error)
}

// RevokeRequest is a bulk revocation request: exactly one of IDs, Account and Query.
type RevokeRequest struct {
	IDs     []string
	Account string         // an account identifier: every token of that account
	Query   *SearchRequest // every token matching this search, whatever its limit and offset
	// ExpectedCount is how many tokens the caller expects (required with Query): a job
	// over another number is refused with EConflict, so that a search whose matches
	// changed since the caller looked revokes nothing.
	ExpectedCount *int
}

// StartRevokeJob creates a bulk revocation job for an administrator and wakes this
// instance's runner; the job runs in the background. Errors: EForbidden; EInvalid for a
// malformed request (none or several of ids, account and query; a query without
// expectedCount; too many ids or matches); ENotFound for an unknown account; EConflict
// when the number of matching tokens is not ExpectedCount.
func (s *Service) StartRevokeJob(ctx context.Context, p Principal, r RevokeRequest) (RevokeJob, error) {
	if err := RequireAccounts(p); err != nil {
		return RevokeJob{}, err
	}
	sel, scope, err := s.revokeSelection(ctx, r)
	if err != nil {
		return RevokeJob{}, err
	}
	by := s.by(p)
	j := RevokeJob{ID: uuid.NewString(), Actor: by.Actor, Source: by.Source, Scope: scope, Created: by.At}
	if err := s.store.CreateRevokeJob(ctx, &j, sel, by); err != nil {
		return RevokeJob{}, err
	}
	select {
	case s.jobs <- struct{}{}:
	default: // a wake-up is already pending
	}
	return j, nil
}

// revokeSelection checks a request and resolves it into what the store snapshots, with the
// job's scope in words.
func (s *Service) revokeSelection(ctx context.Context, r RevokeRequest) (RevokeSelection, string, error) {
	given := 0
	for _, set := range []bool{r.IDs != nil, r.Account != "", r.Query != nil} {
		if set {
			given++
		}
	}
	if given != 1 {
		return RevokeSelection{}, "", Errorf(EInvalid, "give exactly one of ids, account and query")
	}
	if r.ExpectedCount != nil && *r.ExpectedCount < 0 {
		return RevokeSelection{}, "", Errorf(EInvalid, "expectedCount must not be negative")
	}
	sel := RevokeSelection{Expected: r.ExpectedCount}
	switch {
	case r.IDs != nil:
		if len(r.IDs) == 0 || len(r.IDs) > MaxRevokeIDs {
			return sel, "", Errorf(EInvalid, "ids must hold between 1 and %d token ids", MaxRevokeIDs)
		}
		seen := map[string]bool{}
		for _, id := range r.IDs {
			if id == "" || len(id) > 64 {
				return sel, "", Errorf(EInvalid, "ids must be token ids")
			}
			if !seen[id] {
				seen[id] = true
				sel.IDs = append(sel.IDs, id)
			}
		}
		return sel, fmt.Sprintf("%d selected tokens", len(sel.IDs)), nil
	case r.Account != "":
		a, err := s.accountOf(ctx, r.Account, "")
		if err != nil {
			return sel, "", err
		}
		sel.AccountID = a.ID
		return sel, "every token of " + a.Identifier, nil
	}
	if r.ExpectedCount == nil {
		return sel, "", Errorf(EInvalid, "expectedCount is required with query: the number of matching tokens you were shown")
	}
	req := *r.Query
	req.Limit, req.Offset = 0, 0 // a job takes every match, whatever page was asked for
	if err := req.Normalize(TokenSearch); err != nil {
		return sel, "", err
	}
	sel.Search = &req
	return sel, "every token matching " + describeSearch(req.Query), nil
}

// describeSearch is a search's conditions in words, for a job's scope.
func describeSearch(conds []SearchCondition) string {
	if len(conds) == 0 {
		return "no filter (all tokens)"
	}
	var parts []string
	for _, c := range conds {
		part := c.Key
		switch {
		case len(c.Values) > 0:
			part += " " + strings.ToLower(string(c.MatchingMethod)) + " " + strings.Join(c.Values, " or ")
		case c.Start != nil || c.End != nil:
			part += " in a range"
		default:
			part += " " + strings.ToLower(string(c.MatchingMethod)) + " " + c.Value
		}
		if c.Negated {
			part = "not " + part
		}
		parts = append(parts, part)
	}
	return truncate(strings.Join(parts, "; "), 500)
}

// RevokeJobOf returns a bulk revocation job and its progress. Errors: EForbidden, ENotFound.
func (s *Service) RevokeJobOf(ctx context.Context, p Principal, id string) (RevokeJob, error) {
	if err := RequireAccounts(p); err != nil {
		return RevokeJob{}, err
	}
	if !validJobID(id) {
		return RevokeJob{}, Errorf(ENotFound, "no such job")
	}
	return s.store.RevokeJobByID(ctx, id)
}

// validJobID reports whether id could be a job's id (a UUID): anything else is not looked up.
func validJobID(id string) bool {
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// CountMatchingTokens returns the exact number of live tokens matching a search, which a
// bulk revocation of it would snapshot (a search page's total is a lower bound past a
// few thousand). Errors: EForbidden, EInvalid.
func (s *Service) CountMatchingTokens(ctx context.Context, p Principal, req SearchRequest) (int, error) {
	if err := RequireAccounts(p); err != nil {
		return 0, err
	}
	if err := req.Normalize(TokenSearch); err != nil {
		return 0, err
	}
	return s.store.CountTokens(ctx, req)
}

// RevokeRunner runs bulk revocation jobs: it claims one, revokes it batch by batch
// renewing its lease, and lets it go when it is finished or another runner took it over.
type RevokeRunner struct {
	s     *Service
	claim string // this runner's identity in the jobs it holds
	batch int
	lease time.Duration
	held  string // the id of the job it holds, "" when none
}

// NewRevokeRunner returns a runner of bulk revocation jobs revoking batch tokens per
// transaction and holding a job for lease past each batch (defaults when zero).
func (s *Service) NewRevokeRunner(batch int, lease time.Duration) *RevokeRunner {
	if batch <= 0 {
		batch = DefaultRevokeBatch
	}
	if lease <= 0 {
		lease = DefaultRevokeLease
	}
	return &RevokeRunner{s: s, claim: rand.Text(), batch: batch, lease: lease}
}

// Step claims a job when the runner holds none and revokes its next batch. It reports
// whether there was work (false: no job to run); an error leaves the job to the next step
// or, once its lease lapses, to another runner.
func (r *RevokeRunner) Step(ctx context.Context) (bool, error) {
	if r.held == "" {
		now := r.s.clock()
		j, err := r.s.store.ClaimRevokeJob(ctx, r.claim, now, now.Add(r.lease))
		if ErrorCode(err) == ENotFound {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		r.held = j.ID
	}
	j, err := r.revokeBatch(ctx, r.batch)
	if ErrorCode(err) == EInvalid {
		// The batch would leave no usable administrator: revoke its items one by one,
		// failing the one (or ones) that would, so the rest of the job still happens.
		j, err = r.revokeOneByOne(ctx)
	}
	if ErrorCode(err) == EConflict || (err == nil && j.State() != JobRunning) {
		r.held = "" // finished, or taken over: nothing more to do here
		return true, nil
	}
	return true, err
}

// revokeBatch revokes the held job's next max items, as the job's creator.
func (r *RevokeRunner) revokeBatch(ctx context.Context, max int) (RevokeJob, error) {
	j, err := r.s.store.RevokeJobByID(ctx, r.held)
	if err != nil {
		return RevokeJob{}, err
	}
	by := AuditEvent{At: r.s.clock(), Actor: j.Actor, Source: j.Source}
	// Each token's TokenRevoked audit event carries its token.revoked event, which the
	// store writes to the outbox in the batch's transaction.
	j, accounts, err := r.s.store.RevokeJobBatch(ctx, r.held, r.claim, max, by.At.Add(r.lease), by)
	return j, r.s.written(ctx, err, accounts...)
}

// revokeOneByOne handles the held job's next batch of items one transaction each, marking
// failed those whose revocation would leave no usable administrator.
func (r *RevokeRunner) revokeOneByOne(ctx context.Context) (RevokeJob, error) {
	var j RevokeJob
	for range r.batch {
		var err error
		j, err = r.revokeBatch(ctx, 1)
		if ErrorCode(err) == EInvalid {
			j, err = r.s.store.FailRevokeJobItem(ctx, r.held, r.claim, r.s.clock().Add(r.lease), ErrorMessage(err))
		}
		if err != nil || j.State() != JobRunning {
			return j, err
		}
	}
	return j, nil
}

// Run runs jobs until ctx ends: step after step while there is work, otherwise waiting
// for a job created on this instance or poll (which finds jobs created elsewhere and jobs
// whose runner died). Errors go to onError and the runner carries on after a poll. When
// ctx ends it lets go of the job it holds, so that another instance (or this one,
// restarted) carries on without waiting for the lease to lapse.
func (r *RevokeRunner) Run(ctx context.Context, poll time.Duration, onError func(error)) {
	defer func() {
		if r.held != "" {
			release, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := r.s.store.ReleaseRevokeJob(release, r.held, r.claim); err != nil {
				onError(err)
			}
		}
	}()
	for ctx.Err() == nil {
		worked, err := r.Step(ctx)
		if err != nil && ctx.Err() == nil {
			onError(err)
		}
		if worked && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-r.s.jobs:
		case <-time.After(poll):
		}
	}
}
