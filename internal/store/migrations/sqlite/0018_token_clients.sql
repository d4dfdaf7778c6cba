-- Where a token was used (issue 15 part 4, reference §14 recentClients): the last five
-- distinct clients, an (address, user agent) pair, of each token, with when each was last
-- seen (epoch ms). The verifier notes them in memory and the usage flush writes them, which
-- keeps the newest five per token. The address is 16 bytes (IPv4 as IPv4-mapped IPv6), so
-- that a CIDR search is a range of bytes that the address index serves, as on PostgreSQL.
CREATE TABLE token_clients (
    token_seq  INTEGER NOT NULL REFERENCES tokens (seq),
    address    BLOB    NOT NULL CHECK (length(address) = 16),
    user_agent TEXT    NOT NULL,
    last_seen  BIGINT  NOT NULL,
    PRIMARY KEY (token_seq, address, user_agent)
);
CREATE INDEX token_clients_by_address ON token_clients (address, token_seq);
