-- Local agents: skills that run on the tenant's own machines, and the machines that run them.

-- A version that runs on local agents names the label an agent must carry (asset kind 'agent');
-- NULL: the platform's workers run it. Example requests teach the intelligent brain.
ALTER TABLE skill_versions
    ADD COLUMN agent_label text CONSTRAINT skill_versions_agent_label_check CHECK (agent_label ~ '^[a-z0-9._-]{1,64}$'),
    ADD COLUMN examples text[] NOT NULL DEFAULT '{}';

-- One row per machine identity. An agent registers with an agent token (api_tokens.kind =
-- 'agent') and proves on every call that it holds the machine key made on its first start; only
-- the key's hash is kept.
CREATE TABLE agents (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    machine_id    text NOT NULL UNIQUE CHECK (machine_id ~ '^[0-9a-f]{32}$'),
    key_hash      text NOT NULL,
    token_id      bigint NOT NULL REFERENCES api_tokens (id),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
    hostname      text NOT NULL CHECK (length(hostname) <= 255),
    labels        text[] NOT NULL,
    version       text NOT NULL DEFAULT '',
    registered_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoked_by    text
);
