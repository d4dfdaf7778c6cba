-- Console sessions: the cookie holds a random secret; only its digest is stored, so a
-- copy of the database opens no session.
CREATE TABLE sessions (
    digest       BLOB    PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    created_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX sessions_by_account ON sessions (account_id);

ALTER TABLE accounts ADD COLUMN last_login_at BIGINT;

-- Serves the administrator check (at least one user account keeps user_management).
CREATE INDEX account_permissions_by_permission ON account_permissions (permission, account_id);
