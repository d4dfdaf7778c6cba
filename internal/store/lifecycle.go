package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
)

// The lifecycle sweep's writes (tokenward.LifecycleStore). Each is a conditional UPDATE
// whose WHERE clause is the state it moves a token out of, in batches of lifecycleBatch
// tokens, each batch one transaction with its audit events: two instances sweeping at once
// cannot both move a token (on PostgreSQL the second UPDATE waits for the first's row lock
// and re-checks its WHERE against the row the first committed), so every notice is
// recorded once. The instants come from the service's clock, as parameters.

// lifecycleBatch is how many tokens one transaction of the sweep moves at most, so that a
// policy change that disables half the organization does not hold the write lock for long.
const lifecycleBatch = 500

// expiryPending holds the tokens whose expiry still has a notice to come; expiryDue is
// when the next one is due: 30 days before the expiry, then 7, then 1, then the expiry.
// Both must equal migration 0015's tokens_expiry_due, which serves the sweep's lookup.
const (
	expiryPending = `revoked_at IS NULL AND expires_at IS NOT NULL AND idle_disabled_at IS NULL AND (expiry_notice IS NULL OR expiry_notice > 0)`
	expiryDue     = `(expires_at - CASE WHEN expiry_notice IS NULL THEN 2592000000 WHEN expiry_notice = 30 THEN 604800000 WHEN expiry_notice = 7 THEN 86400000 ELSE 0 END)`
)

// idlePending holds the tokens the idle timeout may still disable; the activity
// expressions are a token's last activity, the latest of generation, rotation and use, as
// migration 0015's tokens_idle_due indexes it on each engine.
const (
	idlePending      = `revoked_at IS NULL AND idle_disabled_at IS NULL AND (expiry_notice IS NULL OR expiry_notice > 0)`
	sqliteActivity   = `max(created_at, COALESCE(last_used_at, 0), COALESCE(rotated_at, 0))`
	postgresActivity = `GREATEST(created_at, last_used_at, rotated_at)`
)

// dueExpiries is the lookup of a batch of tokens whose next expiry notice is due at $1.
func (db *DB) dueExpiries() string {
	return `SELECT seq FROM tokens WHERE ` + expiryPending + ` AND ` + expiryDue + ` <= $1` + db.batchLock()
}

// batchLock ends a lookup of a batch of the sweep: on PostgreSQL it locks the rows it
// returns and skips those another instance's sweep holds, so that two sweeps never wait
// for each other's rows (nor deadlock on them) and each moves a token at most once; SQLite
// has one writer at a time.
func (db *DB) batchLock() string {
	limit := fmt.Sprintf(" LIMIT %d", lifecycleBatch)
	if db.engine == Postgres {
		return limit + " FOR UPDATE SKIP LOCKED"
	}
	return limit
}

// idleCondition is the WHERE clause of the tokens the idle timeout disables: of kind $1,
// last active before $2, unexpired at $3.
func (db *DB) idleCondition() string {
	activity := sqliteActivity
	if db.engine == Postgres {
		activity = postgresActivity
	}
	return idlePending + ` AND account_kind = $1 AND ` + activity + ` < $2 AND (expires_at IS NULL OR expires_at > $3)`
}

// NoticeExpiries records the due expiry notices at by.At: for each token, the smallest
// threshold (30, 7 or 1 days) it is now within, or its expiry, once; it returns how many.
func (db *DB) NoticeExpiries(ctx context.Context, by tokenward.AuditEvent) (int, error) {
	const day = 24 * time.Hour
	now := by.At
	total := 0
	for {
		n := 0
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			n = 0 // a retried transaction counts afresh
			moved, err := updateReturning(ctx, tx, `UPDATE tokens
				SET expiry_notice = CASE WHEN expires_at <= $1 THEN 0 WHEN expires_at <= $2 THEN 1 WHEN expires_at <= $3 THEN 7 ELSE 30 END
				WHERE seq IN (`+db.dueExpiries()+`) AND `+expiryPending+` AND `+expiryDue+` <= $1
				RETURNING seq, expiry_notice`, millis(now), millis(now.Add(day)), millis(now.Add(7*day)))
			if err != nil {
				return fmt.Errorf("notice expiries: %w", err)
			}
			tokens, err := tokensBySeq(ctx, tx, moved)
			if err != nil {
				return err
			}
			for _, t := range tokens {
				e := tokenward.TokenExpired(by, t.Token, t.Account)
				if days := int(moved[t.seq]); days > 0 {
					e = tokenward.TokenExpiring(by, t.Token, t.Account, days)
				}
				if err := insertAudit(ctx, tx, e); err != nil {
					return err
				}
			}
			n = len(moved)
			return nil
		})
		total += n
		if err != nil || n < lifecycleBatch {
			return total, err
		}
	}
}

// DisableIdleTokens disables, at by.At, the enabled tokens unexpired then that a cutoff
// names, each with its audit event, and records a change of each account concerned, so
// that every instance's verifier drops them; dryRun counts them and changes nothing.
func (db *DB) DisableIdleTokens(ctx context.Context, cutoffs []tokenward.IdleCutoff, by tokenward.AuditEvent, dryRun bool) (int, error) {
	idle := db.idleCondition()
	total := 0
	for _, c := range cutoffs {
		args := []any{string(c.Kind), millis(c.Before), millis(by.At)}
		if dryRun {
			var n int
			if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE `+idle, args...).Scan(&n); err != nil {
				return total, fmt.Errorf("count idle tokens: %w", err)
			}
			total += n
			continue
		}
		for {
			n, err := db.disableIdleBatch(ctx, idle, args, by)
			total += n
			if err != nil {
				return total, err
			}
			if n < lifecycleBatch {
				break
			}
		}
	}
	return total, nil
}

// disableIdleBatch disables up to lifecycleBatch of the tokens idle (a WHERE clause over
// args: kind, cutoff, now) selects, in one transaction, and returns how many.
func (db *DB) disableIdleBatch(ctx context.Context, idle string, args []any, by tokenward.AuditEvent) (int, error) {
	n := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		moved, err := updateReturning(ctx, tx, `UPDATE tokens SET idle_disabled_at = $3
			WHERE seq IN (SELECT seq FROM tokens WHERE `+idle+db.batchLock()+`) AND `+idle+`
			RETURNING seq, account_id`, args...)
		if err != nil {
			return fmt.Errorf("disable idle tokens: %w", err)
		}
		n = len(moved)
		tokens, err := tokensBySeq(ctx, tx, moved)
		if err != nil {
			return err
		}
		accounts := map[int64]bool{}
		for _, t := range tokens {
			if err := insertAudit(ctx, tx, tokenward.TokenIdleDisabled(by, t.Token, t.Account)); err != nil {
				return err
			}
			accounts[t.AccountID] = true
		}
		for id := range accounts {
			if err := db.recordChange(ctx, tx, id, by.At); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// updateReturning runs an UPDATE ... RETURNING seq, value and returns value by seq.
func updateReturning(ctx context.Context, tx *sql.Tx, query string, args ...any) (map[int64]int64, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var seq, v int64
		if err := rows.Scan(&seq, &v); err != nil {
			return nil, err
		}
		out[seq] = v
	}
	return out, rows.Err()
}

// seqToken is a token with its internal number.
type seqToken struct {
	tokenward.Token
	seq int64
}

// tokensBySeq reads the tokens whose internal numbers are the keys of seqs, inside tx (as
// the write that just moved them left them), in seq order.
func tokensBySeq(ctx context.Context, tx *sql.Tx, seqs map[int64]int64) ([]seqToken, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	var q query
	var params []string
	for seq := range seqs {
		params = append(params, q.arg(seq))
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+tokenColumns+`, t.seq FROM tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.seq IN (`+strings.Join(params, ", ")+`) ORDER BY t.seq`, q.args...)
	if err != nil {
		return nil, fmt.Errorf("read swept tokens: %w", err)
	}
	defer rows.Close()
	var out []seqToken
	for rows.Next() {
		var t seqToken
		var err error
		t.Token, err = scanToken(seqScanner{rows, &t.seq})
		if err != nil {
			return nil, fmt.Errorf("scan swept token: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// seqScanner is a row whose last column, the seq after tokenColumns, goes to seq.
type seqScanner struct {
	rows *sql.Rows
	seq  *int64
}

func (s seqScanner) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.seq)...) }
