-- What the console shows once after a form's redirect (a notice, a new token's secret),
-- sealed with a key only the session's cookie yields; gone with its session.
CREATE TABLE console_flashes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    session_digest BLOB    NOT NULL REFERENCES sessions (digest) ON DELETE CASCADE,
    sealed         BLOB    NOT NULL,
    expires_at     BIGINT  NOT NULL
);
CREATE INDEX console_flashes_by_session ON console_flashes (session_digest);
CREATE INDEX console_flashes_by_expiry ON console_flashes (expires_at);
