-- Set-password links for new users: only the link secret's digest is stored; a link
-- works once (used_at), until expires_at.
CREATE TABLE invites (
    digest     BLOB     PRIMARY KEY,
    account_id INTEGER     NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX invites_by_account ON invites (account_id);
