-- Free-text search of the organization's token table (name, account, id, hint) looks up
-- candidates in a trigram index instead of reading every token; the store still applies
-- the exact LIKE condition to them, so the index only has to return a superset. It holds
-- live tokens only, and the triggers keep it in step with tokens in the same transaction.
-- detail=none keeps it small: a term becomes an AND of its trigrams (phrases need
-- positions), which is a superset of the substring match. The trigram tokenizer folds
-- case, so the index finds what a case-insensitive LIKE finds.
CREATE VIRTUAL TABLE tokens_text USING fts5(
    name, account_identifier, id, hint,
    content = 'tokens', content_rowid = 'seq', tokenize = 'trigram', detail = 'none', columnsize = 0);

INSERT INTO tokens_text (rowid, name, account_identifier, id, hint)
    SELECT seq, name, account_identifier, id, hint FROM tokens WHERE revoked_at IS NULL;

CREATE TRIGGER tokens_text_insert AFTER INSERT ON tokens WHEN new.revoked_at IS NULL BEGIN
    INSERT INTO tokens_text (rowid, name, account_identifier, id, hint)
        VALUES (new.seq, new.name, new.account_identifier, new.id, new.hint);
END;

-- A rename re-indexes the token; a revocation removes it. The 'delete' command must be
-- given the values that were indexed, which are the old row's.
CREATE TRIGGER tokens_text_update AFTER UPDATE OF name, account_identifier, id, hint, revoked_at ON tokens BEGIN
    INSERT INTO tokens_text (tokens_text, rowid, name, account_identifier, id, hint)
        SELECT 'delete', old.seq, old.name, old.account_identifier, old.id, old.hint WHERE old.revoked_at IS NULL;
    INSERT INTO tokens_text (rowid, name, account_identifier, id, hint)
        SELECT new.seq, new.name, new.account_identifier, new.id, new.hint WHERE new.revoked_at IS NULL;
END;

CREATE TRIGGER tokens_text_delete AFTER DELETE ON tokens WHEN old.revoked_at IS NULL BEGIN
    INSERT INTO tokens_text (tokens_text, rowid, name, account_identifier, id, hint)
        VALUES ('delete', old.seq, old.name, old.account_identifier, old.id, old.hint);
END;

-- The account-type filter (service accounts, users) with either time order: the count of
-- its matches reads one range of these, and the page walks them in order.
CREATE INDEX tokens_live_kind_created ON tokens (account_kind, created_at, seq) WHERE revoked_at IS NULL;
CREATE INDEX tokens_live_kind_used    ON tokens (account_kind, last_used_at, seq) WHERE revoked_at IS NULL;
