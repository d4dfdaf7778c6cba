package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/tokenward/tokenward"
)

// TokenLabels returns the name and hint of each token among ids, revoked or not.
func (db *DB) TokenLabels(ctx context.Context, ids []string) (map[string]tokenward.TokenLabel, error) {
	out := make(map[string]tokenward.TokenLabel, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	marks := make([]string, len(ids))
	args := make([]any, len(ids))
	for i, id := range ids {
		marks[i], args[i] = fmt.Sprintf("$%d", i+1), id
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, name, hint FROM tokens WHERE id IN (`+strings.Join(marks, ", ")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read token labels: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var l tokenward.TokenLabel
		if err := rows.Scan(&id, &l.Name, &l.Hint); err != nil {
			return nil, fmt.Errorf("read token labels: %w", err)
		}
		out[id] = l
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read token labels: %w", err)
	}
	return out, nil
}
