package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tokenward/tokenward"
)

// TokenPolicy returns the organization's token lifetime policy; the zero policy when none
// was ever set.
func (db *DB) TokenPolicy(ctx context.Context) (tokenward.TokenPolicy, error) {
	var p tokenward.TokenPolicy
	rows, err := db.read.QueryContext(ctx, `SELECT kind, default_lifetime_ms, max_lifetime_ms, updated_at, updated_by, token_format, idle_timeout_ms FROM token_policy`)
	if err != nil {
		return p, fmt.Errorf("read token policy: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, by, format string
		var def, max, idle sql.NullInt64
		var updated int64
		if err := rows.Scan(&kind, &def, &max, &updated, &by, &format, &idle); err != nil {
			return p, fmt.Errorf("scan token policy: %w", err)
		}
		l := tokenward.LifetimeLimits{Default: time.Duration(def.Int64) * time.Millisecond, Max: time.Duration(max.Int64) * time.Millisecond,
			IdleTimeout: time.Duration(idle.Int64) * time.Millisecond}
		if tokenward.AccountKind(kind) == tokenward.ServiceAccount {
			p.ServiceAccountTokens = l
		} else {
			p.UserTokens = l
		}
		p.Updated, p.UpdatedBy, p.Format = time.UnixMilli(updated).UTC(), by, tokenward.TokenFormat(format)
	}
	if p.Format == "" {
		p.Format = tokenward.TokenFormatUUID
	}
	return p, rows.Err()
}

// SetTokenPolicy stores p (its token format on both rows; "" as uuid) and, for each kind
// with a maximum, brings every live token that would outlive now plus that maximum (or
// never expire) down to it, in one transaction with its audit event and a change of each
// account concerned. dryRun counts them and rolls back.
func (db *DB) SetTokenPolicy(ctx context.Context, p tokenward.TokenPolicy, dryRun bool, by tokenward.AuditEvent) (tokenward.PolicyEffect, error) {
	var effect tokenward.PolicyEffect
	errDryRun := fmt.Errorf("dry run")
	format := p.Format
	if format == "" {
		format = tokenward.TokenFormatUUID
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		effect = tokenward.PolicyEffect{} // a retried transaction counts afresh
		for _, k := range []struct {
			kind   tokenward.AccountKind
			limits tokenward.LifetimeLimits
		}{{tokenward.UserAccount, p.UserTokens}, {tokenward.ServiceAccount, p.ServiceAccountTokens}} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM token_policy WHERE kind = $1`, string(k.kind)); err != nil {
				return fmt.Errorf("clear token policy: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO token_policy (kind, default_lifetime_ms, max_lifetime_ms, updated_at, updated_by, token_format, idle_timeout_ms)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, string(k.kind), nullDuration(k.limits.Default), nullDuration(k.limits.Max), millis(by.At), by.Actor, string(format),
				nullDuration(k.limits.IdleTimeout)); err != nil {
				return fmt.Errorf("write token policy: %w", err)
			}
			if k.limits.Max == 0 {
				continue
			}
			latest := millis(by.At.Add(k.limits.Max))
			const outliving = `revoked_at IS NULL AND account_kind = $2 AND (expires_at IS NULL OR expires_at > $1)`
			// Each account whose tokens get an earlier expiry is a change that every instance
			// applies by re-reading its tokens.
			if !dryRun {
				if err := db.lockGlobal(ctx, tx, lockChanges); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO changes (account_id, at)
					SELECT DISTINCT account_id, CAST($3 AS BIGINT) FROM tokens WHERE `+outliving, latest, string(k.kind), millis(by.At)); err != nil {
					return fmt.Errorf("record changes: %w", err)
				}
			}
			res, err := tx.ExecContext(ctx, `UPDATE tokens SET expires_at = $1 WHERE `+outliving, latest, string(k.kind))
			if err != nil {
				return fmt.Errorf("apply the maximum lifetime: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("apply the maximum lifetime: %w", err)
			}
			effect.ExpireSooner += int(n)
		}
		if dryRun {
			return errDryRun
		}
		if err := insertAudit(ctx, tx, tokenward.PolicySet(by, p, effect)); err != nil {
			return err
		}
		if effect.ExpireSooner == 0 || db.engine != Postgres {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify('`+ChangesChannel+`', '')`); err != nil {
			return fmt.Errorf("notify change: %w", err)
		}
		return nil
	})
	if err == errDryRun {
		err = nil
	}
	return effect, err
}

func nullDuration(d time.Duration) sql.NullInt64 {
	return sql.NullInt64{Int64: d.Milliseconds(), Valid: d != 0}
}
