-- Events and webhooks (reference §13). events is the outbox: one row per notice, written
-- in the transaction of the change it tells of, its payload the JSON sent as is.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    type        TEXT    NOT NULL,
    occurred_at BIGINT  NOT NULL,
    payload     TEXT    NOT NULL
);

-- secret is the signing key, needed in clear to sign; it is never returned after creation.
-- events holds the patterns, one per line.
CREATE TABLE webhooks (
    id         TEXT    PRIMARY KEY,
    url        TEXT    NOT NULL,
    events     TEXT    NOT NULL,
    active     BOOLEAN NOT NULL,
    secret     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- One event on its way to one webhook. A dispatcher claims a due pending delivery by
-- moving next_attempt_at past its lease and counting the claim in claims; an instance that
-- dies holding one leaves it due again when the lease ends.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT    NOT NULL REFERENCES events (id),
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    claims          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    retry_until     BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

-- The delivery log: each POST, its status code (0: no answer, see error), the start of the
-- answer and its duration.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    at          BIGINT  NOT NULL,
    duration_ms BIGINT  NOT NULL,
    status_code INTEGER NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    excerpt     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);
