package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
)

// Bulk revocation jobs (migration 0016): a job's items are snapshotted when it is created;
// each batch revokes the next items after next_seq and moves next_seq past them in one
// transaction, under the job row's lock and only for the runner whose claim holds it.

// revokeJobColumns are the columns scanRevokeJob reads.
const revokeJobColumns = `id, actor, source, scope, created_at, finished_at, total, done, failed, COALESCE(claim, ''), lease_until`

func scanRevokeJob(row interface{ Scan(...any) error }) (tokenward.RevokeJob, error) {
	var j tokenward.RevokeJob
	var created int64
	var finished, lease sql.NullInt64
	if err := row.Scan(&j.ID, &j.Actor, &j.Source, &j.Scope, &created, &finished, &j.Total, &j.Done, &j.Failed, &j.Claim, &lease); err != nil {
		return tokenward.RevokeJob{}, err
	}
	j.Created, j.Finished, j.LeaseUntil = fromMillis(sql.NullInt64{Int64: created, Valid: true}), fromMillis(finished), fromMillis(lease)
	return j, nil
}

// CreateRevokeJob inserts j and snapshots the live tokens sel names as its items, with its
// audit event, in one transaction; the count checks happen before the commit, so a refused
// job leaves nothing behind.
func (db *DB) CreateRevokeJob(ctx context.Context, j *tokenward.RevokeJob, sel tokenward.RevokeSelection, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var seq int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO revoke_jobs (id, actor, source, scope, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING seq`,
			j.ID, j.Actor, j.Source, j.Scope, millis(j.Created)).Scan(&seq); err != nil {
			return fmt.Errorf("create revoke job: %w", err)
		}
		pick, args, err := db.revokeSelectionSQL(sel)
		if err != nil {
			return err
		}
		args = append(args, seq)
		res, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO revoke_job_items (job_seq, token_seq) SELECT CAST($%d AS BIGINT), m.seq FROM (%s) m`, len(args), pick), args...)
		if err != nil {
			return fmt.Errorf("snapshot revoke job: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("snapshot revoke job: %w", err)
		}
		switch {
		case n > tokenward.MaxRevokeJobTokens:
			return tokenward.Errorf(tokenward.EInvalid, "more than %d tokens match: narrow the search first", tokenward.MaxRevokeJobTokens)
		case sel.Expected != nil && int64(*sel.Expected) != n:
			return tokenward.Errorf(tokenward.EConflict, "%d tokens match now, not the %d expected: look again and confirm the new number", n, *sel.Expected)
		}
		j.Total = int(n)
		if n == 0 {
			j.Finished = j.Created
		}
		if _, err := tx.ExecContext(ctx, `UPDATE revoke_jobs SET total = $1, finished_at = $2 WHERE seq = $3`, n, nullMillis(j.Finished), seq); err != nil {
			return fmt.Errorf("create revoke job: %w", err)
		}
		return insertAudit(ctx, tx, tokenward.RevokeJobStarted(by, *j))
	})
}

// revokeSelectionSQL is the query of the seqs of the live tokens sel names, with its
// arguments.
func (db *DB) revokeSelectionSQL(sel tokenward.RevokeSelection) (string, []any, error) {
	switch {
	case sel.Search != nil:
		s, err := db.planTokenSearch(*sel.Search)
		if err != nil {
			return "", nil, err
		}
		pick, args := s.candidates("t.seq", s.join, "", tokenward.MaxRevokeJobTokens+1)
		return pick, args, nil
	case sel.AccountID != 0:
		return `SELECT seq FROM tokens WHERE account_id = $1 AND revoked_at IS NULL`, []any{sel.AccountID}, nil
	}
	var q query
	var params []string
	for _, id := range sel.IDs {
		if storable(id) {
			params = append(params, q.arg(id))
		}
	}
	if len(params) == 0 {
		return `SELECT seq FROM tokens WHERE FALSE`, nil, nil
	}
	return `SELECT seq FROM tokens WHERE id IN (` + strings.Join(params, ", ") + `) AND revoked_at IS NULL`, q.args, nil
}

// CountTokens returns the exact number of live tokens matching req, up to
// MaxRevokeJobTokens + 1: what a job of that search would snapshot now.
func (db *DB) CountTokens(ctx context.Context, req tokenward.SearchRequest) (int, error) {
	s, err := db.planTokenSearch(req)
	if err != nil {
		return 0, err
	}
	pick, args := s.candidates("t.seq", s.join, "", tokenward.MaxRevokeJobTokens+1)
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM (`+pick+`) m`, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// RevokeJobByID returns a job, or ENotFound.
func (db *DB) RevokeJobByID(ctx context.Context, id string) (tokenward.RevokeJob, error) {
	j, err := scanRevokeJob(db.read.QueryRowContext(ctx, `SELECT `+revokeJobColumns+` FROM revoke_jobs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return tokenward.RevokeJob{}, tokenward.Errorf(tokenward.ENotFound, "no such job")
	}
	if err != nil {
		return tokenward.RevokeJob{}, fmt.Errorf("read revoke job: %w", err)
	}
	return j, nil
}

// ClaimRevokeJob gives the oldest claimable job to claim. On PostgreSQL the candidate is
// locked with SKIP LOCKED, so that instances claiming at once each take a different job
// (or none) instead of queueing on one; on SQLite the write lock serialises the claims.
func (db *DB) ClaimRevokeJob(ctx context.Context, claim string, now, leaseUntil time.Time) (tokenward.RevokeJob, error) {
	skip := ""
	if db.engine == Postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	var j tokenward.RevokeJob
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		j, err = scanRevokeJob(tx.QueryRowContext(ctx, `UPDATE revoke_jobs SET claim = $1, lease_until = $2
			WHERE seq = (SELECT seq FROM revoke_jobs WHERE finished_at IS NULL AND (lease_until IS NULL OR lease_until <= $3)
				ORDER BY seq LIMIT 1`+skip+`)
			RETURNING `+revokeJobColumns, claim, millis(leaseUntil), millis(now)))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return tokenward.RevokeJob{}, tokenward.Errorf(tokenward.ENotFound, "no job to run")
	}
	if err != nil {
		return tokenward.RevokeJob{}, fmt.Errorf("claim revoke job: %w", err)
	}
	return j, nil
}

// heldJob locks the job's row for the rest of tx and returns its seq and next_seq, or
// EConflict when claim does not hold it or it is finished.
func (db *DB) heldJob(ctx context.Context, tx *sql.Tx, id, claim string) (seq, next int64, err error) {
	var holder sql.NullString
	var finished sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT seq, next_seq, claim, finished_at FROM revoke_jobs WHERE id = $1`+db.forUpdate(), id).
		Scan(&seq, &next, &holder, &finished)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, tokenward.Errorf(tokenward.ENotFound, "no such job")
	}
	if err != nil {
		return 0, 0, fmt.Errorf("lock revoke job: %w", err)
	}
	if holder.String != claim || finished.Valid {
		return 0, 0, tokenward.Errorf(tokenward.EConflict, "the job is finished or held by another runner")
	}
	return seq, next, nil
}

// RevokeJobBatch revokes the job's next max items in one transaction: the tokens still
// live are revoked, each with its audit event (so a token revoked meanwhile, by anything,
// is counted done without a second one), the accounts' changes recorded, and the job's
// progress, cursor and lease written with them.
func (db *DB) RevokeJobBatch(ctx context.Context, id, claim string, max int, leaseUntil time.Time, by tokenward.AuditEvent) (tokenward.RevokeJob, []int64, error) {
	var accounts []int64
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		seq, next, err := db.heldJob(ctx, tx, id, claim)
		if err != nil {
			return err
		}
		guard, err := db.lockAccounts(ctx, tx)
		if err != nil {
			return err
		}
		var last, n int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(token_seq), 0), count(*) FROM (SELECT token_seq FROM revoke_job_items
			WHERE job_seq = $1 AND token_seq > $2 ORDER BY token_seq LIMIT $3) b`, seq, next, max).Scan(&last, &n); err != nil {
			return fmt.Errorf("read revoke job items: %w", err)
		}
		if n == 0 {
			return db.advanceJob(ctx, tx, seq, next, 0, 0, true, leaseUntil, by.At)
		}
		if accounts, err = db.revokeJobItems(ctx, tx, seq, next, last, id, by); err != nil {
			return err
		}
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		if err := db.recordChanges(ctx, tx, accounts, by.At); err != nil {
			return err
		}
		return db.advanceJob(ctx, tx, seq, last, n, 0, n < int64(max), leaseUntil, by.At)
	})
	if err != nil {
		return tokenward.RevokeJob{}, nil, err
	}
	j, err := db.RevokeJobByID(ctx, id)
	return j, accounts, err
}

// revokeJobItems revokes the live tokens among the job's items after next up to last and
// writes their audit events; it returns their accounts.
func (db *DB) revokeJobItems(ctx context.Context, tx *sql.Tx, seq, next, last int64, id string, by tokenward.AuditEvent) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE tokens SET revoked_at = $1
		WHERE seq IN (SELECT token_seq FROM revoke_job_items WHERE job_seq = $2 AND token_seq > $3 AND token_seq <= $4)
		AND revoked_at IS NULL RETURNING id, account_id, account_identifier`, millis(by.At), seq, next, last)
	if err != nil {
		return nil, fmt.Errorf("revoke tokens: %w", err)
	}
	defer rows.Close()
	var events []tokenward.AuditEvent
	var accounts []int64
	seen := map[int64]bool{}
	for rows.Next() {
		var token, account string
		var accountID int64
		if err := rows.Scan(&token, &accountID, &account); err != nil {
			return nil, fmt.Errorf("revoke tokens: %w", err)
		}
		events = append(events, tokenward.TokenRevokedByJob(by, token, account, id))
		if !seen[accountID] {
			seen[accountID] = true
			accounts = append(accounts, accountID)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("revoke tokens: %w", err)
	}
	rows.Close()
	return accounts, db.insertAudits(ctx, tx, events)
}

// advanceJob moves the job's cursor to next, adds done and failed items, renews its lease
// and, when finished, marks it finished at.
func (db *DB) advanceJob(ctx context.Context, tx *sql.Tx, seq, next, done, failed int64, finished bool, leaseUntil, at time.Time) error {
	var end sql.NullInt64
	if finished {
		end = nullMillis(at)
	}
	_, err := tx.ExecContext(ctx, `UPDATE revoke_jobs SET next_seq = $1, done = done + $2, failed = failed + $3,
		lease_until = $4, finished_at = $5 WHERE seq = $6`, next, done, failed, millis(leaseUntil), end, seq)
	if err != nil {
		return fmt.Errorf("record revoke job progress: %w", err)
	}
	return nil
}

// FailRevokeJobItem marks the job's next item failed for reason and moves past it.
func (db *DB) FailRevokeJobItem(ctx context.Context, id, claim string, leaseUntil time.Time, reason string) (tokenward.RevokeJob, error) {
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		seq, next, err := db.heldJob(ctx, tx, id, claim)
		if err != nil {
			return err
		}
		var item int64
		err = tx.QueryRowContext(ctx, `SELECT token_seq FROM revoke_job_items WHERE job_seq = $1 AND token_seq > $2 ORDER BY token_seq LIMIT 1`,
			seq, next).Scan(&item)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // nothing left: the next batch finishes the job
		}
		if err != nil {
			return fmt.Errorf("read revoke job item: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE revoke_job_items SET failure = $1 WHERE job_seq = $2 AND token_seq = $3`, reason, seq, item); err != nil {
			return fmt.Errorf("record failed item: %w", err)
		}
		return db.advanceJob(ctx, tx, seq, item, 0, 1, false, leaseUntil, time.Time{})
	})
	if err != nil {
		return tokenward.RevokeJob{}, err
	}
	return db.RevokeJobByID(ctx, id)
}

// ReleaseRevokeJob ends claim's lease on the job, when claim holds it.
func (db *DB) ReleaseRevokeJob(ctx context.Context, id, claim string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE revoke_jobs SET lease_until = NULL WHERE id = $1 AND claim = $2`, id, claim); err != nil {
			return fmt.Errorf("release revoke job: %w", err)
		}
		return nil
	})
}
