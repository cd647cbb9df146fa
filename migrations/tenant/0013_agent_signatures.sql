-- Agents sign every request with an Ed25519 machine key, and the labels an agent may serve are
-- fixed on its agent token by the admin who makes it.

-- The machine key's public half (64 hex digits). Agents registered before keep their key hash
-- until their next start with an up-to-date execgov-cli, which proves the old key once and
-- binds a public key; the hash is then cleared and plays no further part.
ALTER TABLE agents
    ADD COLUMN public_key text CONSTRAINT agents_public_key_check CHECK (public_key ~ '^[0-9a-f]{64}$'),
    ALTER COLUMN key_hash DROP NOT NULL,
    ADD CONSTRAINT agents_has_a_key CHECK (public_key IS NOT NULL OR key_hash IS NOT NULL);

-- An agent token's labels, and the machine it belongs to: the first to register with it. A
-- leaked token then enrols no other machine.
ALTER TABLE api_tokens
    ADD COLUMN labels text[] NOT NULL DEFAULT '{}',
    ADD COLUMN machine_id text;
-- Agent tokens made before: they allow the labels their agents had declared (recorded once, as
-- they are now) and belong to the first machine that registered with them; other machines that
-- registered with the same token keep it. An unused one allows no label: make a new token.
UPDATE api_tokens t SET
    labels = COALESCE((SELECT array_agg(DISTINCT l ORDER BY l)
                       FROM agents a CROSS JOIN LATERAL unnest(a.labels) AS l
                       WHERE a.token_id = t.id), '{}'),
    machine_id = (SELECT a.machine_id FROM agents a WHERE a.token_id = t.id ORDER BY a.id LIMIT 1)
WHERE kind = 'agent';
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_labels_of_agent_tokens
    CHECK (kind = 'agent' OR (labels = '{}' AND machine_id IS NULL));

-- Nonces of signed agent requests, kept while their timestamp could still pass: one seen again
-- is a replay. In the database, as every server process must see them.
CREATE TABLE agent_nonces (
    machine_id text NOT NULL,
    nonce      text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (machine_id, nonce)
);
