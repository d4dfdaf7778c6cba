package store

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/auth"
)

// A token's recent clients (tokenward.RecentClient) in the token_clients table (migration
// 0018): one row per (token, address, user agent), the address in 16-byte form. Their order
// is the newest first, then by the address's and the user agent's bytes, the same on both
// engines (PostgreSQL compares the text in the "C" collation, SQLite's is binary), so that
// the five kept are the five shown.

// clientKey is a token's client, to merge a batch's duplicates.
type clientKey struct {
	seq       int64
	address   [16]byte
	userAgent string
}

// mergeClients returns the batch with one row per token's client, each with its newest
// time, sorted by token: a statement may not touch one row twice.
func mergeClients(clients []auth.ClientUse) []auth.ClientUse {
	newest := make(map[clientKey]int, len(clients))
	var out []auth.ClientUse
	for _, c := range clients {
		if !c.Address.IsValid() {
			continue
		}
		c.Address, c.UserAgent = tokenward.ClientAddressOf(c.Address), tokenward.CleanUserAgent(c.UserAgent)
		k := clientKey{c.TokenSeq, c.Address.As16(), c.UserAgent}
		if i, ok := newest[k]; ok {
			out[i].LastSeen = max(out[i].LastSeen, c.LastSeen)
			continue
		}
		newest[k] = len(out)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b auth.ClientUse) int { return cmp.Compare(a.TokenSeq, b.TokenSeq) })
	return out
}

// lockTokens locks the rows of every token a flush writes, in the order of their seq
// (PostgreSQL only).
func lockTokens(ctx context.Context, tx *sql.Tx, used map[int64]int64, clients []auth.ClientUse) error {
	seqs := make([]int64, 0, len(used)+len(clients))
	for seq := range used {
		seqs = append(seqs, seq)
	}
	for _, c := range clients {
		seqs = append(seqs, c.TokenSeq)
	}
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	if _, err := tx.ExecContext(ctx, `SELECT seq FROM tokens WHERE seq = ANY($1::bigint[]) ORDER BY seq FOR NO KEY UPDATE`, seqs); err != nil {
		return fmt.Errorf("lock used tokens: %w", err)
	}
	return nil
}

// recordClients upserts a flush's clients inside tx (a time only moves forward; a token
// that does not exist is skipped) and deletes each touched token's clients past the newest
// tokenward.MaxRecentClients.
func (db *DB) recordClients(ctx context.Context, tx *sql.Tx, clients []auth.ClientUse) error {
	clients = mergeClients(clients)
	if len(clients) == 0 {
		return nil
	}
	if db.engine == Postgres {
		return recordClientsPostgres(ctx, tx, clients)
	}
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO token_clients (token_seq, address, user_agent, last_seen)
		SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM tokens WHERE seq = $1)
		ON CONFLICT (token_seq, address, user_agent) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`)
	if err != nil {
		return fmt.Errorf("prepare client upsert: %w", err)
	}
	defer upsert.Close()
	trim, err := tx.PrepareContext(ctx, fmt.Sprintf(`DELETE FROM token_clients WHERE token_seq = $1 AND rowid IN (
		SELECT rowid FROM token_clients WHERE token_seq = $1 ORDER BY last_seen DESC, address, user_agent LIMIT -1 OFFSET %d)`,
		tokenward.MaxRecentClients))
	if err != nil {
		return fmt.Errorf("prepare client trim: %w", err)
	}
	defer trim.Close()
	for i, c := range clients {
		a := c.Address.As16()
		if _, err := upsert.ExecContext(ctx, c.TokenSeq, a[:], c.UserAgent, c.LastSeen); err != nil {
			return fmt.Errorf("record client: %w", err)
		}
		if i+1 == len(clients) || clients[i+1].TokenSeq != c.TokenSeq {
			if _, err := trim.ExecContext(ctx, c.TokenSeq); err != nil {
				return fmt.Errorf("trim clients: %w", err)
			}
		}
	}
	return nil
}

// recordClientsPostgres is recordClients in two statements, whatever the batch's size.
func recordClientsPostgres(ctx context.Context, tx *sql.Tx, clients []auth.ClientUse) error {
	seqs, addrs, agents, seen := make([]int64, len(clients)), make([][]byte, len(clients)), make([]string, len(clients)), make([]int64, len(clients))
	for i, c := range clients {
		a := c.Address.As16()
		seqs[i], addrs[i], agents[i], seen[i] = c.TokenSeq, a[:], c.UserAgent, c.LastSeen
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO token_clients (token_seq, address, user_agent, last_seen)
		SELECT u.seq, u.address, u.agent, u.seen FROM unnest($1::bigint[], $2::bytea[], $3::text[], $4::bigint[]) AS u(seq, address, agent, seen)
		WHERE EXISTS (SELECT 1 FROM tokens t WHERE t.seq = u.seq)
		ON CONFLICT (token_seq, address, user_agent) DO UPDATE SET last_seen = GREATEST(token_clients.last_seen, excluded.last_seen)`,
		seqs, addrs, agents, seen); err != nil {
		return fmt.Errorf("record clients: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`DELETE FROM token_clients c USING (
			SELECT token_seq, address, user_agent, row_number() OVER (PARTITION BY token_seq
				ORDER BY last_seen DESC, address, user_agent COLLATE "C") AS n
			FROM token_clients WHERE token_seq = ANY($1::bigint[])) r
		WHERE r.n > %d AND c.token_seq = r.token_seq AND c.address = r.address AND c.user_agent = r.user_agent`,
		tokenward.MaxRecentClients), slices.Compact(seqs)); err != nil {
		return fmt.Errorf("trim clients: %w", err)
	}
	return nil
}

// scanClient reads one token_clients row's address, user agent and time.
func scanClient(address []byte, userAgent string, lastSeen int64) tokenward.RecentClient {
	a, _ := netip.AddrFromSlice(address)
	return tokenward.RecentClient{Address: a.Unmap(), UserAgent: userAgent, LastSeen: fromMillis(sql.NullInt64{Int64: lastSeen, Valid: true})}
}

// sortClients puts a token's clients in their order: the newest first, then by the bytes
// of the address and of the user agent; it keeps tokenward.MaxRecentClients of them (a
// flush on another instance may be trimming more at the moment).
func sortClients(cs []tokenward.RecentClient) []tokenward.RecentClient {
	slices.SortFunc(cs, func(a, b tokenward.RecentClient) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		aa, ba := a.Address.As16(), b.Address.As16()
		if c := bytes.Compare(aa[:], ba[:]); c != 0 {
			return c
		}
		return strings.Compare(a.UserAgent, b.UserAgent)
	})
	return cs[:min(len(cs), tokenward.MaxRecentClients)]
}

// attachClients fills in the recent clients of tokens (read by their public ids).
func (db *DB) attachClients(ctx context.Context, tokens []tokenward.Token) error {
	if len(tokens) == 0 {
		return nil
	}
	var q query
	at := make(map[string]int, len(tokens))
	params := make([]string, len(tokens))
	for i, t := range tokens {
		at[t.ID] = i
		params[i] = q.arg(t.ID)
	}
	rows, err := db.read.QueryContext(ctx, `SELECT t.id, c.address, c.user_agent, c.last_seen
		FROM token_clients c JOIN tokens t ON t.seq = c.token_seq
		WHERE t.id IN (`+strings.Join(params, ", ")+`)`, q.args...)
	if err != nil {
		return fmt.Errorf("read recent clients: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, agent string
		var address []byte
		var seen int64
		if err := rows.Scan(&id, &address, &agent, &seen); err != nil {
			return fmt.Errorf("scan recent client: %w", err)
		}
		t := &tokens[at[id]]
		t.RecentClients = append(t.RecentClients, scanClient(address, agent, seen))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read recent clients: %w", err)
	}
	for i := range tokens {
		tokens[i].RecentClients = sortClients(tokens[i].RecentClients)
	}
	return nil
}

// clientAddressMatch is the search key clientAddress: tokens with a recent client whose
// address is in any of the values' ranges, found through the address index. Errors:
// EInvalid for a value that is not an address or a CIDR.
func (q *query) clientAddressMatch(c tokenward.SearchCondition) (string, error) {
	var ors []string
	for _, v := range c.Values {
		r, err := tokenward.ParseAddressRange(v)
		if err != nil {
			return "", err
		}
		ors = append(ors, "c.address BETWEEN "+q.arg(r.First[:])+" AND "+q.arg(r.Last[:]))
	}
	return "(t.seq IN (SELECT c.token_seq FROM token_clients c WHERE " + strings.Join(ors, " OR ") + "))", nil
}
