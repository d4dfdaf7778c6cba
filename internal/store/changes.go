package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/auth"
)

// ChangesChannel is the PostgreSQL notification channel that tells instances a change was
// committed.
const ChangesChannel = "tokenward_changes"

// recordChange appends a change of an account to the changes table inside tx. It first
// takes the changes lock, so that on PostgreSQL changes commit in the order of their
// sequence numbers: a reader that has seen change n has seen every change before it. On
// SQLite the write lock the transaction holds does the same.
func (db *DB) recordChange(ctx context.Context, tx *sql.Tx, accountID int64, at time.Time) error {
	if err := db.lockGlobal(ctx, tx, lockChanges); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO changes (account_id, at) VALUES ($1, $2)`, accountID, millis(at)); err != nil {
		return fmt.Errorf("record change: %w", err)
	}
	if db.engine == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify('`+ChangesChannel+`', '')`); err != nil {
			return fmt.Errorf("notify change: %w", err)
		}
	}
	return nil
}

// recordChanges is recordChange for several accounts (a bulk revocation's batch), in one
// statement and one notification.
func (db *DB) recordChanges(ctx context.Context, tx *sql.Tx, accountIDs []int64, at time.Time) error {
	if len(accountIDs) == 0 {
		return nil
	}
	if err := db.lockGlobal(ctx, tx, lockChanges); err != nil {
		return err
	}
	var q query
	rows := make([]string, len(accountIDs))
	for i, id := range accountIDs {
		rows[i] = "(" + q.arg(id) + ", " + q.arg(millis(at)) + ")"
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO changes (account_id, at) VALUES `+strings.Join(rows, ", "), q.args...); err != nil {
		return fmt.Errorf("record changes: %w", err)
	}
	if db.engine == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify('`+ChangesChannel+`', '')`); err != nil {
			return fmt.Errorf("notify change: %w", err)
		}
	}
	return nil
}

// LatestChange returns the sequence number of the newest change, 0 when there is none.
func (db *DB) LatestChange(ctx context.Context) (int64, error) {
	var seq int64
	if err := db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM changes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read latest change: %w", err)
	}
	return seq, nil
}

// ChangesSince returns up to limit changes after seq, oldest first.
func (db *DB) ChangesSince(ctx context.Context, seq int64, limit int) ([]auth.Change, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT seq, account_id, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer rows.Close()
	var out []auth.Change
	for rows.Next() {
		var c auth.Change
		var at int64
		if err := rows.Scan(&c.Seq, &c.AccountID, &at); err != nil {
			return nil, fmt.Errorf("scan change: %w", err)
		}
		c.At = time.UnixMilli(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// EachVerificationState calls fn for every live account.
func (db *DB) EachVerificationState(ctx context.Context, fn func(auth.VerificationState)) error {
	rows, err := db.read.QueryContext(ctx, `SELECT a.id, a.identifier, a.kind, a.active, `+permissionColumns+`
		FROM accounts a WHERE a.deleted_at IS NULL`)
	if err != nil {
		return fmt.Errorf("load accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s auth.VerificationState
		var kind, direct, fromRoles string
		if err := rows.Scan(&s.AccountID, &s.Identifier, &kind, &s.Usable, &direct, &fromRoles); err != nil {
			return fmt.Errorf("scan account: %w", err)
		}
		s.Kind = tokenward.AccountKind(kind)
		_, s.Permissions = effective(s.Kind, direct, fromRoles)
		fn(s)
	}
	return rows.Err()
}

// EachLiveToken calls fn for every live token that verifies: not idle-disabled.
func (db *DB) EachLiveToken(ctx context.Context, fn func(auth.LiveToken)) error {
	rows, err := db.read.QueryContext(ctx, `SELECT `+liveTokenColumns+` FROM tokens WHERE revoked_at IS NULL AND idle_disabled_at IS NULL`)
	if err != nil {
		return fmt.Errorf("load tokens: %w", err)
	}
	defer rows.Close()
	var s liveTokenScan
	for rows.Next() {
		if err := s.scan(rows, fn); err != nil {
			return err
		}
	}
	return rows.Err()
}

// AccountVerificationState returns an account's state and its live tokens, read in one
// snapshot. A deleted or unknown account comes back not usable, with no tokens.
func (db *DB) AccountVerificationState(ctx context.Context, accountID int64) (auth.VerificationState, []auth.LiveToken, error) {
	s := auth.VerificationState{AccountID: accountID}
	var tokens []auth.LiveToken
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: db.snapshotIsolation()})
	if err != nil {
		return s, nil, fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback()
	var kind, direct, fromRoles string
	err = tx.QueryRowContext(ctx, `SELECT a.identifier, a.kind, a.active, `+permissionColumns+`
		FROM accounts a WHERE a.id = $1 AND a.deleted_at IS NULL`, accountID).Scan(&s.Identifier, &kind, &s.Usable, &direct, &fromRoles)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil, nil
	}
	if err != nil {
		return s, nil, fmt.Errorf("read account state: %w", err)
	}
	s.Kind = tokenward.AccountKind(kind)
	_, s.Permissions = effective(s.Kind, direct, fromRoles)
	rows, err := tx.QueryContext(ctx, `SELECT `+liveTokenColumns+` FROM tokens WHERE account_id = $1 AND revoked_at IS NULL AND idle_disabled_at IS NULL`, accountID)
	if err != nil {
		return s, nil, fmt.Errorf("read account tokens: %w", err)
	}
	defer rows.Close()
	var scan liveTokenScan
	for rows.Next() {
		if err := scan.scan(rows, func(t auth.LiveToken) { tokens = append(tokens, t) }); err != nil {
			return s, nil, err
		}
	}
	return s, tokens, rows.Err()
}

// snapshotIsolation is the isolation level that makes a read-only transaction see one
// snapshot: REPEATABLE READ on PostgreSQL; SQLite transactions always do.
func (db *DB) snapshotIsolation() sql.IsolationLevel {
	if db.engine == Postgres {
		return sql.LevelRepeatableRead
	}
	return sql.LevelDefault
}

// RecordUsage writes last-used times (token seq → epoch milliseconds) and the clients seen
// in one transaction, never moving a time backwards, and keeps the newest
// tokenward.MaxRecentClients clients of each token (recordClients).
func (db *DB) RecordUsage(ctx context.Context, used map[int64]int64, clients []auth.ClientUse) error {
	if len(used) == 0 && len(clients) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if db.engine == Postgres {
			// Every flush (of every instance) locks its tokens' rows in one order first: two
			// flushes of the same tokens queue instead of deadlocking, and the newest five
			// of a token are chosen by one flush at a time.
			if err := lockTokens(ctx, tx, used, clients); err != nil {
				return err
			}
			seqs, ats := make([]int64, 0, len(used)), make([]int64, 0, len(used))
			for seq, at := range used {
				seqs, ats = append(seqs, seq), append(ats, at)
			}
			_, err := tx.ExecContext(ctx, `UPDATE tokens t SET last_used_at = u.at
				FROM unnest($1::bigint[], $2::bigint[]) AS u(seq, at)
				WHERE t.seq = u.seq AND (t.last_used_at IS NULL OR t.last_used_at < u.at)`, seqs, ats)
			if err != nil {
				return fmt.Errorf("record usage: %w", err)
			}
			return db.recordClients(ctx, tx, clients)
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE tokens SET last_used_at = $1
			WHERE seq = $2 AND (last_used_at IS NULL OR last_used_at < $1)`)
		if err != nil {
			return fmt.Errorf("prepare usage update: %w", err)
		}
		defer stmt.Close()
		for seq, at := range used {
			if _, err := stmt.ExecContext(ctx, at, seq); err != nil {
				return fmt.Errorf("record usage: %w", err)
			}
		}
		return db.recordClients(ctx, tx, clients)
	})
}

// Listen calls wake whenever another connection commits a change, until ctx ends. On
// PostgreSQL it holds one connection in LISTEN and reconnects after a failure (calling
// wake on reconnect, since notifications may have been missed). On SQLite there are no
// notifications and it returns at once: the poll alone finds changes.
func (db *DB) Listen(ctx context.Context, dsn string, wake func(), onError func(error)) {
	if db.engine != Postgres {
		return
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := listenOnce(ctx, dsn, wake)
		if ctx.Err() != nil {
			return
		}
		onError(fmt.Errorf("listen for changes: %s", redactDSN(err.Error(), dsn)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func listenOnce(ctx context.Context, dsn string, wake func()) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+ChangesChannel); err != nil {
		return err
	}
	wake() // changes may have been committed while no connection listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}

// CountLiveTokens returns the number of live tokens.
func (db *DB) CountLiveTokens(ctx context.Context) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// liveTokenColumns are what the verification index reads of a live token: its secret's
// digest and, during a rotation's overlap, the previous secret's, and its restrictions.
const liveTokenColumns = `seq, digest, account_id, COALESCE(expires_at, 0), previous_digest, COALESCE(previous_until, 0),
	allowed_cidrs, permissions`

// liveTokenScan reads liveTokenColumns, reusing its buffers across rows.
type liveTokenScan struct{ digest, previous []byte }

// scan reads one row and calls fn with the token's entry and, while a rotation's overlap
// lasts, one for the previous secret that expires at the overlap's end (or the token's
// expiry, when sooner).
func (s *liveTokenScan) scan(rows *sql.Rows, fn func(auth.LiveToken)) error {
	var t auth.LiveToken
	var until int64
	var networks, scope sql.NullString
	if err := rows.Scan(&t.Seq, &s.digest, &t.AccountID, &t.Expires, &s.previous, &until, &networks, &scope); err != nil {
		return fmt.Errorf("scan token: %w", err)
	}
	t.Networks, t.Permissions = parseNetworks(networks), parseScope(scope)
	copy(t.Digest[:], s.digest)
	fn(t)
	if len(s.previous) == len(t.Digest) {
		old := t
		old.Replaced = true
		copy(old.Digest[:], s.previous)
		if old.Expires == 0 || until < old.Expires {
			old.Expires = until
		}
		fn(old)
	}
	return nil
}
