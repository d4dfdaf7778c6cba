-- Token expiry (issue "Token lifecycle", reference §13): when a token stops working, in
-- epoch milliseconds; NULL: never (Wavefront's behaviour).
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;

-- The organization's token lifetime policy, one row per account kind ('user', 'service');
-- a missing row or a NULL column: no such limit.
CREATE TABLE token_policy (
    kind                TEXT   PRIMARY KEY CHECK (kind IN ('user', 'service')),
    default_lifetime_ms BIGINT,
    max_lifetime_ms     BIGINT,
    updated_at          BIGINT NOT NULL,
    updated_by          TEXT   NOT NULL
);
