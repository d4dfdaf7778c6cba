package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tokenward/tokenward"
)

const savedSearchColumns = `s.id, s.entity_type, s.query, s.owner_id, a.identifier, s.creator, s.updater, s.created_at, s.updated_at`

func scanSavedSearch(row interface{ Scan(...any) error }) (tokenward.SavedSearch, error) {
	var s tokenward.SavedSearch
	var created, updated int64
	if err := row.Scan(&s.ID, &s.EntityType, &s.Query, &s.OwnerID, &s.Owner, &s.Creator, &s.Updater, &created, &updated); err != nil {
		return s, err
	}
	s.Created = fromMillis(sql.NullInt64{Int64: created, Valid: true})
	s.Updated = fromMillis(sql.NullInt64{Int64: updated, Valid: true})
	return s, nil
}

// CreateSavedSearch stores a saved search unless its owner already holds max of them; the
// owner's row is locked first, so that parallel creates on PostgreSQL count one by one.
func (db *DB) CreateSavedSearch(ctx context.Context, s tokenward.SavedSearch, max int, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT id FROM accounts WHERE id = $1`+db.forUpdate(), s.OwnerID); err != nil {
			return fmt.Errorf("lock owner: %w", err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM saved_searches WHERE owner_id = $1`, s.OwnerID).Scan(&n); err != nil {
			return fmt.Errorf("count saved searches: %w", err)
		}
		if n >= max {
			return tokenward.Errorf(tokenward.EInvalid, "an account keeps at most %d saved searches; delete one first", max)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO saved_searches (id, entity_type, query, owner_id, creator, updater, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, s.ID, s.EntityType, s.Query, s.OwnerID, s.Creator, s.Updater, millis(s.Created), millis(s.Updated))
		if err != nil {
			return fmt.Errorf("insert saved search: %w", err)
		}
		return insertAudit(ctx, tx, tokenward.SavedSearchWritten(by, tokenward.AuditSavedSearchCreate, s.ID, s.EntityType))
	})
}

// SavedSearchOf returns ownerID's saved search with that id, or ENotFound.
func (db *DB) SavedSearchOf(ctx context.Context, ownerID int64, id string) (tokenward.SavedSearch, error) {
	if !storable(id) {
		return tokenward.SavedSearch{}, tokenward.Errorf(tokenward.ENotFound, "no such saved search")
	}
	s, err := scanSavedSearch(db.read.QueryRowContext(ctx, `SELECT `+savedSearchColumns+`
		FROM saved_searches s JOIN accounts a ON a.id = s.owner_id WHERE s.id = $1 AND s.owner_id = $2`, id, ownerID))
	if errors.Is(err, sql.ErrNoRows) {
		return s, tokenward.Errorf(tokenward.ENotFound, "saved search %s does not exist", truncateID(id))
	}
	if err != nil {
		return s, fmt.Errorf("read saved search: %w", err)
	}
	return s, nil
}

func truncateID(id string) string {
	if len(id) > 40 {
		return id[:40] + "…"
	}
	return id
}

// UpdateSavedSearch replaces a saved search's entity type, query, updater and update time.
func (db *DB) UpdateSavedSearch(ctx context.Context, s tokenward.SavedSearch, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE saved_searches SET entity_type = $1, query = $2, updater = $3, updated_at = $4
			WHERE id = $5 AND owner_id = $6`, s.EntityType, s.Query, s.Updater, millis(s.Updated), s.ID, s.OwnerID)
		if err := affectedOne(res, err, "update saved-search"); err != nil {
			return err
		}
		return insertAudit(ctx, tx, tokenward.SavedSearchWritten(by, tokenward.AuditSavedSearchUpdate, s.ID, s.EntityType))
	})
}

// DeleteSavedSearch deletes ownerID's saved search with that id.
func (db *DB) DeleteSavedSearch(ctx context.Context, ownerID int64, id string, by tokenward.AuditEvent) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM saved_searches WHERE id = $1 AND owner_id = $2`, id, ownerID)
		if err := affectedOne(res, err, "delete saved-search"); err != nil {
			return err
		}
		return insertAudit(ctx, tx, tokenward.SavedSearchWritten(by, tokenward.AuditSavedSearchDelete, id, ""))
	})
}

// SavedSearchesOf returns a page of ownerID's saved searches, of entityType unless "",
// oldest first.
func (db *DB) SavedSearchesOf(ctx context.Context, ownerID int64, entityType string, offset, limit int) (tokenward.Page[tokenward.SavedSearch], error) {
	page := tokenward.Page[tokenward.SavedSearch]{Offset: offset, Limit: limit, Items: []tokenward.SavedSearch{},
		Sort: tokenward.SearchSort{Field: "createdEpochMillis", Ascending: true, Default: true}}
	where := `s.owner_id = $1 AND ($2 = '' OR s.entity_type = $2)`
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM saved_searches s WHERE `+where, ownerID, entityType).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("count saved searches: %w", err)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT `+savedSearchColumns+` FROM saved_searches s JOIN accounts a ON a.id = s.owner_id
		WHERE `+where+fmt.Sprintf(` ORDER BY s.created_at, s.id LIMIT %d OFFSET %d`, limit, offset), ownerID, entityType)
	page.Items, err = collect(rows, err, "list saved searches", scanSavedSearch)
	return page, err
}
