-- Secrets (issue 15): the master key that seals every tenant's secrets is kept outside the
-- database (EXECGOV_MASTER_KEY_FILE); here only a check value, a known text sealed under it, so
-- that a server started with another key refuses to start instead of serving garbage. The
-- generation grows with each rotation: a server still holding the previous key refuses to seal
-- or open anything (its secret transactions read this row first).
CREATE TABLE master_key (
    id               smallint CONSTRAINT master_key_pkey PRIMARY KEY
                              CONSTRAINT master_key_single_row CHECK (id = 1),
    generation       integer NOT NULL CONSTRAINT master_key_generation_positive CHECK (generation >= 1),
    check_nonce      bytea NOT NULL CONSTRAINT master_key_check_nonce_length CHECK (length(check_nonce) = 24),
    check_ciphertext bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    rotated_at       timestamptz
);
