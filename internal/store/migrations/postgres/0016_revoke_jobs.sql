-- Bulk revocation jobs (reference §14): the live tokens a request names are snapshotted as
-- the job's items when it is created, so the set does not drift; a runner revokes them in
-- batches, in token_seq order, and next_seq records how far it got in the transaction of
-- each batch, so every item is handled exactly once whatever crashes. A runner holds a job
-- by its claim until lease_until (epoch ms); when the lease lapses another may take it.
CREATE TABLE revoke_jobs (
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    actor       TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    scope       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    finished_at BIGINT,
    total       BIGINT  NOT NULL DEFAULT 0,
    done        BIGINT  NOT NULL DEFAULT 0,
    failed      BIGINT  NOT NULL DEFAULT 0,
    next_seq    BIGINT  NOT NULL DEFAULT 0,
    claim       TEXT,
    lease_until BIGINT
);
-- The runners' search for work reads only the unfinished jobs.
CREATE INDEX revoke_jobs_unfinished ON revoke_jobs (seq) WHERE finished_at IS NULL;

-- failure says why an item could not be revoked (NULL: it was, or is still to be).
CREATE TABLE revoke_job_items (
    job_seq   BIGINT  NOT NULL REFERENCES revoke_jobs (seq),
    token_seq BIGINT  NOT NULL REFERENCES tokens (seq),
    failure   TEXT,
    PRIMARY KEY (job_seq, token_seq)
);
