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

const webhookColumns = `id, url, events, active, created_at, updated_at`

func scanWebhook(row interface{ Scan(...any) error }) (tokenward.Webhook, error) {
	var w tokenward.Webhook
	var patterns string
	var created, updated int64
	if err := row.Scan(&w.ID, &w.URL, &patterns, &w.Active, &created, &updated); err != nil {
		return w, err
	}
	w.Events = strings.Split(patterns, "\n")
	w.Created, w.Updated = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return w, nil
}

// CreateWebhook inserts w with its signing secret.
func (db *DB) CreateWebhook(ctx context.Context, w tokenward.Webhook, secret string, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, url, events, active, secret, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, w.ID, w.URL, strings.Join(w.Events, "\n"), w.Active, secret,
			millis(w.Created), millis(w.Updated)); err != nil {
			return fmt.Errorf("insert webhook: %w", err)
		}
		return insertAudit(ctx, tx, by)
	})
}

// Webhooks returns every webhook, oldest first.
func (db *DB) Webhooks(ctx context.Context) ([]tokenward.Webhook, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY created_at, id`)
	return collect(rows, err, "list webhooks", scanWebhook)
}

// WebhookByID returns the webhook with that id, or ENotFound.
func (db *DB) WebhookByID(ctx context.Context, id string) (tokenward.Webhook, error) {
	if !storable(id) {
		return tokenward.Webhook{}, tokenward.Errorf(tokenward.ENotFound, "no such webhook")
	}
	w, err := scanWebhook(db.read.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, tokenward.Errorf(tokenward.ENotFound, "no such webhook")
	}
	if err != nil {
		return w, fmt.Errorf("read webhook: %w", err)
	}
	return w, nil
}

// UpdateWebhook replaces w's url, patterns and state; ENotFound when it is gone.
func (db *DB) UpdateWebhook(ctx context.Context, w tokenward.Webhook, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET url = $1, events = $2, active = $3, updated_at = $4 WHERE id = $5`,
			w.URL, strings.Join(w.Events, "\n"), w.Active, millis(w.Updated), w.ID)
		if err := affectedOne(res, err, "update webhook"); err != nil {
			return err
		}
		return insertAudit(ctx, tx, by)
	})
}

// DeleteWebhook deletes a webhook with its deliveries and their attempts.
func (db *DB) DeleteWebhook(ctx context.Context, id string, by tokenward.AuditEvent) error {
	if !storable(id) {
		return tokenward.Errorf(tokenward.ENotFound, "no such webhook")
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
		if err := affectedOne(res, err, "delete webhook"); err != nil {
			return err
		}
		return insertAudit(ctx, tx, by)
	})
}

// Redeliver makes a delivery of the webhook due at by.At, pending for another
// DeliveryWindow.
func (db *DB) Redeliver(ctx context.Context, webhookID string, deliveryID int64, by tokenward.AuditEvent) error {
	if !storable(webhookID) {
		return tokenward.Errorf(tokenward.ENotFound, "no such delivery")
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, retry_until = $2, claims = claims + 1
			WHERE id = $3 AND webhook_id = $4`, millis(by.At), millis(by.At.Add(tokenward.DeliveryWindow)), deliveryID, webhookID)
		if err := affectedOne(res, err, "redeliver delivery"); err != nil {
			return err
		}
		return insertAudit(ctx, tx, by)
	})
}

// WebhookDeliveries returns a page of a webhook's deliveries, newest first, with their
// attempts, oldest first.
func (db *DB) WebhookDeliveries(ctx context.Context, webhookID string, offset, limit int) (tokenward.Page[tokenward.Delivery], error) {
	page := tokenward.Page[tokenward.Delivery]{Offset: offset, Limit: limit, Items: []tokenward.Delivery{},
		Sort: tokenward.SearchSort{Field: "time", Default: true}}
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1`, webhookID).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("count deliveries: %w", err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT d.id, d.webhook_id, d.event_id, e.type, d.state, d.next_attempt_at, d.created_at
		FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
		WHERE d.webhook_id = $1 ORDER BY d.id DESC LIMIT $2 OFFSET $3`, webhookID, limit, offset)
	if err != nil {
		return page, fmt.Errorf("list deliveries: %w", err)
	}
	index := map[int64]int{}
	for rows.Next() {
		var d tokenward.Delivery
		var next, created int64
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &d.State, &next, &created); err != nil {
			rows.Close()
			return page, fmt.Errorf("scan delivery: %w", err)
		}
		d.Created, d.Attempts = time.UnixMilli(created).UTC(), []tokenward.DeliveryAttempt{}
		if d.State == tokenward.DeliveryPending {
			d.NextAttempt = time.UnixMilli(next).UTC()
		}
		index[d.ID] = len(page.Items)
		page.Items = append(page.Items, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(page.Items) == 0 {
		return page, err
	}
	return page, db.readAttempts(ctx, page.Items, index)
}

// readAttempts fills in the attempts of deliveries (index: position by id).
func (db *DB) readAttempts(ctx context.Context, deliveries []tokenward.Delivery, index map[int64]int) error {
	var q query
	var params []string
	for _, d := range deliveries {
		params = append(params, q.arg(d.ID))
	}
	rows, err := db.read.QueryContext(ctx, `SELECT delivery_id, at, duration_ms, status_code, error, excerpt FROM webhook_attempts
		WHERE delivery_id IN (`+strings.Join(params, ", ")+`) ORDER BY id`, q.args...)
	if err != nil {
		return fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, at, ms int64
		var a tokenward.DeliveryAttempt
		if err := rows.Scan(&id, &at, &ms, &a.Status, &a.Error, &a.Excerpt); err != nil {
			return fmt.Errorf("scan attempt: %w", err)
		}
		a.At, a.Duration = time.UnixMilli(at).UTC(), time.Duration(ms)*time.Millisecond
		d := &deliveries[index[id]]
		d.Attempts = append(d.Attempts, a)
	}
	return rows.Err()
}
