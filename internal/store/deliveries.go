package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokenward/tokenward"
)

// activeHook limits deliveries to those of active webhooks: a paused webhook's deliveries
// wait, pending, until it is active again.
const activeHook = ` AND webhook_id IN (SELECT id FROM webhooks WHERE active)`

// ClaimDelivery takes the pending delivery due longest before now, if any, for lease: it
// moves the delivery's next attempt to now+lease and counts the claim, in one statement,
// so that exactly one dispatcher of any number of instances holds it. PostgreSQL skips the
// rows other claims hold locked; SQLite runs one writer at a time. A dispatcher that dies
// holding a delivery leaves it due again when the lease ends. ok is false when none is due.
func (db *DB) ClaimDelivery(ctx context.Context, now time.Time, lease time.Duration) (c tokenward.DeliveryClaim, ok bool, err error) {
	// Most looks find nothing due: they cost a read, not a write transaction.
	var due bool
	if err := db.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1`+activeHook+`)`,
		millis(now)).Scan(&due); err != nil || !due {
		return c, false, err
	}
	skipLocked := ""
	if db.engine == Postgres {
		skipLocked = " FOR UPDATE SKIP LOCKED"
	}
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		var retryUntil int64
		err := tx.QueryRowContext(ctx, `UPDATE webhook_deliveries SET next_attempt_at = $1, claims = claims + 1
			WHERE id = (SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $2`+activeHook+`
				ORDER BY next_attempt_at, id LIMIT 1`+skipLocked+`)
			RETURNING id, webhook_id, event_id, claims, retry_until`, millis(now.Add(lease)), millis(now)).
			Scan(&c.ID, &c.WebhookID, &c.EventID, &c.Claim, &retryUntil)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("claim delivery: %w", err)
		}
		ok, c.RetryUntil = true, time.UnixMilli(retryUntil).UTC()
		var payload string
		if err := tx.QueryRowContext(ctx, `SELECT w.url, w.secret, e.payload FROM webhooks w, events e WHERE w.id = $1 AND e.id = $2`,
			c.WebhookID, c.EventID).Scan(&c.URL, &c.Secret, &payload); err != nil {
			return fmt.Errorf("read claimed delivery: %w", err)
		}
		c.Payload = []byte(payload)
		return nil
	})
	return c, ok && err == nil, err
}

// FinishDelivery records an attempt of a claimed delivery and leaves it in state (pending
// again at next, delivered or failed), unless another claim took the delivery since (its
// lease ran out): then the attempt is logged and the state left to that claim.
func (db *DB) FinishDelivery(ctx context.Context, c tokenward.DeliveryClaim, a tokenward.DeliveryAttempt, state string, next time.Time) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, at, duration_ms, status_code, error, excerpt)
			VALUES ($1, $2, $3, $4, $5, $6)`, c.ID, millis(a.At), a.Duration.Milliseconds(), a.Status, a.Error, a.Excerpt)
		if isForeignKeyViolation(err) {
			return nil // the webhook was deleted meanwhile, with its deliveries
		}
		if err != nil {
			return fmt.Errorf("log attempt: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = $1, next_attempt_at = $2
			WHERE id = $3 AND claims = $4 AND state = 'pending'`, state, millis(next), c.ID, c.Claim); err != nil {
			return fmt.Errorf("record delivery: %w", err)
		}
		return nil
	})
}
