-- The intelligent brain's conversations: kept per user, in the tenant's own schema.

CREATE TABLE conversations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id),
    title      text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_by_user ON conversations (user_id, updated_at DESC);

-- Files attached to a conversation, offered to the plans' file inputs. Kept in the database (one
-- name per conversation: attaching a name again replaces the file), at most 20 MiB each, as an
-- upload to a run may be.
CREATE TABLE conversation_attachments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    file_name       text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 200),
    size            bigint NOT NULL CHECK (size BETWEEN 0 AND 20971520),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content         bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, file_name)
);

-- One request and what came of it: the provider that answered, the recommendations shown (best
-- first, as shown), what the server refused of the provider's answer, the plan (the chosen skill
-- and its inputs as the form sends them, with the required ones still missing), and the execution
-- it became. The execution's own row records who confirmed it.
CREATE TABLE conversation_turns (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    request         text NOT NULL CHECK (length(request) BETWEEN 1 AND 4000),
    provider        text NOT NULL,
    recommendations jsonb NOT NULL DEFAULT '[]'::jsonb,
    refused         jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- Why there are no recommendations when the provider failed (shown to the user).
    note            text,
    plan            jsonb,
    chosen_slug     text,
    execution_id    bigint UNIQUE REFERENCES executions (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_turns_by_conversation ON conversation_turns (conversation_id, id);
