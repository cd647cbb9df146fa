-- Hot updates: script folders submitted by a tenant's admins, reviewed by the platform, then
-- synced into the tenant's managed workspace and registered in its schema. They live in `public`
-- because the review queue spans tenants; the owning tenant comes from the Host it was submitted
-- on and every tenant-side query filters by it.
CREATE TABLE skill_submissions (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id             bigint NOT NULL REFERENCES tenants (id),
    slug                  text NOT NULL,
    skill_name            text NOT NULL,
    kind                  text NOT NULL CHECK (kind IN ('python', 'shell')),
    content_hash          text NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    archive_name          text NOT NULL,
    scenario              text NOT NULL,
    -- What the submitter asked for.
    proposed_risk         text NOT NULL CHECK (proposed_risk IN ('low', 'medium', 'high')),
    ai_callable           boolean NOT NULL,
    manual_allowed        boolean NOT NULL,
    requires_confirmation boolean NOT NULL,
    -- What the reviewer decided (set on approval; the skill version is registered with these).
    risk                  text CHECK (risk IN ('low', 'medium', 'high')),
    approved_ai_callable  boolean,
    approved_manual       boolean,
    approved_confirmation boolean,
    status                text NOT NULL CHECK (status IN (
        'submitted', 'approved', 'rejected', 'synced', 'registered', 'live', 'failed')),
    failed_step           text,
    reason                text,
    submitted_by          text NOT NULL,
    reviewed_by           text,
    reviewed_at           timestamptz,
    version               integer,
    verification          jsonb,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'failed') = (failed_step IS NOT NULL))
);
CREATE INDEX skill_submissions_by_tenant ON skill_submissions (tenant_id, id DESC);
CREATE INDEX skill_submissions_pending ON skill_submissions (id) WHERE status = 'submitted';

-- The submitted files themselves, stored with the submission so that nothing accepted is lost
-- and the reviewer sees exactly what will be synced.
CREATE TABLE skill_submission_files (
    submission_id bigint NOT NULL REFERENCES skill_submissions (id),
    path          text NOT NULL,
    content       bytea NOT NULL,
    PRIMARY KEY (submission_id, path)
);

-- The submission's timeline: one row per step reached.
CREATE TABLE skill_submission_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    submission_id bigint NOT NULL REFERENCES skill_submissions (id),
    status        text NOT NULL,
    actor         text NOT NULL,
    note          text NOT NULL DEFAULT '',
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX skill_submission_events_by_submission ON skill_submission_events (submission_id, id);
