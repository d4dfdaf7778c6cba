-- Token rotation with overlap (issue "Token lifecycle", reference §13): a rotated token
-- keeps its record, name and cap slot and gets a new secret (digest); the secret it had
-- (previous_digest) keeps working until previous_until, epoch ms. A second rotation
-- replaces it, ending the first one's overlap.
ALTER TABLE tokens ADD COLUMN previous_digest BYTEA;
ALTER TABLE tokens ADD COLUMN previous_until BIGINT;
ALTER TABLE tokens ADD COLUMN rotated_at BIGINT;
-- Finds the token of a replaced secret (a verification without the index, a report of a
-- leaked secret) without scanning every token.
CREATE INDEX tokens_previous_digest ON tokens (previous_digest) WHERE previous_digest IS NOT NULL;
