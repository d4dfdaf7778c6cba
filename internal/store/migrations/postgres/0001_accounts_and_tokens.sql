-- Accounts: user accounts (email) and service accounts (sa::name). Deleted accounts stay,
-- marked, so that their revoked tokens keep an owner; an identifier is unique among the
-- live ones.
CREATE TABLE accounts (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identifier    TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('user', 'service')),
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    description   TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    deleted_at    BIGINT
);
CREATE UNIQUE INDEX accounts_live_identifier ON accounts (identifier) WHERE deleted_at IS NULL;

CREATE TABLE account_permissions (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    permission TEXT   NOT NULL,
    PRIMARY KEY (account_id, permission)
);

-- Tokens: the secret is stored only as its SHA-256 digest. seq orders tokens generated
-- within the same millisecond; id is the public identifier.
CREATE TABLE tokens (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    digest       BYTEA  NOT NULL UNIQUE,
    hint         TEXT   NOT NULL,
    name         TEXT   NOT NULL DEFAULT '',
    account_id   BIGINT NOT NULL REFERENCES accounts (id),
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
-- Serves the cap count and an account's token list without touching revoked rows.
CREATE INDEX tokens_live_by_account ON tokens (account_id, created_at, seq) WHERE revoked_at IS NULL;
