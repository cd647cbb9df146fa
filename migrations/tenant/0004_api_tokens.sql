-- Personal access tokens for the REST API and the CLI (and, later, agent tokens). Only a hash
-- is kept; the token itself is shown once, when it is created.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    kind         text NOT NULL CHECK (kind IN ('personal', 'agent')),
    token_hash   text NOT NULL UNIQUE,
    -- The first characters, so a user can tell their tokens apart.
    prefix       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, id DESC);
