-- Free-text search of the organization's token table (name, account, id, hint) uses
-- trigram indexes: the store's LOWER(column) LIKE '%term%' conditions are served by them
-- as written (the index is lossy and PostgreSQL rechecks each candidate), on live tokens
-- only. pg_trgm ships with PostgreSQL's contrib package and is a trusted extension (13+):
-- the database's owner may create it. A server without contrib fails this migration, and
-- tokenward does not start until the extension is available.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX tokens_live_name_trgm    ON tokens USING gin (LOWER(name) gin_trgm_ops) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_account_trgm ON tokens USING gin (LOWER(account_identifier) gin_trgm_ops) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_id_trgm      ON tokens USING gin (LOWER(id) gin_trgm_ops) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_hint_trgm    ON tokens USING gin (LOWER(hint) gin_trgm_ops) WHERE revoked_at IS NULL;

-- The account-type filter (service accounts, users) with either time order: the count of
-- its matches reads one range of these, and the page walks them in order.
CREATE INDEX tokens_live_kind_created ON tokens (account_kind, created_at, seq) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_kind_used    ON tokens (account_kind, last_used_at NULLS FIRST, seq) WHERE revoked_at IS NULL;
