-- Every change that affects verification (a token generated or revoked, an account's
-- permissions, active state or deletion) appends a row here, in the transaction that makes
-- the change. Instances apply the rows they have not seen to their in-memory index.
CREATE TABLE changes (
    seq        INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    at         BIGINT  NOT NULL
);
