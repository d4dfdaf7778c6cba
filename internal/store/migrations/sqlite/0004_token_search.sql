-- The organization's token table is searched, filtered and sorted at a million tokens.
-- Account identifiers and kinds never change, so tokens carry them: sorting and filtering
-- by account then needs no join.
ALTER TABLE tokens ADD COLUMN account_identifier TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN account_kind TEXT NOT NULL DEFAULT 'user';
UPDATE tokens SET account_identifier = (SELECT a.identifier FROM accounts a WHERE a.id = tokens.account_id),
                  account_kind = (SELECT a.kind FROM accounts a WHERE a.id = tokens.account_id);

-- One index per sort order and range filter, on live tokens only, each ending with seq so
-- that equal values page in a stable order.
CREATE INDEX tokens_live_created  ON tokens (created_at, seq) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_used     ON tokens (last_used_at, seq) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_activity ON tokens ((COALESCE(last_used_at, created_at)), seq) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_name     ON tokens (name, seq) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_account  ON tokens (account_identifier, seq) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_id       ON tokens (id, seq) WHERE revoked_at IS NULL;

CREATE TABLE saved_searches (
    id          TEXT    PRIMARY KEY,
    entity_type TEXT    NOT NULL,
    query       TEXT    NOT NULL,
    owner_id    INTEGER NOT NULL REFERENCES accounts (id),
    creator     TEXT    NOT NULL,
    updater     TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE INDEX saved_searches_by_owner ON saved_searches (owner_id, entity_type, created_at);
