-- The cross-tenant dispatch index: which tenant's execution is waiting or running, and who holds
-- its lease. Only ids and timing live here; the execution itself stays in its tenant's schema.
CREATE TABLE execution_queue (
    tenant_id        bigint NOT NULL REFERENCES tenants (id),
    execution_id     bigint NOT NULL,
    state            text NOT NULL CHECK (state IN ('queued', 'running')),
    queued_at        timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    worker_id        text,
    lease_expires_at timestamptz,
    PRIMARY KEY (tenant_id, execution_id),
    CHECK ((state = 'running') = (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL))
);
CREATE INDEX execution_queue_waiting ON execution_queue (queued_at) WHERE state = 'queued';
CREATE INDEX execution_queue_leases ON execution_queue (lease_expires_at) WHERE state = 'running';
