-- The audit trail: every state change and every sign-in, written in the transaction of
-- the change. Tokens appear by public id; no secret is ever written here.
CREATE TABLE audit_events (
    id     INTEGER PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT   NOT NULL,
    source TEXT   NOT NULL,
    action TEXT   NOT NULL,
    target TEXT   NOT NULL,
    detail TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_time   ON audit_events (at, id);
CREATE INDEX audit_by_actor  ON audit_events (actor, at);
CREATE INDEX audit_by_target ON audit_events (target, at);
CREATE INDEX audit_by_action ON audit_events (action, at);
