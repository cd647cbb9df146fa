-- Tenant secrets (issue 15): named values a tenant's admins store for their skills' runs, each
-- sealed with XChaCha20-Poly1305 under the platform's master key, its own random nonce, and the
-- tenant id and name as associated data (a ciphertext copied to another tenant or name does not
-- open). Only the last 4 characters are kept in clear, to tell values apart.
CREATE TABLE secrets (
    id         bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT secrets_pkey PRIMARY KEY,
    name       text NOT NULL CONSTRAINT secrets_name_format CHECK (name ~ '^[A-Z][A-Z0-9_]{0,63}$'),
    nonce      bytea NOT NULL CONSTRAINT secrets_nonce_length CHECK (length(nonce) = 24),
    ciphertext bytea NOT NULL CONSTRAINT secrets_ciphertext_sealed CHECK (length(ciphertext) > 16),
    last4      text NOT NULL CONSTRAINT secrets_last4_length CHECK (char_length(last4) BETWEEN 1 AND 4),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT secrets_name_unique UNIQUE (name)
);

-- The secrets a skill version's runs receive as environment variables, as its skill.toml names
-- them and the reviewer approved them.
ALTER TABLE skill_versions
    ADD COLUMN secrets text[] NOT NULL DEFAULT '{}';
