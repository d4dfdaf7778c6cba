-- Free-text search of the organization's token table (name, account, id, hint) narrows
-- its candidates with one trigram index over all four columns, lowered; the store then
-- applies the exact LOWER(column) LIKE conditions to them, so the index only has to find
-- a superset (a term's runs of 3+ characters, anywhere in the text). One index, not one a
-- column, so that a condition on any column is one index scan the planner can cost.
-- pg_trgm ships with PostgreSQL's contrib package and is a trusted extension (13+): the
-- database's owner may create it. On a server without contrib this migration fails and
-- tokenward does not start until the extension is available.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX tokens_live_text_trgm ON tokens
    USING gin (LOWER(name || ' ' || account_identifier || ' ' || id || ' ' || hint) gin_trgm_ops)
    WHERE revoked_at IS NULL;

-- The account-type filter (service accounts, users) with either time order: the count of
-- its matches reads one range of these, and the page walks them in order.
CREATE INDEX tokens_live_kind_created ON tokens (account_kind, created_at, seq) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_kind_used    ON tokens (account_kind, last_used_at NULLS FIRST, seq) WHERE revoked_at IS NULL;
