-- The token lifecycle sweep (issue 14, reference §13): idle timeouts, expiry notices and
-- the org table's Expires column.

-- The policy's idle timeout for each kind of account's tokens, ms; NULL: none.
ALTER TABLE token_policy ADD COLUMN idle_timeout_ms BIGINT;

-- When the sweep disabled the token for being unused longer than the idle timeout; NULL
-- while it is not. A disabled token no longer verifies; a rotation enables it again.
ALTER TABLE tokens ADD COLUMN idle_disabled_at BIGINT;

-- The smallest expiry threshold noticed (30, 7 or 1 days; 0: its expiry was noticed);
-- NULL: none yet. The sweep moves it down with a conditional UPDATE, so that each notice
-- is recorded once whatever the number of instances; a rotation clears it.
ALTER TABLE tokens ADD COLUMN expiry_notice INTEGER;

-- The Expires column's sort and the expiresAt filter: "never" is the latest instant.
CREATE INDEX tokens_live_expires ON tokens ((COALESCE(expires_at, 9223372036854775807)), seq) WHERE revoked_at IS NULL;

-- The sweep's expiry notices: each pending token by the instant its next notice is due
-- (30 days before its expiry, then 7, then 1, then the expiry itself), so that a sweep
-- reads the due ones only. The expression must equal store.expiryDue, exactly.
CREATE INDEX tokens_expiry_due ON tokens ((expires_at - CASE WHEN expiry_notice IS NULL THEN 2592000000 WHEN expiry_notice = 30 THEN 604800000 WHEN expiry_notice = 7 THEN 86400000 ELSE 0 END))
    WHERE revoked_at IS NULL AND expires_at IS NOT NULL AND idle_disabled_at IS NULL AND (expiry_notice IS NULL OR expiry_notice > 0);

-- The sweep's idle timeout: enabled tokens by kind and last activity (the latest of
-- generation, rotation and use), so that a sweep reads the idle ones only. Expired tokens
-- whose expiry was noticed leave it. The expression must equal store's sqliteActivity.
CREATE INDEX tokens_idle_due ON tokens (account_kind, (max(created_at, COALESCE(last_used_at, 0), COALESCE(rotated_at, 0))))
    WHERE revoked_at IS NULL AND idle_disabled_at IS NULL AND (expiry_notice IS NULL OR expiry_notice > 0);
