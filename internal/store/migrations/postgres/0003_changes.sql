-- Every change that affects verification (a token generated or revoked, an account's
-- permissions, active state or deletion) appends a row here, in the transaction that makes
-- the change. Instances apply the rows they have not seen to their in-memory index,
-- woken by NOTIFY tokenward_changes and by a short poll.
CREATE TABLE changes (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id BIGINT NOT NULL,
    at         BIGINT NOT NULL
);
