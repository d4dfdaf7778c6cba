package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tokenward/tokenward"
)

// insertAudit inserts audit events, as the service's constructors built them, inside tx: in
// the transaction of the change they describe, each with its notice for webhooks, if any.
func insertAudit(ctx context.Context, tx *sql.Tx, events ...tokenward.AuditEvent) error {
	for _, e := range events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events (at, actor, source, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
			millis(e.At), e.Actor, e.Source, e.Action, e.Target, e.Detail); err != nil {
			return fmt.Errorf("write audit event: %w", err)
		}
		if e.Notice != nil {
			if err := insertNotice(ctx, tx, *e.Notice); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertAudits is insertAudit for many events (a bulk revocation's batch): on PostgreSQL a
// few hundred rows per statement instead of a round trip each; on SQLite, which has no
// round trips but parses a long statement slowly, one prepared statement run per event.
func (db *DB) insertAudits(ctx context.Context, tx *sql.Tx, events []tokenward.AuditEvent) error {
	if err := db.insertAuditRows(ctx, tx, events); err != nil {
		return err
	}
	for _, e := range events {
		if e.Notice != nil {
			if err := insertNotice(ctx, tx, *e.Notice); err != nil {
				return err
			}
		}
	}
	return nil
}

// insertAuditRows writes the audit rows of insertAudits.
func (db *DB) insertAuditRows(ctx context.Context, tx *sql.Tx, events []tokenward.AuditEvent) error {
	const insert = `INSERT INTO audit_events (at, actor, source, action, target, detail) VALUES `
	if db.engine == SQLite {
		stmt, err := tx.PrepareContext(ctx, insert+`($1, $2, $3, $4, $5, $6)`)
		if err != nil {
			return fmt.Errorf("write audit events: %w", err)
		}
		defer stmt.Close()
		for _, e := range events {
			if _, err := stmt.ExecContext(ctx, millis(e.At), e.Actor, e.Source, e.Action, e.Target, e.Detail); err != nil {
				return fmt.Errorf("write audit event: %w", err)
			}
		}
		return nil
	}
	const perStatement = 500 // 3,000 parameters, far below PostgreSQL's limit
	for len(events) > 0 {
		chunk := events[:min(perStatement, len(events))]
		events = events[len(chunk):]
		var q query
		rows := make([]string, len(chunk))
		for i, e := range chunk {
			rows[i] = "(" + strings.Join([]string{q.arg(millis(e.At)), q.arg(e.Actor), q.arg(e.Source), q.arg(e.Action), q.arg(e.Target), q.arg(e.Detail)}, ", ") + ")"
		}
		if _, err := tx.ExecContext(ctx, insert+strings.Join(rows, ", "), q.args...); err != nil {
			return fmt.Errorf("write audit events: %w", err)
		}
	}
	return nil
}

// RecordAudit writes an audit event of its own (a failed sign-in: no change to go with).
func (db *DB) RecordAudit(ctx context.Context, e tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return insertAudit(ctx, tx, e) })
}

// AuditEvents returns a page of audit events matching f, newest first. Actor and target
// match exactly; action matches exactly or, ending in ".", as a prefix ("token.").
func (db *DB) AuditEvents(ctx context.Context, f tokenward.AuditFilter) (tokenward.Page[tokenward.AuditEvent], error) {
	var q query
	if f.Actor != "" {
		q.and("actor = " + q.arg(f.Actor))
	}
	if f.Target != "" {
		q.and("target = " + q.arg(f.Target))
	}
	if strings.HasSuffix(f.Action, ".") {
		q.and("action LIKE " + q.arg(escapeLike(f.Action)+"%") + ` ESCAPE '\'`)
	} else if f.Action != "" {
		q.and("action = " + q.arg(f.Action))
	}
	if !f.Start.IsZero() {
		q.and("at >= " + q.arg(millis(f.Start)))
	}
	if !f.End.IsZero() {
		q.and("at <= " + q.arg(millis(f.End)))
	}
	page := tokenward.Page[tokenward.AuditEvent]{Offset: f.Offset, Limit: f.Limit, Items: []tokenward.AuditEvent{},
		Sort: tokenward.SearchSort{Field: "time", Default: true}}
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM audit_events WHERE `+q.whereClause()+
		fmt.Sprintf(" LIMIT %d) m", f.Offset+f.Limit+countBeyondPage), q.args...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("count audit events: %w", err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, at, actor, source, action, target, detail FROM audit_events WHERE `+
		q.whereClause()+fmt.Sprintf(" ORDER BY at DESC, id DESC LIMIT %d OFFSET %d", f.Limit, f.Offset), q.args...)
	if err != nil {
		return page, fmt.Errorf("read audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e tokenward.AuditEvent
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Source, &e.Action, &e.Target, &e.Detail); err != nil {
			return page, fmt.Errorf("scan audit event: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		page.Items = append(page.Items, e)
	}
	return page, rows.Err()
}
