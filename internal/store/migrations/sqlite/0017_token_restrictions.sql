-- Token restrictions (reference §14): the networks a token works from (allowed_cidrs:
-- normalized CIDRs, comma-separated; NULL: anywhere) and the permissions it carries
-- (permissions: names, comma-separated, '' for none; NULL: all of its account's, whatever
-- they become). The verification index reads both with the token.
ALTER TABLE tokens ADD COLUMN allowed_cidrs TEXT;
ALTER TABLE tokens ADD COLUMN permissions TEXT;
