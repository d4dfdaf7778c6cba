package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/tokenward/tokenward"
)

// insertNotice writes an event to the outbox and fans it out to a pending delivery per
// active webhook whose patterns match its type, inside tx: the transaction of the change
// it tells of. It first completes the event's token and account as the change left them.
func insertNotice(ctx context.Context, tx *sql.Tx, e tokenward.Event) error {
	if err := completeNotice(ctx, tx, &e); err != nil {
		return err
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, type, occurred_at, payload) VALUES ($1, $2, $3, $4)`,
		e.ID, e.Type, millis(e.OccurredAt), string(payload)); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, events FROM webhooks WHERE active ORDER BY created_at, id`)
	if err != nil {
		return fmt.Errorf("read webhooks: %w", err)
	}
	var due []string
	for rows.Next() {
		var id, patterns string
		if err := rows.Scan(&id, &patterns); err != nil {
			rows.Close()
			return fmt.Errorf("scan webhook: %w", err)
		}
		if tokenward.WebhookMatches(strings.Split(patterns, "\n"), e.Type) {
			due = append(due, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read webhooks: %w", err)
	}
	at := millis(e.OccurredAt)
	for _, id := range due {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, state, next_attempt_at, retry_until, created_at)
			VALUES ($1, $2, 'pending', $3, $4, $3)`, id, e.ID, at, at+tokenward.DeliveryWindow.Milliseconds()); err != nil {
			return fmt.Errorf("queue delivery: %w", err)
		}
	}
	return nil
}

// completeNotice fills in the event's token (by public id) and account (by identifier, or
// the token's owner) from their rows as tx sees them. A row that is missing leaves what the
// constructor gave.
func completeNotice(ctx context.Context, tx *sql.Tx, e *tokenward.Event) error {
	if t := e.Token; t != nil {
		var kind string
		var active bool
		var expires sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT t.name, a.identifier, a.kind, a.active, t.expires_at
			FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.id = $1`, t.ID).
			Scan(&t.Name, &t.Account, &kind, &active, &expires)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read the event's token: %w", err)
		}
		if err == nil {
			t.AccountType = tokenward.Account{Kind: tokenward.AccountKind(kind), Active: active}.Type()
			t.Expires = fromMillis(expires)
			e.Account = &tokenward.EventAccount{ID: t.Account, AccountType: t.AccountType}
		}
		return nil
	}
	if a := e.Account; a != nil {
		var kind string
		var active bool
		// The live account of that identifier, or the one deleted last (account.deleted).
		err := tx.QueryRowContext(ctx, `SELECT kind, active FROM accounts WHERE identifier = $1
			ORDER BY CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END, deleted_at DESC LIMIT 1`, a.ID).Scan(&kind, &active)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read the event's account: %w", err)
		}
		if err == nil {
			a.AccountType = tokenward.Account{Kind: tokenward.AccountKind(kind), Active: active}.Type()
		}
	}
	return nil
}

// Events returns the outbox's events of a type ("" for all), oldest first, as the JSON
// payloads delivered: what tests compare deliveries with.
func (db *DB) Events(ctx context.Context, eventType string) ([]json.RawMessage, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT payload FROM events WHERE type = $1 OR $1 = '' ORDER BY seq`, eventType)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	out := []json.RawMessage{}
	for rows.Next() {
		var payload string
		if err := rows.Scan(&payload); err != nil {
			return nil, fmt.Errorf("scan event: %w", err)
		}
		out = append(out, json.RawMessage(payload))
	}
	return out, rows.Err()
}
