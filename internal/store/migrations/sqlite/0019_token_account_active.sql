-- The account-type filter without the accounts join (issue 17): "service accounts" is
-- account_kind = 'service' AND account_active, both on the token, so that its count and
-- its page read one range of one index and never visit accounts (the join cost SQLite
-- 8-14 ms for the capped count at 1M tokens). account_active copies accounts.active as
-- account_kind copies accounts.kind; the store writes it in the transaction that changes
-- the account's active state, and at insert.
ALTER TABLE tokens ADD COLUMN account_active BOOLEAN NOT NULL DEFAULT TRUE;
UPDATE tokens SET account_active = FALSE WHERE account_id IN (SELECT id FROM accounts WHERE NOT active);

DROP INDEX tokens_live_kind_created;
DROP INDEX tokens_live_kind_used;
CREATE INDEX tokens_live_type_created ON tokens (account_kind, account_active, created_at, seq) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_type_used    ON tokens (account_kind, account_active, last_used_at, seq) WHERE revoked_at IS NULL;
