-- Sign-in budgets (issue "Hostile input"): one row per key (a source address; an account,
-- for browsers it has not trusted; a trusted browser) holding the generic cell rate
-- algorithm's theoretical arrival time in microseconds. Every instance reserves from the
-- same row, in one statement, before a password is checked. A row whose time has passed is
-- a full budget and may be forgotten.
CREATE TABLE signin_budgets (
    name    TEXT    PRIMARY KEY,
    tat     BIGINT  NOT NULL,
    granted BOOLEAN NOT NULL
);
CREATE INDEX signin_budgets_by_tat ON signin_budgets (tat);

-- Browsers that signed in to an account: their cookie holds a random secret, this table
-- its digest. Failed sign-ins from a trusted browser spend that browser's own budget, not
-- the account's, so that a stranger's guesses cannot lock the account's owner out.
CREATE TABLE signin_devices (
    digest     BLOB   PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX signin_devices_by_account ON signin_devices (account_id);
