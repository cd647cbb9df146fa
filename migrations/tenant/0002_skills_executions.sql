-- Skills, the scripts they run, and their executions. Applied inside each tenant's schema.

-- What a skill runs: a script folder (python, shell), later an HTTP resource or a local agent.
CREATE TABLE assets (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('python', 'shell', 'http', 'agent')),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Immutable, content-addressed: the folder lives under the managed workspace by its hash.
CREATE TABLE asset_versions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id     bigint NOT NULL REFERENCES assets (id),
    content_hash text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (asset_id, content_hash)
);

-- A skill's identity; its definition is in its versions, and one of them is live.
CREATE TABLE skills (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug               text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,59}$'),
    asset_id           bigint NOT NULL REFERENCES assets (id),
    enabled            boolean NOT NULL DEFAULT true,
    current_version_id bigint,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE skill_versions (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    skill_id              bigint NOT NULL REFERENCES skills (id),
    version               integer NOT NULL CHECK (version >= 1),
    asset_version_id      bigint NOT NULL REFERENCES asset_versions (id),
    name                  text NOT NULL,
    description           text NOT NULL,
    output_description    text NOT NULL,
    input_schema          jsonb NOT NULL,
    risk                  text NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
    requires_confirmation boolean NOT NULL,
    ai_callable           boolean NOT NULL,
    manual_allowed        boolean NOT NULL,
    timeout_seconds       integer NOT NULL CHECK (timeout_seconds BETWEEN 1 AND 3600),
    readme                text NOT NULL,
    created_by            text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (skill_id, version)
);
ALTER TABLE skills ADD CONSTRAINT skills_current_version_id_fkey FOREIGN KEY (current_version_id) REFERENCES skill_versions (id);

-- Who may see and run a skill besides the tenant's admins: a role, or one user.
CREATE TABLE skill_grants (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    skill_id bigint NOT NULL REFERENCES skills (id),
    role     text CHECK (role IN ('admin', 'member')),
    user_id  bigint REFERENCES users (id),
    CHECK ((role IS NULL) <> (user_id IS NULL))
);
CREATE UNIQUE INDEX skill_grants_role ON skill_grants (skill_id, role) WHERE role IS NOT NULL;
CREATE UNIQUE INDEX skill_grants_user ON skill_grants (skill_id, user_id) WHERE user_id IS NOT NULL;

CREATE TABLE executions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    skill_id         bigint NOT NULL REFERENCES skills (id),
    skill_version_id bigint NOT NULL REFERENCES skill_versions (id),
    requested_by     bigint NOT NULL REFERENCES users (id),
    inputs           jsonb NOT NULL,
    inputs_digest    text NOT NULL,
    status           text NOT NULL CHECK (status IN (
        'awaiting_confirmation', 'queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled')),
    reason           text,
    confirmed_by     bigint REFERENCES users (id),
    confirmed_at     timestamptz,
    cancelled_by     bigint REFERENCES users (id),
    attempts         integer NOT NULL DEFAULT 0,
    exit_code        integer,
    result           text,  -- result.json as the script wrote it (column order kept)
    stdout_truncated boolean NOT NULL DEFAULT false,
    stderr_truncated boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX executions_recent ON executions (created_at DESC);
CREATE INDEX executions_by_user ON executions (requested_by, created_at DESC);

CREATE TABLE execution_logs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id bigint NOT NULL REFERENCES executions (id),
    at           timestamptz NOT NULL DEFAULT now(),
    stream       text NOT NULL CHECK (stream IN ('stdout', 'stderr', 'system')),
    line         text NOT NULL
);
CREATE INDEX execution_logs_by_execution ON execution_logs (execution_id, id);

CREATE TABLE artifacts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id bigint NOT NULL REFERENCES executions (id),
    path         text NOT NULL,
    size         bigint NOT NULL CHECK (size >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (execution_id, path)
);
