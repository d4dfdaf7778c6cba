-- Scannable secrets (issue 15 part 1, reference §14): the format of new tokens' secrets,
-- 'uuid' (Wavefront's) or 'prefixed'. The organization has one format, kept on each of the
-- policy's rows; no rows: 'uuid'.
ALTER TABLE token_policy ADD COLUMN token_format TEXT NOT NULL DEFAULT 'uuid' CHECK (token_format IN ('uuid', 'prefixed'));
